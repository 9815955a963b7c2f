#!/bin/bash
# Nothing lost however a Prometheus job ends: its time limit (with and without
# Slurm's warning), scancel, a stop while it is pending, a Ctrl-C during start;
# and a session started again keeps every job's data, collected across jobs.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus load-target; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done

LT_PORT=$(free_port 19710)
PROM_PORT=$(free_port 19720)
sess="$BENCHMON_HOME/sessions/ends"
test_cleanup 'BENCHMON_SESSION=ends benchmon delete --force; BENCHMON_SESSION=a benchmon delete --force; BENCHMON_SESSION=a.b benchmon delete --force; scontrol update PartitionName=debug State=UP'

job_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["job_id"])' "$sess/run.json"; }
job_state() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
# kpi FILE KPI: the session-wide value of KPI in kpis.csv
kpi() { awk -F, -v k="$2" '$1 == k && $2 == "session" { print $3 }' "$1"; }

test_expect_success 'setup: a load target scraped by a Slurm session' '
	load-target --listen "127.0.0.1:$LT_PORT" --service web 2>lt.log &
	test_cleanup "kill $!"
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id ends --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 1s >/dev/null &&
	benchmon client-connect --session ends --client-id c1 --node "$(hostname)" &&
	benchmon service-register --session ends --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics"
'

test_expect_success 'start says when the TSDB is saved before the time limit, and asks Slurm for the warning' '
	benchmon start --session ends --time-limit 3 --save-before-limit 150s --wait 120 2>err &&
	cat err &&
	grep -q "saves its TSDB and ends when Slurm warns it, 150s before the limit" err &&
	grep -q "KillWait=15s" err &&
	job=$(job_of) && echo "$job" >job1 &&
	scontrol show job "$job" >job.txt &&
	grep -q "TimeLimit=00:03:00" job.txt &&
	wait_for 30 "benchmon status --session ends --json | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" &&
	date +%s >load-from &&
	for i in $(seq 1 20); do curl -sf "http://127.0.0.1:$LT_PORT/" -o /dev/null; done
'

test_expect_success 'Slurm warns the job before its limit: it saves its TSDB and ends, and status says where' '
	job=$(cat job1) &&
	wait_for 150 "[ \"\$(job_state $job)\" = COMPLETED ]" &&
	grep -q "time limit near" "$sess/logs/prometheus-$job.out" &&
	test_path_is_dir "$sess/tsdb/$job/wal" &&
	benchmon status --session ends >st.txt &&
	cat st.txt &&
	grep -q "^state       stopped" st.txt &&
	grep -q "job $job ended (COMPLETED); its TSDB was saved in $sess/tsdb/$job" st.txt &&
	grep -q "^saved tsdb  1 job, .* in $sess/tsdb" st.txt &&
	date +%s >load-to
'

test_expect_success 'the data of a job that ended by itself is collected' '
	benchmon collect --session ends --from-iso "$(cat load-from)" --to-iso "$(($(cat load-from) + 5))" \
		--out first >out 2>err &&
	cat err &&
	grep -q "\"source\":[[:space:]]*\"tsdb_copy\"" first/MANIFEST.json &&
	grep -q "^throughput_qps,session,.*,ok,interpolated$" first/kpis.csv
'

test_expect_success 'a job ended by its time limit without a warning saves its TSDB at SIGTERM, within KillWait' '
	benchmon start --session ends --time-limit 1 --wait 120 2>err &&
	grep -q "at the limit Slurm sends SIGTERM and the job saves its TSDB before SIGKILL follows KillWait=15s later" err &&
	job=$(job_of) && echo "$job" >job2 &&
	grep -q "\"job_id\":[[:space:]]*\"$(cat job1)\"" "$sess/run.json" &&
	wait_for 150 "[ \"\$(job_state $job)\" = TIMEOUT ]" &&
	test_path_is_dir "$sess/tsdb/$job/wal" &&
	test_path_is_dir "$sess/tsdb/$(cat job1)/wal" &&
	benchmon status --session ends --json >st.json &&
	python3 - "$job" "$sess" <<-\PY
	import json, sys
	job, sess = sys.argv[1], sys.argv[2]
	d = json.load(open("st.json"))
	assert d["state"] == "stopped", d
	assert d["job_state"] == "TIMEOUT", d
	assert d["tsdb_copy"] == sess + "/tsdb/" + job, d
	assert len(d["tsdb_saves"]) == 2 and d["tsdb_bytes"] > 0, d
	PY
'

