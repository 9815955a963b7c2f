#!/bin/bash
# benchmon report: one self-contained HTML file from real runs (a local session with a load
# target, node_exporter and the synthetic DCGM exporter), opened in headless Chromium with the
# network cut off: no console error, no request but the file itself, a screenshot that is not
# blank, and the values drawn in the SVG read back from the DOM against timeseries.csv and kpis.csv.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/chromium.sh"

for bin in prometheus prometheus-node-exporter wrk load-target dcgm-exporter python3 chromium; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done

LT_PORT=$(free_port 20900)
DCGM_PORT=$(free_port $((LT_PORT + 1)))
NE_PORT=$(free_port $((DCGM_PORT + 1)))
PROM_PORT=$(free_port 20950)
sess="$BENCHMON_HOME/sessions/rep"
test_cleanup 'BENCHMON_SESSION=rep benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=rep

test_expect_success 'setup: load target, synthetic DCGM exporter, node_exporter, a session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 4:0.3,12:0.6,60:0.1 --service web 2>lt.log &
	test_cleanup "kill $!"
	dcgm-exporter --listen "127.0.0.1:$DCGM_PORT" --gpus 2 --queue-depth 3 2>dcgm.log &
	test_cleanup "kill $!"
	start_node_exporter "$NE_PORT" &&
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	wait_for 10 curl -sf "http://127.0.0.1:$DCGM_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id rep --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon client-connect --client-id c1 --node "$(hostname)" \
		--node-exporter "127.0.0.1:$NE_PORT" --dcgm-exporter "127.0.0.1:$DCGM_PORT" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --wait 60 &&
	wait_for 40 "benchmon status --json | grep -c \"\\\"health\\\":[[:space:]]*\\\"up\\\"\" | grep -qx 3"
'

test_expect_success 'a sweep: runs at concurrency 1, 4 and 16' '
	for c in 1 4 16; do
		benchmon run --run-id "c$c" --out "runs/c$c" --label concurrency="$c" -- \
			wrk -t1 -c"$c" -d8s "http://127.0.0.1:$LT_PORT/" >"c$c.out" || exit 1
	done &&
	benchmon stop >/dev/null 2>&1
'

