#!/bin/bash
# The Slurm launcher: the whole lifecycle on a real one-node cluster, through libslurm.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"

test_expect_success 'the launcher defaults to slurm when a configuration is found' '
	benchmon session-create --run-id dflt >/dev/null &&
	grep -q "\"launcher\":[[:space:]]*\"slurm\"" "$BENCHMON_HOME/sessions/dflt/session.json" &&
	benchmon delete --session dflt
'

LAUNCHER=slurm
. "$SRC_DIR/tests/lifecycle.sh"

job_of() {
	benchmon status --session life --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"job_id\"])"
}

test_expect_success 'Prometheus really runs as a Slurm batch job' '
	benchmon session-create --run-id life --launcher slurm --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session life --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT" &&
	benchmon start --session life --time-limit 00:10:00 --wait 120 &&
	job=$(job_of) &&
	squeue --noheader --jobs "$job" --format "%T %j" >sq &&
	cat sq && grep -q "^RUNNING benchmon-life" sq &&
	scontrol show job "$job" >job.txt &&
	grep -q "TimeLimit=00:10:00" job.txt &&
	grep -q "StdOut=$sess/logs/prometheus-$job.out" job.txt
'

test_expect_success 'stop ends the Slurm job and keeps the TSDB copy' '
	job=$(job_of) &&
	benchmon stop --session life &&
	[ -z "$(squeue --noheader --jobs "$job" --states PENDING,RUNNING 2>/dev/null)" ] &&
	scontrol show job "$job" | grep -q "JobState=COMPLETED" &&
	test_path_is_dir "$sess/tsdb/$job/wal" &&
	[ -z "$(prometheus_pids)" ]
'

test_expect_success 'a job cancelled outside benchmon saves its TSDB, and status says where' '
	benchmon start --session life --wait 120 &&
	job=$(job_of) &&
	scancel "$job" &&
	wait_for 30 "benchmon status --session life 2>&1 | grep -q \"job $job ended (CANCELLED); its TSDB was saved in $sess/tsdb/$job\"" &&
	benchmon status --session life --json | grep -q "\"state\":[[:space:]]*\"stopped\"" &&
	test_path_is_dir "$sess/tsdb/$job/wal" &&
	wait_for 20 "[ -z \"\$(prometheus_pids)\" ]" &&
	benchmon start --session life --wait 120 &&
	benchmon stop --session life
'

test_expect_success 'an unknown partition is refused with Slurm'"'"'s reason' '
	test_expect_code 1 benchmon start --session life --partition nosuch 2>err &&
	cat err && grep -qi "partition" err
'

test_expect_success 'a job that stays pending fails at --wait with the pending reason, and is cancelled' '
	scontrol update PartitionName=debug State=DOWN &&
	test_cleanup "scontrol update PartitionName=debug State=UP" &&
	test_expect_code 1 benchmon start --session life --wait 5 2>err;
	scontrol update PartitionName=debug State=UP;
	cat err &&
	grep -q "pending (PartitionDown)" err &&
	grep -q "still pending (PartitionDown) when --wait expired" err &&
	[ -z "$(squeue --noheader --name "benchmon-life" --states PENDING,RUNNING 2>/dev/null)" ] &&
	benchmon start --session life --wait 120 &&
	benchmon stop --session life
'

test_expect_success 'an invalid time limit is named, as bad input (exit 2)' '
	test_expect_code 2 benchmon start --session life --time-limit "12:xx" 2>err &&
	grep -q "invalid time limit .12:xx." err
'

test_done
