#!/bin/bash
# collect fetches counters and histograms sparse and keeps raw samples only of
# series that reset or hold a NaN, both through remote read (the default: each
# series cut down as it streams in) and through PromQL (BENCHMON_COLLECT_READ=0:
# the samples around each edge, resets and counts anchored with @): its
# kpis.csv must equal the one from every raw sample (BENCHMON_COLLECT_RAW=1)
# byte for byte, and throughput must equal the count the generator wrote. A
# real Prometheus serves a backfilled TSDB holding a counter reset, a histogram
# reset, a NaN, a series that starts mid-window, one that stops mid-window and
# a histogram only one bucket of which drops.
. "$(dirname "$0")/lib.sh"

for tool in prometheus promtool python3; do
	command -v "$tool" >/dev/null || test_skip_all "$tool is not installed"
done
PROM_PORT=$(free_port 21100)
end=$(($(date +%s) - 120))
export END=$end
export BENCHMON_SESSION=sp
sess=$BENCHMON_HOME/sessions/sp

# field FILE KPI [SCOPE] [COLUMN]: a column of kpis.csv (3 = value, 8 = status)
field() {
	awk -F, -v k="$2" -v s="${3:-session}" -v c="${4:-3}" '$1 == k && $2 == s { print $c }' "$1"
}

collect() { # out from_offset to_offset [args]: the window end-from .. end-to
	local out=$1 a=$2 b=$3
	shift 3
	benchmon collect --from-iso "$(date -u -d "@$((end - a))" +%Y-%m-%dT%H:%M:%SZ)" \
		--to-iso "$(date -u -d "@$((end - b))" +%Y-%m-%dT%H:%M:%SZ)" --run-id r --out "$out" "$@"
}

test_expect_success 'setup: 15 minutes at 1 s with resets, a NaN, series starting and stopping' '
	cat >gen.py <<-\PY &&
	# 15 minutes at 1 s ending at END. Services a..e; each counts requests and
	# a 4-bucket latency histogram. b resets (counter and histogram) 300 s
	# before the end, c has a NaN 400 s before it, d starts 500 s before it,
	# e stops 200 s before it, the lowest bucket of f alone drops 250 s before it (a
	# restart followed by more slow requests than before). expected.txt: the requests counted in
	# (END-600, END-60], the window the test collects, and those d counted
	# before its first scrape (all of them inside the window: the bounds hold
	# them, the estimate, with nothing known of when, does not).
	import os, random
	end = int(os.environ["END"]); random.seed(7)
	les = ["0.01", "0.1", "1", "+Inf"]
	out = ["# HELP http_requests_total r", "# TYPE http_requests_total counter"]
	hist = ["# HELP http_server_request_duration_seconds h", "# TYPE http_server_request_duration_seconds histogram"]
	up = ["# HELP up u", "# TYPE up gauge"]
	cpu = ["# HELP node_cpu_seconds_total c", "# TYPE node_cpu_seconds_total counter"]
	expected, d_first = {}, 0
	for svc in "abcdef":
	    lab = "session=\"sp\",client_id=\"c1\",node=\"n1\",kind=\"service\",service=\"%s\",instance=\"h:%d\"" % (svc, ord(svc))
	    total, buckets, counted = 0, [0, 0, 0, 0], 0
	    for t in range(end - 899, end + 1):
	        if svc == "d" and t < end - 500 or svc == "e" and t > end - 200:
	            continue
	        if svc == "b" and t == end - 300:
	            total, buckets = 0, [0, 0, 0, 0]
	        if svc == "f" and t == end - 250:
	            buckets[0] = 0
	        n = random.randint(50, 150)
	        for _ in range(n):
	            lat = random.choice([0.005, 0.05, 0.5, 2])
	            for i, le in enumerate([0.01, 0.1, 1, float("inf")]):
	                if lat <= le:
	                    buckets[i] += 1
	        total += n
	        if svc == "d" and not d_first:
	            d_first = n
	        if end - 600 < t <= end - 60:
	            counted += n
	        v = "NaN" if svc == "c" and t == end - 400 else str(total)
	        out.append("http_requests_total{%s} %s %d" % (lab, v, t))
	        for i, le in enumerate(les):
	            hist.append("http_server_request_duration_seconds_bucket{%s,le=\"%s\"} %d %d" % (lab, le, buckets[i], t))
	        up.append("up{%s,job=\"service\"} 1 %d" % (lab, t))
	    expected[svc] = counted
	node = "session=\"sp\",client_id=\"c1\",node=\"n1\",kind=\"node\",instance=\"h:9100\""
	busy = idle = 0.0
	for t in range(end - 899, end + 1):
	    busy += random.uniform(0.1, 0.9); idle += random.uniform(0.1, 0.9)
	    cpu.append("node_cpu_seconds_total{%s,cpu=\"0\",mode=\"user\"} %.3f %d" % (node, busy, t))
	    cpu.append("node_cpu_seconds_total{%s,cpu=\"0\",mode=\"idle\"} %.3f %d" % (node, idle, t))
	    up.append("up{%s,job=\"node\"} 1 %d" % (node, t))
	with open("in.om", "w") as f:
	    f.write("\n".join(out + hist + up + cpu) + "\n# EOF\n")
	with open("expected.txt", "w") as f:
	    f.write("%d %d\n" % (sum(expected.values()), d_first))
	PY
	python3 gen.py &&
	promtool tsdb create-blocks-from openmetrics in.om tsdb >backfill.log 2>&1 &&
	{ prometheus --config.file=/dev/null --storage.tsdb.path=tsdb --storage.tsdb.retention.time=100y \
		--web.listen-address="127.0.0.1:$PROM_PORT" >prometheus.log 2>&1 & } &&
	test_cleanup "kill $!" &&
	wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" &&
	benchmon session-create --run-id sp --launcher local --scrape-interval 1s >/dev/null &&
	printf "{\"state\":\"running\",\"job_id\":\"0\",\"url\":\"http://127.0.0.1:%s\"}\n" "$PROM_PORT" >"$sess/run.json"