test_expect_success 'stop records the time-limited job, and the history keeps both jobs' '
	benchmon stop --session ends 2>err &&
	grep -q "its TSDB was saved" err &&
	python3 - "$(cat job1)" "$(cat job2)" "$sess" <<-\PY
	import json, sys
	j1, j2, sess = sys.argv[1:]
	r = json.load(open(sess + "/run.json"))
	assert r["state"] == "stopped" and r["job_id"] == j2 and r["tsdb_copy"] == sess + "/tsdb/" + j2, r
	assert [h["job_id"] for h in r["history"]] == [j1], r
	assert r["history"][0]["tsdb_copy"] == sess + "/tsdb/" + j1, r
	PY
'

test_expect_success 'start, stop, start, stop: the first window is still collected' '
	benchmon start --session ends --wait 120 &&
	wait_for 30 "benchmon status --session ends --json | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" &&
	date +%s >w3-from && sleep 3 && date +%s >w3-to &&
	benchmon stop --session ends &&
	benchmon collect --session ends --from-iso "$(cat load-from)" --to-iso "$(($(cat load-from) + 5))" --out again &&
	test_cmp <(kpi first/kpis.csv throughput_qps) <(kpi again/kpis.csv throughput_qps) &&
	ls -d "$sess"/tsdb/*/wal | wc -l | grep -qx 3
'

test_expect_success 'a window across jobs is computed over all of them, with a finding for the gap' '
	benchmon collect --session ends --from-iso "$(cat load-from)" --to-iso "$(cat w3-to)" --out across 2>err &&
	cat err &&
	grep -q "merging them" err &&
	python3 - <<-\PY
	import json
	m = json.load(open("across/MANIFEST.json"))
	assert m["prometheus"]["source"] == "merged", m["prometheus"]
	assert len(m["prometheus"]["jobs"]) == 3, m["prometheus"]
	gaps = [f for f in m["findings"] if f["kind"] == "not_monitored"]
	assert gaps and "no Prometheus of session" in gaps[0]["message"], m["findings"]
	PY
	[ -z "$(pgrep -f -- "benchmon-collect-")" ]
'

test_expect_success 'stop of a pending job cancels it (a concurrent start then fails cleanly)' '
	scontrol update PartitionName=debug State=DOWN &&
	{ benchmon start --session ends --wait 60 >start.out 2>start.err & } &&
	wait_for 20 "grep -q pending start.err" &&
	job=$(job_of) &&
	benchmon stop --session ends 2>err &&
	cat err &&
	grep -q "job $job was still pending: cancelled it" err &&
	wait_for 30 "! kill -0 $! 2>/dev/null" &&
	[ -z "$(squeue --noheader --jobs "$job" 2>/dev/null)" ] || [ "$(job_state "$job")" = CANCELLED ] &&
	grep -q "\"state\":[[:space:]]*\"stopped\"" "$sess/run.json" &&
	scontrol update PartitionName=debug State=UP
'

test_expect_success 'Ctrl-C during start cancels the job it submitted; start and delete work afterwards' '
	scontrol update PartitionName=debug State=DOWN
	benchmon start --session ends --wait 60 >start2.out 2>start2.err &
	pid=$!
	wait_for 20 "grep -q pending start2.err" &&
	job=$(job_of) &&
	kill -INT $pid &&
	{ wait $pid; echo $? >code; } ;
	cat start2.err &&
	[ "$(cat code)" = 130 ] &&
	grep -q "interrupted by INT; job $job was cancelled" start2.err &&
	[ "$(job_state "$job")" = CANCELLED ] &&
	scontrol update PartitionName=debug State=UP &&
	benchmon start --session ends --wait 120 &&
	benchmon delete --session ends --force &&
	test_path_is_missing "$sess"
'

test_expect_success 'a job of session a.b is never taken for session a'"'"'s' '
	benchmon session-create --run-id a --listen 127.0.0.1 --port "$PROM_PORT" >/dev/null &&
	benchmon session-create --run-id a.b --listen 127.0.0.1 --port "$PROM_PORT" >/dev/null &&
	benchmon start --session a.b --wait 120 &&
	job=$(sed -n "s/.*\"job_id\":[[:space:]]*\"\([0-9]*\)\".*/\1/p" "$BENCHMON_HOME/sessions/a.b/run.json") &&
	printf "{\"generation\":1,\"state\":\"running\",\"job_id\":\"%s\"}\n" "$job" >"$BENCHMON_HOME/sessions/a/run.json" &&
	benchmon stop --session a 2>err; cat err;
	[ "$(job_state "$job")" = RUNNING ] &&
	benchmon stop --session a.b
'

test_done
