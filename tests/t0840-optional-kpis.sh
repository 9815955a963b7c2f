#!/bin/bash
# A CPU-only session (node_exporter and a service, no DCGM exporter): the GPU KPIs
# do not apply, --strict passes, optional KPIs, findings that read well, one
# --json shape across commands, and what a run's MANIFEST.json records.
. "$(dirname "$0")/lib.sh"

for bin in prometheus prometheus-node-exporter wrk load-target python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 19860)
NE_PORT=$(free_port $((LT_PORT + 1)))
DEAD_PORT=$(free_port $((NE_PORT + 1)))
PROM_PORT=$(free_port 19870)
export DEAD_PORT
sess="$BENCHMON_HOME/sessions/cpu"
test_cleanup 'BENCHMON_SESSION=cpu benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=cpu

# field FILE KPI [SCOPE] [COLUMN]: a column of kpis.csv (3 = value, 8 = status)
field() {
	awk -F, -v k="$2" -v s="${3:-session}" -v c="${4:-3}" '$1 == k && $2 == s { print $c }' "$1"
}

test_expect_success 'setup: a load target, node_exporter, a CPU-only session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 2:1 --service web 2>lt.log &
	test_cleanup "kill $!"
	start_node_exporter "$NE_PORT" &&
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id cpu --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon client-connect --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --wait 60 &&
	wait_for 40 "benchmon status --json | grep -c \"\\\"health\\\":[[:space:]]*\\\"up\\\"\" | grep -qx 2" && sleep 1
'

test_expect_success 'load for 20 s' '
	date +%s.%N >from &&
	wrk -t1 -c4 -d20s "http://127.0.0.1:$LT_PORT/" >wrk.out &&
	date +%s.%N >to && sleep 2
'

test_expect_success 'collect --strict passes; GPU KPIs and the 1-minute peak are not_applicable' '
	benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out out --strict >table 2>err &&
	cat table err &&
	for k in gpu_util_avg_pct gpu_mem_used_avg_mib gpu_temp_max_c gpu_power_avg_w gpu_energy_j throughput_qps_peak_1m; do
		[ "$(field out/kpis.csv $k session 8)" = not_applicable ] || { echo "$k"; exit 1; }
	done &&
	[ "$(field out/kpis.csv throughput_qps session 8)" = ok ] &&
	[ "$(field out/kpis.csv cpu_util_avg_pct session 8)" = ok ] &&
	python3 - <<-\PY
	import json
	m = json.load(open("out/MANIFEST.json"))
	kpis = {k["kpi"]: k for k in m["kpis"] if k["scope"] == "session"}
	assert kpis["gpu_util_avg_pct"]["status"] == "not_applicable", kpis["gpu_util_avg_pct"]
	assert "dcgm" in kpis["gpu_util_avg_pct"]["reason"], kpis["gpu_util_avg_pct"]
	assert "minute" in kpis["throughput_qps_peak_1m"]["reason"] or "1m" in kpis["throughput_qps_peak_1m"]["reason"]
	assert not any(f["subject"].startswith("gpu") for f in m["findings"]), m["findings"]
	PY
'

test_expect_success 'collect --json: session, run id, window, status, findings with subject, null bounds' '
	benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out out-json --run-id rj --json >out.json &&
	python3 - <<-\PY
	import json
	d = json.load(open("out.json"))
	assert d["session"] == "cpu" and d["run_id"] == "rj", d
	assert d["window"]["from"].endswith("Z") and d["window"]["to"].endswith("Z"), d["window"]
	assert d["status"] in ("ok", "ok_with_findings"), d["status"]
	for f in d["findings"]:
	    assert "subject" in f and "kind" in f and "message" in f, f
	gpu = [k for k in d["kpis"] if k["kpi"] == "gpu_util_avg_pct"][0]
	assert gpu["status"] == "not_applicable" and gpu["value"] is None, gpu
	assert "lower" in gpu and gpu["lower"] is None and gpu["upper"] is None, gpu
	assert gpu["reason"], gpu
	PY
'

test_expect_success 'an optional KPI without data does not fail --strict; a required one does, naming the query' '
	cat >opt.json <<-\EOF &&
	{ "name": "opt", "kpis": [
	  { "name": "load1_avg", "kind": "avg", "expr": "node_load1{__SESSION__}", "exporter": "node" },
	  { "name": "missing_avg", "kind": "avg", "expr": "no_such_metric{__SESSION__}", "optional": true } ] }
	EOF
	benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out opt --profile ./opt.json --strict >table 2>err &&
	[ "$(field opt/kpis.csv missing_avg session 8)" = no_data ] &&
	sed "s/\"optional\": true/\"optional\": false/" opt.json >req.json &&
	test_expect_code 1 benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out req --profile ./req.json \
		--strict >table 2>err &&
	grep -q strict err &&
	grep -q "no_such_metric{session=..cpu..}\|no_such_metric\b" req/MANIFEST.json &&
	! grep -q __SESSION__ req/MANIFEST.json table