'

test_expect_success 'a 9-minute window: sparse (remote read and PromQL) and raw kpis.csv are identical' '
	collect sparse 600 60 >out 2>err &&
	BENCHMON_COLLECT_READ=0 collect promql 600 60 >out 2>err &&
	BENCHMON_COLLECT_RAW=1 collect raw 600 60 >out 2>err &&
	test_cmp raw/kpis.csv sparse/kpis.csv &&
	test_cmp raw/kpis.csv promql/kpis.csv &&
	test_cmp promql/timeseries.csv sparse/timeseries.csv &&
	[ "$(field sparse/kpis.csv latency_p50_ms)" != "" ] &&
	[ "$(field sparse/kpis.csv cpu_util_avg_pct session 8)" = ok ]
'

test_expect_success 'throughput: the count generated / 540 s lies in the bounds; the estimate leaves out what d counted before its first scrape' '
	read -r n first <expected.txt &&
	python3 - "$n" "$first" "$(field sparse/kpis.csv throughput_qps)" "$(field sparse/kpis.csv throughput_qps session 5)" \
		"$(field sparse/kpis.csv throughput_qps session 6)" <<-\PY
	import sys
	n, first, value, lower, upper = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:])
	assert lower <= n / 540 <= upper, (lower, n / 540, upper)
	assert abs(value - (n - first) / 540) < 5e-7, (value, (n - first) / 540)
	PY
'

test_expect_success 'the reset and the NaN are findings in all three, and only their series are read raw' '
	for d in raw sparse promql; do
		grep -q "counter reset" $d/MANIFEST.json && grep -q "NaN or Inf" $d/MANIFEST.json || exit 1
	done &&
	python3 - <<-\PY
	import json
	m = json.load(open("promql/MANIFEST.json"))
	qs = [q["promql"] for q in m["queries"]]
	assert any(q.startswith("resets(") and " @ " in q for q in qs), qs
	assert any(q.startswith("count_over_time(http_server") for q in qs), qs
	# round two: exact selectors of the series fetched whole
	whole = [q for q in qs if q.startswith("http_server_request_duration_seconds_bucket{") and "le=" in q]
	svcs = sorted({q.split("service=\"")[1].split("\"")[0] for q in whole})
	# b and f reset, and d and e start or stop inside the window: their whole histograms; a and c (a NaN
	# only in http_requests_total) stay sparse
	assert svcs == ["b", "d", "e", "f"], svcs
	assert len(whole) == 16, len(whole)
	PY
'

test_expect_success 'remote read: one read a KPI; round two reads whole exactly the histograms that need it' '
	python3 - <<-\PY
	import json
	m = json.load(open("sparse/MANIFEST.json"))
	reads = [q for q in m["queries"] if q["endpoint"] == "/api/v1/read"]
	qs = [q["promql"] for q in m["queries"]]
	assert not any(q.startswith("resets(") for q in qs), qs
	assert any(q.startswith("http_server_request_duration_seconds_bucket{session=") for q in qs), qs
	# round two, by exact selector: b reset, d and e start or stop inside the window, one bucket of f
	# dropped: all four buckets of each; a and c stay sparse
	again = [q["promql"] for q in reads if q["promql"].startswith("{__name__=\"http_server_request_duration_seconds_bucket\"")]
	svcs = sorted({q.split("service=\"")[1].split("\"")[0] for q in again})
	assert svcs == ["b", "d", "e", "f"] and len(again) == 16, again
	assert all("start" in q and "end" in q for q in reads), reads
	PY
'

test_expect_success 'a window under 8 scrape margins reads every raw sample, and agrees' '
	collect short 40 20 >out 2>err &&
	BENCHMON_COLLECT_RAW=1 collect short-raw 40 20 >out 2>err &&
	test_cmp short-raw/kpis.csv short/kpis.csv &&
	! grep -q "resets(" short/MANIFEST.json
'

test_expect_success 'a window ending after the data (no scrape after its end) agrees too' '
	collect last 300 -30 >out 2>err || true &&
	BENCHMON_COLLECT_RAW=1 collect last-raw 300 -30 >out 2>err || true &&
	test_cmp last-raw/kpis.csv last/kpis.csv
'

test_done
