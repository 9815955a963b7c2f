#!/bin/bash
# A sweep through 'benchmon run --label' against a real load target and Prometheus
# (local launcher): 4 concurrency levels x 3 repetitions, one CSV of all twelve,
# compare marking proven changes and '~', and gate failing a slower server in
# JUnit XML. wrk's own request counts are the independent source.
. "$(dirname "$0")/lib.sh"

for bin in prometheus wrk load-target python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 20700)
PROM_PORT=$(free_port 20710)
export BENCHMON_SESSION=sweep
test_cleanup 'benchmon stop >/dev/null 2>&1; benchmon delete --force >/dev/null 2>&1'

test_expect_success 'setup: a load target (2 ms per request) and a session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 2:1 --service web 2>lt.log &
	echo $! >lt.pid
	test_cleanup "kill $!"
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id sweep --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 1s &&
	benchmon client-connect --client-id c1 --node "$(hostname)" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --wait 60
'

test_expect_success 'the sweep: 4 concurrency levels x 3 repetitions through run --label' '
	for c in 1 2 4 8; do
		for r in 1 2 3; do
			benchmon run --run-id "c$c-r$r" --out "sweep/c$c-r$r" --label concurrency=$c --label rep=$r -- \
				wrk -t1 -c$c -d3s "http://127.0.0.1:$LT_PORT/" >"wrk-c$c-r$r.out" 2>"run-c$c-r$r.err" || exit 1
		done
	done &&
	head -1 sweep/c4-r2/metrics_summary.csv | grep -q ",findings,concurrency,rep$" &&
	tail -1 sweep/c4-r2/metrics_summary.csv | grep -q ",4,2$" &&
	python3 -c "import json; m = json.load(open(\"sweep/c4-r2/MANIFEST.json\")); assert m[\"labels\"] == {\"concurrency\": \"4\", \"rep\": \"2\"}, m[\"labels\"]"
'

test_expect_success 'runs --csv: the twelve runs as one table, throughput as wrk counted it' '
	benchmon runs sweep >runs.txt &&
	cat runs.txt &&
	[ "$(grep -c "concurrency=" runs.txt)" = 12 ] &&
	benchmon runs --csv sweep >sweep.csv &&
	python3 - <<-\PY
	import csv, json, re
	rows = list(csv.DictReader(open("sweep.csv")))
	assert len(rows) == 12, len(rows)
	seen = set()
	for row in rows:
	    c, r = row["concurrency"], row["rep"]
	    seen.add((c, r))
	    assert row["run_id"] == "c%s-r%s" % (c, r), row
	    m = json.load(open("sweep/c%s-r%s/MANIFEST.json" % (c, r)))
	    secs = (lambda f, t: t - f)(*[float(__import__("datetime").datetime.fromisoformat(m["window"][k].replace("Z", "+00:00")).timestamp()) for k in ("from", "to")])
	    wrk = open("wrk-c%s-r%s.out" % (c, r)).read()
	    n = int(re.search(r"(\d+) requests in", wrk).group(1))
	    counted = float(row["throughput_qps"]) * secs
	    # wrk counts the responses it read; the server may have answered up to c more when wrk stopped
	    assert abs(counted - n) <= int(c) + 2, (c, r, counted, n)
	assert len(seen) == 12, seen
	PY
'

test_expect_success 'compare two single runs: throughput a proven change, latency ~' '
	benchmon compare sweep/c1-r1 sweep/c8-r1 >cmp.txt &&
	cat cmp.txt &&
	grep -q "^throughput_qps (req/s) .* better (bounds disjoint)$" cmp.txt &&
	grep -q "^latency_p50_ms (ms) .* ~ (bounds overlap)$" cmp.txt &&
	grep -q "^geomean " cmp.txt &&
	benchmon compare --json sweep/c1-r1 sweep/c8-r1 >cmp.json &&
	python3 - <<-\PY
	import datetime, json, re
	d = json.load(open("cmp.json"))
	rows = {r["kpi"]: r for r in d["rows"]}
	t = rows["throughput_qps"]
	assert t["verdict"] == "better" and t["method"] == "bounds" and t["better"] == "higher", t
	assert t["a"]["upper"] < t["b"]["lower"], t
	def rate(run):
	    # the count wrk printed over the window the run recorded (the duration wrk printed leaves out its start-up)
	    n = int(re.search(r"(\d+) requests in", open("wrk-%s.out" % run).read()).group(1))
	    w = json.load(open("sweep/%s/MANIFEST.json" % run))["window"]
	    ts = [datetime.datetime.fromisoformat(w[k].replace("Z", "+00:00")).timestamp() for k in ("from", "to")]
	    return n / (ts[1] - ts[0])
	r1, r8 = rate("c1-r1"), rate("c8-r1")
	# up to c requests in flight when wrk stopped: well under a percent of these counts
	assert abs(t["change_pct"] - 100.0 * (r8 - r1) / r1) < 2, (t["change_pct"], r1, r8)
	p50 = rows["latency_p50_ms"]
	assert p50["verdict"] == "~", p50
	PY
