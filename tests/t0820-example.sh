#!/bin/bash
# examples/benchmark-job.sbatch runs as a real batch job on the one-node cluster.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus prometheus-node-exporter wrk load-target curl; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
NE_PORT=$(free_port 19680)
SVC_PORT=$(free_port $((NE_PORT + 1)))
PROM_PORT=$(free_port 19690)
test_cleanup "pkill -f -- '--web.listen-address=0.0.0.0:$NE_PORT'; pkill -f -- 'load-target --listen 0.0.0.0:$SVC_PORT'"

test_expect_success 'the example job runs to completion under Slurm' '
	NODE_EXPORTER_PORT=$NE_PORT SERVICE_PORT=$SVC_PORT OUT="$TEST_DIR/results" \
	BENCH_CMD="wrk -t1 -c8 -d8s http://127.0.0.1:$SVC_PORT/" \
	BENCHMON_SESSION_FLAGS="--listen 127.0.0.1 --port $PROM_PORT" \
		sbatch --wait --export=ALL --output="$TEST_DIR/job.out" --chdir="$TEST_DIR" \
		"$SRC_DIR/examples/benchmark-job.sbatch" >submit.out;
	status=$?
	cat "$TEST_DIR/job.out"
	[ "$status" = 0 ]
'

test_expect_success 'it registered the exporter and the service from its job steps' '
	grep -q "client .$(hostname -s). on node $(hostname -s) connected" job.out &&
	grep -q "service .web. of client" job.out
'

test_expect_success 'benchmon run collected the benchmark window' '
	test_path_is_file results/MANIFEST.json && test_path_is_file results/window.json &&
	grep -q "^Requests/sec:" job.out &&
	[ "$(awk -F, "\$1 == \"throughput_qps\" && \$2 == \"session\" { print \$8 }" results/kpis.csv)" = ok ] &&
	[ "$(awk -F, "\$1 == \"cpu_util_avg_pct\" && \$2 == \"session\" { print \$8 }" results/kpis.csv)" = ok ]
'

test_expect_success 'Prometheus was stopped with its TSDB kept, and nothing is left running' '
	job=$(sed -n "s/^Submitted batch job //p" submit.out) &&
	session="$BENCHMON_HOME/sessions/bench-$job" &&
	ls -d "$session"/tsdb/*/wal >saves && [ "$(wc -l <saves)" = 1 ] &&
	grep -q "\"state\":[[:space:]]*\"stopped\"" "$session/run.json" &&
	wait_for 20 "[ -z \"\$(squeue --noheader --states PENDING,RUNNING)\" ]" &&
	wait_for 20 "! pgrep -f -- \"--web.listen-address=0.0.0.0:$NE_PORT\" >/dev/null"
'

test_done
