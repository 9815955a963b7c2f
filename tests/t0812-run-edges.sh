#!/bin/bash
# benchmon run reads every target's counters at the window's edges: throughput and latency come
# from exact differences, checked against the target's own count read directly before and after.
. "$(dirname "$0")/lib.sh"

for bin in prometheus wrk load-target python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 19860)
SVC_PORT=$(free_port 19865)
PROM_PORT=$(free_port 19870)
sess="$BENCHMON_HOME/sessions/e1"
secret=tok-$RANDOM$RANDOM
test_cleanup 'BENCHMON_SESSION=e1 benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=e1

# requests_total: load-target's own count of the requests it answered
requests_total() {
	curl -sf "http://127.0.0.1:$LT_PORT/metrics" | awk '/^http_requests_total\{/ { print $2 }'
}

# check_throughput DIR BEFORE AFTER: benchmon's service=web throughput against the target's own
# count over the window's length; prints both and the error, fails above 0.1%
check_throughput() {
	python3 - "$@" <<-\PY
	import csv, datetime, json, sys
	d, before, after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
	w = json.load(open(d + "/window.json"))
	t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
	span = (t(w["to"]) - t(w["from"])).total_seconds()
	truth = (after - before) / span
	row = [r for r in csv.DictReader(open(d + "/kpis.csv")) if r["kpi"] == "throughput_qps" and r["scope"] == "service=web"][0]
	v, lo, hi = float(row["value"]), float(row["lower"]), float(row["upper"])
	err = abs(v - truth) / truth
	open(d + "/truth", "w").write("%r\n" % truth)
	print("window %.3fs: target counted %.0f requests, %.3f/s; benchmon %.3f/s [%.3f, %.3f] (%s); error %.4f%%"
	      % (span, after - before, truth, v, lo, hi, row.get("method", "-"), 100 * err), file=open("measured", "a"))
	assert row["method"] == "edges", row
	# kpis.csv has 6 decimals. The curl readings around run can only count more than the window
	# holds: wrk exits with requests in flight, which the target counts after the window's end
	# (a few of 9,000 on a loaded machine). So the truth is at most this count: lower must not
	# exceed it, and the value must be within 0.1% of it.
	assert lo <= truth * (1 + 1e-7) + 1e-6, (lo, truth, hi)
	assert err < 0.001, err
	PY
}