'

test_expect_success 'compare --by concurrency=1,8: the U test with n=3+3, warning below 4 runs' '
	benchmon compare --by concurrency=1,8 sweep >by.txt 2>by.err &&
	cat by.txt by.err &&
	grep -q "fewer than 4 runs on a side (3+3)" by.err &&
	# 3+3 separated runs: p=0.100, or a little less when the load target, whose latency is fixed, gave two
	# runs the same count over the same milliseconds (a tie): never below alpha
	grep -q "^throughput_qps (req/s) .* ~ (p=0\.[01][0-9]* n=3+3)$" by.txt &&
	benchmon compare --markdown --by concurrency=1,8 sweep >by.md 2>/dev/null &&
	grep -q "^| KPI | A | B | change | verdict |$" by.md &&
	benchmon compare --csv --by concurrency=1,8 sweep >by.csv 2>/dev/null &&
	python3 -c "import csv; r = [x for x in csv.DictReader(open(\"by.csv\")) if x[\"kpi\"] == \"throughput_qps\"][0]; assert r[\"a_n\"] == \"3\" and r[\"b_n\"] == \"3\" and 0.05 < float(r[\"p\"]) <= 0.1 + 1e-9, r"
'

test_expect_success 'gate: a reference from a baseline run passes a repetition' '
	benchmon compare sweep/c8-r1 --write-reference ref.json --tolerance 0.5 &&
	benchmon gate sweep/c8-r2 --reference ref.json --junit pass.xml >gate.txt &&
	cat gate.txt &&
	grep -q "^PASS   error    throughput_qps " gate.txt &&
	grep -q "^VALID$" gate.txt
'

test_expect_success 'gate: the same server made slower fails, in JUnit XML, and exits 1' '
	kill "$(cat lt.pid)" &&
	wait_for 10 "! curl -sf http://127.0.0.1:$LT_PORT/metrics -o /dev/null" &&
	{ load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 20:1 --service web 2>lt2.log &
	  test_cleanup "kill $!"; } &&
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	sleep 2 &&
	benchmon run --run-id slow --out sweep-slow --label concurrency=8 -- \
		wrk -t1 -c8 -d3s "http://127.0.0.1:$LT_PORT/" >wrk-slow.out 2>run-slow.err &&
	test_expect_code 1 benchmon gate sweep-slow --reference ref.json --junit fail.xml >gate.txt &&
	cat gate.txt &&
	grep -q "^FAIL   error    throughput_qps " gate.txt &&
	grep -q "^INVALID$" gate.txt &&
	grep -q "failed reference: throughput_qps" gate.txt &&
	python3 - <<-\PY
	import xml.dom.minidom
	for name, failing in (("pass.xml", False), ("fail.xml", True)):
	    doc = xml.dom.minidom.parse(name)
	    cases = {c.getAttribute("name"): c for c in doc.getElementsByTagName("testcase")}
	    assert "throughput_qps [session]" in cases and "validity" in cases, cases.keys()
	    t = cases["throughput_qps [session]"].getElementsByTagName("failure")
	    assert bool(t) == failing, (name, t)
	    assert bool(cases["validity"].getElementsByTagName("failure")) == failing, name
	suite = xml.dom.minidom.parse("fail.xml").getElementsByTagName("testsuite")[0]
	assert int(suite.getAttribute("failures")) >= 2, suite.getAttribute("failures")
	PY
'

test_expect_success 'compare names the regression: throughput worse, latency worse' '
	benchmon compare sweep/c8-r1 sweep-slow >slow.txt &&
	cat slow.txt &&
	grep -q "^throughput_qps (req/s) .* worse (bounds disjoint)$" slow.txt &&
	grep -q "^latency_p50_ms (ms) .* worse (bounds disjoint)$" slow.txt
'

test_expect_success 'collect --window again keeps the run'"'"'s labels, or takes new ones' '
	benchmon collect --window sweep/c4-r2/window.json --out again >/dev/null &&
	tail -1 again/metrics_summary.csv | grep -q ",4,2$" &&
	benchmon collect --window sweep/c4-r2/window.json --out again2 --label concurrency=4 --label build=new >/dev/null &&
	head -1 again2/metrics_summary.csv | grep -q ",findings,build,concurrency$"
'

test_expect_success 'stop' '
	benchmon stop
'

test_done
