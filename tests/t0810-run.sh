#!/bin/bash
# benchmon run: wraps a benchmark command, collects exactly its window, passes its status through.
. "$(dirname "$0")/lib.sh"

for bin in prometheus wrk load-target; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 19660)
PROM_PORT=$(free_port 19670)
sess="$BENCHMON_HOME/sessions/r1"
test_cleanup 'BENCHMON_SESSION=r1 benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=r1

test_expect_success 'setup: a load target and a running session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 2:1 --service web 2>lt.log &
	test_cleanup "kill $!"
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id r1 --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon client-connect --client-id c1 --node "$(hostname)" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --wait 60 &&
	wait_for 30 "benchmon status --json | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" && sleep 1
'

test_expect_success 'run passes the command output through and collects its window' '
	benchmon run --run-id w1 --out out -- wrk -t1 -c4 -d5s "http://127.0.0.1:$LT_PORT/" >stdout 2>stderr &&
	grep -q "^Requests/sec:" stdout &&
	grep -q "^throughput_qps  *session" stdout &&
	test_path_is_file out/window.json && test_path_is_file out/MANIFEST.json &&
	grep -q "\"command\":" out/window.json && grep -q "\"wrk\"" out/window.json &&
	[ "$(awk -F, "\$1 == \"throughput_qps\" && \$2 == \"session\" { print \$8 }" out/kpis.csv)" = ok ]
'

test_expect_success 'the window is the command'"'"'s run' '
	python3 - <<-\PY
	import json, datetime
	w = json.load(open("out/window.json"))
	t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
	span = t(w["to"]) - t(w["from"])
	assert 4.9 < span < 6.5, span
	assert w["from"] == w["started"] and w["to"] == w["ended"], w
	assert w["exit_status"] == 0 and w["interrupted_by"] is None, w
	PY
'

test_expect_success 'collect --window redoes the same numbers' '
	benchmon collect --window out/window.json --out redo >/dev/null &&
	test_cmp out/kpis.csv redo/kpis.csv
'

test_expect_success 'warm-up and cool-down shape the window' '
	benchmon run --run-id w2 --out out2 --warmup 1s --cooldown 1s -- sleep 3 >/dev/null 2>&1;
	python3 - <<-\PY
	import json, datetime
	w = json.load(open("out2/window.json"))
	t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
	assert abs(t(w["from"]) - t(w["started"]) - 1) < 0.01, w
	assert abs(t(w["to"]) - t(w["ended"]) - 1) < 0.01, w
	PY
'

test_expect_success 'the command'"'"'s exit status is passed through, after collecting' '
	test_expect_code 3 benchmon run --run-id w3 --out out3 -- sh -c "sleep 2; exit 3" >/dev/null 2>&1 &&
	test_path_is_file out3/MANIFEST.json
'

# under valgrind the forked child that fails to exec exits with valgrind's own error code
test_expect_success 'a command that cannot run is exit 127' '
	test_expect_code "$([ "${VALGRIND:-}" = 1 ] && echo 99 || echo 127)" benchmon run --out out4 -- /nonexistent/bench 2>err &&
	grep -q "cannot run ./nonexistent/bench." err
'

test_expect_success 'a warm-up longer than the run is an error' '
	test_expect_code 1 benchmon run --out out5 --warmup 10s -- true 2>err &&
	grep -q "no window to collect" err
'

test_expect_success '--strict fails a successful run that has findings' '
	test_expect_code 1 benchmon run --out out6 --strict -- sleep 2 >/dev/null 2>err &&
	grep -q "strict" err
'

test_expect_success 'SIGTERM (scancel) still collects what ran, and says so' '
	benchmon run --run-id w7 --out out7 -- sleep 60 >stdout7 2>stderr7 &
	pid=$! &&
	sleep 3 && kill -TERM "$pid" &&
	{ wait "$pid"; status=$?; } ;
	cat stderr7 &&
	[ "$status" = 143 ] &&
	grep -q "interrupted by SIGTERM: collecting the" stderr7 &&
	grep -q "\"interrupted_by\":[[:space:]]*\"SIGTERM\"" out7/window.json &&
	test_path_is_file out7/MANIFEST.json
'

test_expect_success 'inside a Slurm job the run id comes from SLURM_JOB_ID and SLURM_STEP_ID' '
	SLURM_JOB_ID=4242 SLURM_STEP_ID=3 benchmon run -- sleep 2 >/dev/null 2>&1 &&
	test_path_is_file benchmon-results/4242.3/MANIFEST.json &&
	grep -q "\"run_id\":[[:space:]]*\"4242.3\"" benchmon-results/4242.3/MANIFEST.json
'

# count-sigint: a benchmark that counts the SIGINTs it gets, then ends 1 s after the first
test_expect_success 'setup: a benchmark that counts its SIGINTs' '
	cat >count-sigint <<-\PY &&
	#!/usr/bin/env python3
	import os, signal, sys, time
	got = []
	def on_int(sig, frame):
	    got.append(1)
	    open("sigint-count.tmp", "w").write("%d\n" % len(got))
	    os.rename("sigint-count.tmp", "sigint-count")
	signal.signal(signal.SIGINT, on_int)
	open("child-pid", "w").write("%d\n" % os.getpid())
	while not got:
	    time.sleep(0.05)
	time.sleep(1)
	open("child-done", "w").close()
	PY
	chmod +x count-sigint
'