test_expect_success 'report writes one file that loads nothing from anywhere' '
	benchmon report runs/c1 runs/c4 runs/c16 -o report.html --json >report.json &&
	python3 -c "import json; d = json.load(open(\"report.json\")); assert d[\"output\"] == \"report.html\" and d[\"sweep\"] == \"concurrency\" and d[\"error\"] is None and d[\"charts\"] >= 10, d" &&
	test "$(stat -c %s report.html)" = "$(python3 -c "import json; print(json.load(open(\"report.json\"))[\"bytes\"])")" &&
	! grep -Eiq "<script|<link|<img|<iframe|<object|@import|url\(|src=|xlink:href|href=\"[^#]" report.html &&
	! ls | grep -q "\.tmp\."
'

test_expect_success 'the checks below catch a page that loads things and logs errors' '
	cat >bad.html <<-\EOF &&
	<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example.com/x.css"></head>
	<body><img src="http://example.com/a.png"><script>console.error("boom"); nosuchfn();</script></body></html>
	EOF
	chromium_open bad.html bad &&
	page_requests bad >bad.requests && cat bad.requests &&
	grep -qx "https://cdn.example.com/x.css" bad.requests && grep -qx "http://example.com/a.png" bad.requests &&
	console_messages bad >bad.console && grep -q boom bad.console && grep -q "Uncaught ReferenceError" bad.console &&
	test_expect_code 1 png_check bad.png 1280 2000 8 3
'

test_expect_success 'in Chromium: no console message, no request, a screenshot that is not blank' '
	chromium_open report.html page &&
	page_requests page >page.requests && console_messages page >page.console &&
	cat page.requests page.console &&
	[ ! -s page.requests ] && [ ! -s page.console ] &&
	grep -q "<svg" page.dom &&
	png_check page.png 1280 2000 20 5
'

test_expect_success 'the lines drawn are the points of timeseries.csv (session, per node, per GPU), the tables those of kpis.csv' '
	python3 - <<-\PY
	import csv, math
	from html.parser import HTMLParser

	class Page(HTMLParser):
	    def __init__(self):
	        super().__init__()
	        self.run, self.paths, self.rows, self.points, self.sweep_svg = None, [], [], [], False
	    def handle_starttag(self, tag, attrs):
	        a = dict(attrs)
	        if tag == "section" and "data-run" in a:
	            self.run = a["data-run"]
	        if tag == "svg":
	            self.sweep_svg = "sweep" in a.get("class", "")
	        if tag == "path" and "data-points" in a:
	            self.paths.append((self.run, a))
	        if tag == "tr" and "data-scope" in a:
	            self.rows.append((self.run, a))
	        if tag == "g" and self.sweep_svg and "data-run" in a:
	            self.points.append(a)

	page = Page()
	page.feed(open("page.dom").read())

	def close(a, b):
	    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))

	def epoch(t):
	    import datetime
	    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in t else "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()

	series, kpis = {}, {}
	for run in ("c1", "c4", "c16"):
	    for r in csv.DictReader(open("runs/%s/timeseries.csv" % run)):
	        series.setdefault((run, r["kpi"], r["scope"]), []).append((epoch(r["time"]), float(r["value"])))
	    for r in csv.DictReader(open("runs/%s/kpis.csv" % run)):
	        kpis[(run, r["kpi"], r["scope"])] = r

	drawn = set()
	for run, a in page.paths:
	    want = series[(run, a["data-kpi"], a["data-scope"])]
	    got = [tuple(map(float, p.split(","))) for p in a["data-points"].split()]
	    # short windows are drawn whole: every point, in order
	    assert int(a["data-n"]) == len(want) == len(got), (run, a["data-kpi"], len(want), len(got))
	    for (t, v), (wt, wv) in zip(got, want):
	        assert abs(t - wt) < 0.0005 and close(v, wv), (run, a["data-kpi"], t, v, wt, wv)
	    drawn.add((run, a["data-kpi"], a["data-scope"]))
	for run in ("c1", "c4", "c16"):
	    for k in ("throughput_qps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cpu_util_avg_pct",
	              "gpu_util_avg_pct", "gpu_power_avg_w", "gpu_temp_max_c"):
	        assert (run, k, "session") in drawn, (run, k)
	        assert any(d[0] == run and d[1] == k and d[2].startswith("node=") for d in drawn), (run, k, "per node")
	        if k.startswith("gpu"):
	            assert {d[2].rsplit("/", 1)[-1] for d in drawn if d[:2] == (run, k) and d[2].startswith("gpu=")} == {"0", "1"}, (run, k, "per GPU")
	    # the synthetic DCGM exporter gives GPU i the utilisation of GPU 0 plus 3 i, and a temperature of 35 + util / 2
	    gpu = {s.rsplit("/", 1)[-1]: r for (rn, k, s), r in kpis.items() if rn == run and k == "gpu_util_avg_pct" and s.startswith("gpu=")}
	    assert abs(float(gpu["1"]["value"]) - float(gpu["0"]["value"]) - 3) < 1e-6, gpu
	    temp = {s.rsplit("/", 1)[-1]: r for (rn, k, s), r in kpis.items() if rn == run and k == "gpu_temp_max_c" and s.startswith("gpu=")}
	    assert abs(float(temp["1"]["value"]) - float(temp["0"]["value"]) - 1.5) < 1e-6, temp

	seen = 0
	for run, a in page.rows:
	    r = kpis[(run, a["data-kpi"], a["data-scope"])]
	    for col in ("value", "lower", "upper"):
	        if r[col] == "":
	            assert "data-" + col not in a, (run, a)
	        else:
	            assert close(float(a["data-" + col]), float(r[col])), (run, a, r)
	    seen += 1
	assert seen == len(kpis), (seen, len(kpis))

	labels = {"c1": "1", "c4": "4", "c16": "16"}
	assert len(page.points) >= 3 * 8, len(page.points)
	for a in page.points:
	    run = a["data-run"]
	    assert a["data-x"] == labels[run], a
	    matches = [r for (rn, k, s), r in kpis.items() if rn == run and s == "session" and r["value"] and close(float(a["data-value"]), float(r["value"]))]
	    assert matches, a
	tp = [a for a in page.points if close(float(a["data-value"]), float(kpis[(a["data-run"], "throughput_qps", "session")]["value"]))]
	assert len(tp) >= 3, tp
	PY
'