'

test_expect_success 'a bad "optional" or "exporter" is refused naming the profile and field' '
	sed "s/\"optional\": true/\"optional\": \"yes\"/" opt.json >bad.json &&
	test_expect_code 1 benchmon collect --last 10s --out bad --profile ./bad.json 2>err &&
	cat err &&
	grep -q "bad.json.: KPI .missing_avg.: \"optional\" must be true or false" err &&
	sed "s/\"exporter\": \"node\"/\"exporter\": \"gpu\"/" opt.json >bad2.json &&
	test_expect_code 1 benchmon collect --last 10s --out bad --profile ./bad2.json 2>err &&
	cat err &&
	grep -q "bad2.json.: KPI .load1_avg.: \"exporter\" must be" err &&
	test_path_is_missing bad/MANIFEST.json
'

test_expect_success 'run --strict --json: the benchmark output goes to stderr, stdout is one JSON object' '
	benchmon run --run-id w1 --out run1 --strict --json -- wrk -t1 -c4 -d5s "http://127.0.0.1:$LT_PORT/" >run.json 2>run.err &&
	grep -q "^Requests/sec:" run.err &&
	python3 - <<-\PY
	import hashlib, json, os
	d = json.load(open("run.json"))
	assert d["run_id"] == "w1", d
	m = json.load(open("run1/MANIFEST.json"))
	r = m["run"]
	assert r["command"][0] == "wrk" and r["exit_status"] == 0 and r["interrupted"] is False, r
	files = {f["name"]: f for f in m["files"]}
	assert "window.json" in files, files
	for f in files.values():
	    data = open(os.path.join("run1", f["name"]), "rb").read()
	    assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"], f
	PY
'

test_expect_success 'client-connect, service-register, reload and status speak --json' '
	benchmon client-connect --client-id c2 --node "$(hostname)" --node-exporter "127.0.0.1:$DEAD_PORT" --json >cc.json &&
	benchmon service-register --client-id c2 --name dead --endpoint "http://127.0.0.1:$DEAD_PORT/metrics" --json >sr.json &&
	benchmon reload --json >rl.json &&
	benchmon status --json >st.json || :
	python3 - <<-\PY
	import json
	cc = json.load(open("cc.json"))
	assert cc["session"] == "cpu" and cc["client_id"] == "c2" and cc["node_exporter"].endswith(":%s" % __import__("os").environ["DEAD_PORT"]), cc
	sr = json.load(open("sr.json"))
	assert sr["session"] == "cpu" and sr["services"][0]["name"] == "dead", sr
	assert json.load(open("rl.json"))["reloaded"] is True
	st = json.load(open("st.json"))
	assert "error" in st and "problem" in st, st
	assert all("error" in t for t in st["targets"]), st["targets"]
	PY
'

# c2_node_exporter_down: does Prometheus already see client c2's node exporter (down)?
c2_node_exporter_down() {
	benchmon status --json 2>/dev/null | python3 -c '
import json, sys
targets = json.load(sys.stdin)["targets"]
sys.exit(not any(t["client_id"] == "c2" and t["kind"] == "node" and t["health"] == "down" for t in targets))'
}

test_expect_success 'a target down is named without a double space, and fails --strict' '
	# Prometheus finds the new targets at its next file_sd refresh (up to 5 s): the window starts after that
	wait_for 30 c2_node_exporter_down &&
	date +%s.%N >from2 && sleep 4 && date +%s.%N >to2 && sleep 1 &&
	test_expect_code 1 benchmon collect --from-iso "$(cat from2)" --to-iso "$(cat to2)" --out down --strict >table 2>err &&
	cat table &&
	grep -q "node exporter of client c2" table &&
	! grep "target_down" table | grep -q "  of client"
'

test_expect_success 'delete --json says what was deleted' '
	benchmon stop >/dev/null 2>&1 &&
	benchmon delete --json >del.json &&
	python3 -c "import json; d = json.load(open(\"del.json\")); assert d[\"session\"] == \"cpu\" and d[\"deleted\"] is True, d"
'

test_done