test_expect_success 'a Ctrl-C at a terminal reaches the benchmark once, and what ran is collected' '
	rm -f sigint-count child-pid child-done &&
	{ wait_for 30 test -s child-pid && printf "\\003" && wait_for 30 test -e child-done && sleep 2; } |
		script -qfec "exec benchmon run --run-id w8 --out out8 -- ./count-sigint" /dev/null >script8.out 2>&1 &&
	echo 1 >expect &&
	test_cmp expect sigint-count &&
	grep -q "interrupted by SIGINT" script8.out &&
	grep -q "\"interrupted_by\":[[:space:]]*\"SIGINT\"" out8/window.json &&
	test_path_is_file out8/MANIFEST.json
'

test_expect_success 'a kill of benchmon alone is passed on to the benchmark' '
	rm -f sigint-count child-pid child-done &&
	{ benchmon run --run-id w9 --out out9 -- setsid -w ./count-sigint >/dev/null 2>err9 & } &&
	pid=$! && wait_for 30 test -s child-pid &&
	kill -INT "$pid" &&
	wait "$pid" &&
	echo 1 >expect &&
	test_cmp expect sigint-count &&
	test_path_is_file out9/MANIFEST.json
'

test_expect_success 'a signal after the benchmark ended interrupts benchmon at once' '
	rm -f child-done &&
	{ benchmon run --run-id w10 --out out10 --cooldown 60s -- sh -c "echo \$\$ >child-pid; touch child-done" >/dev/null 2>err10 & } &&
	pid=$! && wait_for 30 test -e child-done &&
	wait_for 30 "! test -e /proc/$(cat child-pid)" && sleep 1 &&
	kill -TERM "$pid" &&
	{ wait "$pid"; status=$?; } ;
	[ "$status" = 143 ] &&
	test ! -e out10/MANIFEST.json
'

test_expect_success 'run on a session that is not running refuses before the benchmark runs' '
	benchmon session-create --run-id idle --launcher local &&
	test_expect_code 1 benchmon run --session idle --out out11 -- touch ran11 2>err &&
	grep -q "session .idle. is not running (created); start it with .benchmon start --session idle." err &&
	test ! -e ran11 && test ! -e out11
'

test_expect_success 'run refuses a session whose Prometheus ended unseen, before the benchmark runs' '
	dead="$BENCHMON_HOME/sessions/dead" &&
	benchmon session-create --run-id dead --launcher local --listen 127.0.0.1 --port "$(free_port $((PROM_PORT + 5)))" &&
	test_cleanup "BENCHMON_SESSION=dead benchmon delete --force; pkill -f -- \"--config.file=$dead/prometheus.yml\"" &&
	benchmon start --session dead --wait 60 2>/dev/null &&
	pkill -9 -f -- "--config.file=$dead/prometheus.yml" &&
	wait_for 20 "! pgrep -f -- \"--config.file=$dead/prometheus.yml\" >/dev/null" &&
	grep -q "\"state\":[[:space:]]*\"running\"" "$dead/run.json" &&
	test_expect_code 1 benchmon run --session dead --out out13 -- touch ran13 2>err &&
	cat err &&
	grep -q "the Prometheus of session .dead. at http://127.0.0.1:[0-9]* does not answer (.*): its job may have ended" err &&
	test ! -e ran13 && test ! -e out13
'

test_expect_success 'two runs in one job each get their own directory, even started at once' '
	SLURM_JOB_ID=4343 benchmon run -- sleep 2 >/dev/null 2>&1 &&
	{ SLURM_JOB_ID=4343 benchmon run -- sleep 2 >/dev/null 2>err12a & } && a=$! &&
	{ SLURM_JOB_ID=4343 benchmon run -- sleep 2 >/dev/null 2>err12b & } && b=$! &&
	wait $a && wait $b &&
	for d in 4343 4343-2 4343-3; do
		test_path_is_file benchmon-results/$d/MANIFEST.json &&
		grep -q "\"run_id\":[[:space:]]*\"$d\"" benchmon-results/$d/MANIFEST.json || exit 1
	done &&
	test_path_is_missing benchmon-results/4343-4
'

test_expect_success 'an --out holding an earlier run is not replaced without --force' '
	snapshot out >before &&
	test_expect_code 1 benchmon run --out out -- touch ran13 2>err &&
	grep -q "out. holds the artifacts of an earlier run" err &&
	test ! -e ran13 &&
	snapshot out >after && test_cmp before after &&
	mkdir -p empty-out &&
	benchmon run --out empty-out -- sleep 2 >/dev/null 2>&1 &&
	test_path_is_file empty-out/MANIFEST.json &&
	benchmon run --out out3 --force -- sleep 2 >/dev/null 2>&1 &&
	grep -q "\"exit_status\":[[:space:]]*0" out3/window.json
'

test_expect_success 'an empty --out is refused' '
	test_expect_code 2 benchmon run --out "" -- touch ran14 2>err &&
	grep -q "out" err && test ! -e ran14
'

test_expect_success 'start refuses an overflowing --time-limit before anything happens' '
	benchmon session-create --run-id tl --launcher slurm --port "$PROM_PORT" >/dev/null &&
	snapshot "$BENCHMON_HOME/sessions/tl" >before &&
	test_expect_code 2 benchmon start --session tl --dry-run --time-limit 5124095576030432:00:00 2>err &&
	grep -q "time-limit: time limit .5124095576030432:00:00. is over a year" err &&
	test_expect_code 2 benchmon start --session tl --dry-run --time-limit -5 2>err &&
	grep -q "invalid time limit" err &&
	snapshot "$BENCHMON_HOME/sessions/tl" >after &&
	test_cmp before after
'

test_expect_success 'no command is a usage error' '
	test_expect_code 2 benchmon run --out x 2>err && grep -q "no command" err
'

test_done