test_expect_success 'setup: a load target, a service behind a bearer token, a running session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 2:1 --service web 2>lt.log &
	test_cleanup "kill $!"
	printf "%s\n" "$secret" >"$TEST_DIR/token" && chmod 600 "$TEST_DIR/token" &&
	cat >svc.py <<-\PY &&
	import http.server, os, sys, time
	port, secret = int(sys.argv[1]), sys.argv[2]
	# its own pid: python3 may be a wrapper that forks it, and $! the wrapper
	open("svc.pid.tmp", "w").write("%d\n" % os.getpid())
	os.rename("svc.pid.tmp", "svc.pid")
	class H(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        if self.headers.get("Authorization") != "Bearer " + secret:
	            self.send_response(401); self.end_headers(); return
	        # "unreachable from where run runs": benchmon is turned away, Prometheus is not
	        if os.path.exists("block-benchmon") and self.headers.get("User-Agent", "").startswith("benchmon"):
	            self.send_response(503); self.end_headers(); return
	        body = ("# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} %d\n# EOF\n"
	                % int(time.time() * 10)).encode()
	        self.send_response(200); self.send_header("Content-Type", "application/openmetrics-text"); self.end_headers()
	        self.wfile.write(body)
	    def log_message(self, *a): pass
	http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
	PY
	python3 svc.py "$SVC_PORT" "$secret" >svc.log 2>&1 &
	test_cleanup "kill $!; kill \$(cat $TEST_DIR/svc.pid)"
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	wait_for 10 "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$SVC_PORT/metrics | grep -q 401" &&
	benchmon session-create --run-id e1 --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 1s &&
	benchmon client-connect --client-id c1 --node "$(hostname)" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon service-register --client-id c1 --name auth --endpoint "http://127.0.0.1:$SVC_PORT/metrics" \
		--bearer-token-file "$TEST_DIR/token" 2>/dev/null &&
	benchmon start --wait 60 &&
	wait_for 60 "[ \$(benchmon status --json | grep -c \"\\\"health\\\":[[:space:]]*\\\"up\\\"\") -ge 2 ]" && sleep 1
'

# EDGES_WINDOWS: the lengths of the windows checked, in seconds (tests/long/ runs a 10-minute one);
# the later checks use the last
windows=${EDGES_WINDOWS:-5 15}
for secs in $windows; do
	last=e$secs
	test_expect_success "a ${secs} s run: throughput within 0.1% of the target's own count" '
		before=$(requests_total) &&
		benchmon run --out e$secs -- wrk -t1 -c4 -d${secs}s "http://127.0.0.1:$LT_PORT/" >stdout 2>stderr &&
		after=$(requests_total) &&
		check_throughput e$secs "$before" "$after" &&
		test_path_is_file e$secs/edges.json
	'
done
export LAST=$last

test_expect_success 'latency comes from the buckets'"'"' exact counts: bounds are the bucket' '
	python3 - <<-\PY
	import csv, os
	L = os.environ["LAST"]
	rows = {(r["kpi"], r["scope"]): r for r in csv.DictReader(open(L + "/kpis.csv"))}
	for q in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
	    r = rows[(q, "service=web")]
	    # every request took 2 ms: the (1 ms, 2.5 ms] bucket, and nothing wider
	    assert r["method"] == "edges" and r["lower"] == "1" and r["upper"] == "2.5", r
	PY
'

test_expect_success 'the service behind a bearer token is read with it' '
	python3 - <<-\PY
	import csv, json, os
	L = os.environ["LAST"]
	e = json.load(open(L + "/edges.json"))
	for edge in ("from", "to"):
	    auth = [t for t in e[edge]["targets"] if t["labels"].get("service") == "auth"][0]
	    assert auth["error"] is None and auth["samples"], auth
	rows = {(r["kpi"], r["scope"]): r for r in csv.DictReader(open(L + "/kpis.csv"))}
	assert rows[("throughput_qps", "service=auth")]["method"] == "edges", rows[("throughput_qps", "service=auth")]
	assert rows[("throughput_qps", "session")]["method"] == "edges"
	m = json.load(open(L + "/MANIFEST.json"))
	assert "edges.json" in [f["name"] for f in m["files"]], m["files"]
	assert m["methods"]["series_with_edges"] > 0, m["methods"]
	PY
'

test_expect_success 'collect --window uses the edges.json beside window.json; without it, interpolation' '
	benchmon collect --window $last/window.json --out redo --json >redo.json &&
	test_cmp $last/kpis.csv redo/kpis.csv &&
	grep -q "\"method\":[[:space:]]*\"edges\"" redo.json &&
	mkdir -p plain && cp $last/window.json plain/ &&
	benchmon collect --window plain/window.json --out plain-out >/dev/null &&
	awk -F, "\$1 == \"throughput_qps\" && \$2 == \"service=web\" { print \$9 }" plain-out/kpis.csv >method &&
	echo interpolated >expect && test_cmp expect method &&
	python3 - <<-\PY
	import csv, os
	L = os.environ["LAST"]
	truth = float(open(L + "/truth").read())
	r = [r for r in csv.DictReader(open("plain-out/kpis.csv")) if r["kpi"] == "throughput_qps" and r["scope"] == "service=web"][0]
	print("the same %s window interpolated between scrapes: %s/s [%s, %s]; error %.4f%%"
	      % (L, r["value"], r["lower"], r["upper"], 100 * abs(float(r["value"]) - truth) / truth),
	      file=open("measured", "a"))
	PY
'

test_expect_success 'an edges.json of another window is not used, and says so' '
	mkdir -p other && cp $last/edges.json other/ &&
	python3 - <<-\PY &&
	import datetime, json, os
	w = json.load(open(os.environ["LAST"] + "/window.json"))
	t = datetime.datetime.fromisoformat(w["from"].replace("Z", "+00:00")) + datetime.timedelta(seconds=1)
	w["from"] = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
	json.dump(w, open("other/window.json", "w"))
	PY
	benchmon collect --window other/window.json --out other-out >/dev/null &&
	grep -q "holds the readings of another window: not used" other-out/MANIFEST.json &&
	awk -F, "\$1 == \"throughput_qps\" && \$2 == \"service=web\" { print \$9 }" other-out/kpis.csv >method &&
	echo interpolated >expect && test_cmp expect method
'

test_expect_success 'a target run cannot read falls back to interpolation, with a finding naming it' '
	touch block-benchmon &&
	before=$(requests_total) &&
	benchmon run --out blocked -- wrk -t1 -c2 -d3s "http://127.0.0.1:$LT_PORT/" >stdout 2>stderr &&
	after=$(requests_total) &&
	rm -f block-benchmon &&
	python3 - <<-\PY
	import csv, json, os
	L = os.environ["LAST"]
	rows = {(r["kpi"], r["scope"]): r for r in csv.DictReader(open("blocked/kpis.csv"))}
	assert rows[("throughput_qps", "service=auth")]["method"] == "interpolated"
	assert rows[("throughput_qps", "service=web")]["method"] == "edges"
	assert rows[("throughput_qps", "session")]["method"] == "interpolated"
	found = [f for f in json.load(open("blocked/MANIFEST.json"))["findings"] if f["kind"] == "fallback"]
	assert len(found) == 2 and all("'"'"'auth'"'"'" in f["subject"] and "503" in f["message"] for f in found), found
	PY
'

test_expect_success 'with --warmup the start is read while the benchmark runs: value inside its bounds' '
	benchmon run --out warm --warmup 2s -- wrk -t1 -c4 -d5s "http://127.0.0.1:$LT_PORT/" >stdout 2>stderr &&
	python3 - <<-\PY
	import csv, datetime, json
	e, w = json.load(open("warm/edges.json")), json.load(open("warm/window.json"))
	t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
	assert e["from"]["exact"] is False and e["to"]["exact"] is True, e["from"]["exact"]
	assert abs(t(w["from"]) - t(w["started"]) - 2) < 0.05, w
	r = [r for r in csv.DictReader(open("warm/kpis.csv")) if r["kpi"] == "throughput_qps" and r["scope"] == "service=web"][0]
	assert r["method"] == "edges" and float(r["lower"]) <= float(r["value"]) <= float(r["upper"]), r
	PY
'

sed 's/^/# /' "$TEST_DIR/measured" 2>/dev/null
test_done