test_expect_success 'the side-by-side table: bounds decide, as kpis.csv shows them; throughput is better' '
	python3 - <<-\PY
	import csv, re
	from html.parser import HTMLParser

	class Page(HTMLParser):
	    def __init__(self):
	        super().__init__()
	        self.rows, self.kpi, self.cells = {}, None, None
	    def handle_starttag(self, tag, attrs):
	        a = dict(attrs)
	        if tag == "table" and a.get("class") == "comparison":
	            self.kpi = ""
	        if tag == "tr" and self.kpi is not None and "data-kpi" in a:
	            self.kpi = a["data-kpi"]
	            self.rows[self.kpi] = []
	        if tag == "td" and self.kpi and "data-verdict" in a:
	            self.rows[self.kpi].append(a["data-verdict"])
	    def handle_endtag(self, tag):
	        if tag == "table":
	            self.kpi = None

	page = Page()
	page.feed(open("page.dom").read())
	kpis = {run: {r["kpi"]: r for r in csv.DictReader(open("runs/%s/kpis.csv" % run)) if r["scope"] == "session"}
	        for run in ("c1", "c4", "c16")}
	checked = 0
	for kpi, verdicts in page.rows.items():
	    a = kpis["c1"][kpi]
	    for run, verdict in zip(("c4", "c16"), verdicts):
	        b = kpis[run][kpi]
	        if not a["value"] or not b["value"]:
	            continue
	        if a["lower"] and b["lower"]:
	            inf = lambda x: float("inf") if x == "+Inf" else float(x)
	            disjoint = float(b["lower"]) > inf(a["upper"]) or inf(b["upper"]) < float(a["lower"])
	            assert (verdict != "~") == disjoint, (kpi, run, verdict, a, b)
	            checked += 1
	        else:
	            assert verdict == "~", (kpi, run, verdict)
	assert checked >= 2 * 4, checked
	assert page.rows["throughput_qps"] == ["better", "better"], page.rows["throughput_qps"]
	PY
'

test_expect_success 'a chart says its unit, its legend and its series by more than colour' '
	python3 - <<-\PY
	import re
	dom = open("page.dom").read()
	svgs = re.findall(r"<svg class=\"chart time\".*?</svg>", dom, re.S)
	assert svgs
	for svg in svgs:
	    assert "time since the window" in svg, svg[:200]
	    dashes = set(re.findall(r"<path fill=\"none\"[^>]*stroke-dasharray=\"([^\"]*)\"", svg))
	    n = len(re.findall(r"<path fill=\"none\"", svg))
	    assert len(dashes) == n, (n, dashes)
	    assert svg.count("class=\"legend\"") == n
	lat = [s for s in svgs if "Latency quantiles" in s][0]
	assert ">ms<" in lat and ">p50<" in lat and ">p99<" in lat
	assert "@media print" in dom
	PY
'

test_expect_success '--pdf prints through headless Chromium' '
	benchmon report runs/c4 -o one.html --pdf one.pdf >out &&
	grep -q "one.pdf" out &&
	head -c 5 one.pdf | grep -q "^%PDF-" &&
	test "$(stat -c %s one.pdf)" -gt 10000 &&
	! ls | grep -q "\.tmp\."
'

test_expect_success 'bad input: exit 2 or 1, the message names it, nothing is written' '
	cp report.html keep.html &&
	test_expect_code 2 benchmon report runs/c1 2>err && grep -q "no output file" err &&
	test_expect_code 2 benchmon report -o report.html 2>err && grep -q "no run directory" err &&
	test_expect_code 2 benchmon report runs/c1 -o 2>err && grep -q "needs a value" err &&
	test_expect_code 2 benchmon report runs/c1 -o report.html --bogus 2>err &&
	test_expect_code 1 benchmon report runs/c1 nowhere -o report.html 2>err && grep -q "nowhere/MANIFEST.json" err &&
	mkdir half && cp runs/c1/MANIFEST.json half/ &&
	test_expect_code 1 benchmon report half -o report.html 2>err && grep -q "half/kpis.csv" err &&
	test_expect_code 1 env BENCHMON_CHROMIUM=/nonexistent benchmon report runs/c1 -o new.html --pdf new.pdf 2>err &&
	grep -q "chromium" err && test_path_is_missing new.html && test_path_is_missing new.pdf &&
	cmp report.html keep.html
'

test_done
