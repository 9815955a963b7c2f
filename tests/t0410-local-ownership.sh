#!/bin/bash
# The local launcher only ever touches its own job, and an interrupted collect
# leaves nothing behind: pids and process groups that are no longer ours,
# a session seen from another host, Slurm options it cannot honour, and a
# collect stopped by Ctrl-C or kill -9 while it serves a saved TSDB.
. "$(dirname "$0")/lib.sh"

for bin in prometheus prometheus-node-exporter; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done

NE_PORT=$(free_port 19810)
PROM_PORT=$(free_port 19820)
sess="$BENCHMON_HOME/sessions/own"
# collect's temporary Prometheus and its copies go here, and nowhere else
CTMP="$TEST_DIR/collect-tmp"
mkdir -p "$CTMP"
test_cleanup 'BENCHMON_SESSION=own benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"; pkill -f -- "$CTMP/benchmon-collect-"'

# a Prometheus that takes 3 s to start, so collect can be interrupted while it waits, whatever the machine's speed
printf '#!/bin/sh\nsleep 3\nexec prometheus "$@"\n' >"$TEST_DIR/slow-prometheus"
chmod +x "$TEST_DIR/slow-prometheus"

# collect_prometheus: pids of temporary Prometheus processes collect started under our TMPDIR
collect_prometheus() { pgrep -f -- "--storage.tsdb.path=$CTMP/benchmon-collect-" || :; }

test_expect_success 'setup: a local session' '
	start_node_exporter "$NE_PORT" &&
	benchmon session-create --run-id own --launcher local --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session own --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT"
'

test_expect_success 'Slurm options are refused by the local launcher, and nothing changes' '
	snapshot "$BENCHMON_HOME" >before &&
	for opt in "--partition gpu" "--account proj" "--time-limit 10" ; do
		test_expect_code 1 benchmon start --session own $opt 2>err &&
		grep -q -- "${opt%% *} applies to the Slurm launcher" err || return 1
	done &&
	snapshot "$BENCHMON_HOME" >after &&
	test_cmp before after
'

test_expect_success 'a process group that is no longer the job'"'"'s is never killed' '
	setsid sleep 300 &
	stranger=$! &&
	test_cleanup "kill $stranger" &&
	printf "{\"generation\":1,\"state\":\"running\",\"job_id\":\"%s@%s\"}\n" "$stranger" "$(hostname)" >"$sess/run.json" &&
	benchmon delete --session own --force 2>err || :
	kill -0 "$stranger" &&
	benchmon session-create --run-id own --launcher local --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session own --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT"
'

test_expect_success 'a local job of another host is not judged from here, and status writes nothing' '
	printf "{\"generation\":1,\"state\":\"running\",\"job_id\":\"4242@another-host\"}\n" >"$sess/run.json" &&
	cp "$sess/run.json" run-before &&
	test_expect_code 1 benchmon status --session own >st.txt 2>&1 &&
	cat st.txt &&
	grep -q "local job 4242@another-host runs on host .another-host." st.txt &&
	test_cmp run-before "$sess/run.json" &&
	test_expect_code 1 benchmon stop --session own 2>err &&
	grep -q "another-host" err &&
	test_cmp run-before "$sess/run.json" &&
	rm "$sess/run.json"
'

test_expect_success 'a run that gathered data, then stop' '
	benchmon start --session own --wait 60 &&
	wait_for 30 "benchmon status --session own --json | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" &&
	date +%s >from && sleep 6 && date +%s >to &&
	benchmon stop --session own
'

test_expect_success 'Ctrl-C during collect leaves no temporary Prometheus and no copy' '
	TMPDIR="$CTMP" BENCHMON_PROMETHEUS="$TEST_DIR/slow-prometheus" benchmon collect --session own \
		--from-iso "$(cat from)" --to-iso "$(cat to)" --out c1 >out 2>err &
	pid=$! &&
	wait_for 30 "[ -n \"\$(collect_prometheus)\" ]" &&
	kill -INT $pid &&
	wait_for 30 "! kill -0 $pid 2>/dev/null" &&
	wait_for 30 "[ -z \"\$(collect_prometheus)\" ]" &&
	wait_for 10 "[ -z \"\$(ls -A \"$CTMP\")\" ]"
'

test_expect_success 'kill -9 of collect leaves no temporary Prometheus and no copy either' '
	TMPDIR="$CTMP" BENCHMON_PROMETHEUS="$TEST_DIR/slow-prometheus" benchmon collect --session own \
		--from-iso "$(cat from)" --to-iso "$(cat to)" --out c2 >out 2>err &
	pid=$! &&
	wait_for 30 "[ -n \"\$(collect_prometheus)\" ]" &&
	kill -9 $pid &&
	wait_for 30 "[ -z \"\$(collect_prometheus)\" ]" &&
	wait_for 10 "[ -z \"\$(ls -A \"$CTMP\")\" ]"
'

test_expect_success 'an uninterrupted collect of the saved data still works and cleans up' '
	TMPDIR="$CTMP" benchmon collect --session own --from-iso "$(cat from)" --to-iso "$(cat to)" --out c3 >out &&
	grep -q "\"source\":[[:space:]]*\"tsdb_copy\"" c3/MANIFEST.json &&
	[ -z "$(collect_prometheus)" ] && [ -z "$(ls -A "$CTMP")" ]
'

test_done
