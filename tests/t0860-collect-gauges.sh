#!/bin/bash
# collect reads gauge KPIs as Prometheus's sums, maxima and counts over the
# window's samples (sum/max/count_over_time ... @ end) instead of every step.
# On a backfilled TSDB, against every step (BENCHMON_COLLECT_RAW=1):
#   - counters and histograms: kpis.csv rows identical byte for byte;
#   - gauges whose expression is more than a selector (memory, the GPU KPIs,
#     read by a subquery at the scrape interval): identical, since both take
#     one sample per scrape interval;
#   - load1_avg, a plain selector: node n2 exports a sample every 0.5 s, and
#     every step keeps one of them (the one at the step) where the new path
#     averages them all. The value must equal the mean of every sample in
#     [from, to], computed here from the generator's own samples;
#   - with --step 5s every step keeps one point in five, the new path still
#     every sample: the gauges equal the same computation, not the 5 s one.
# timeseries.csv keeps a gauge near 2,000 points: a 40-minute window at 1 s
# has 2,401 steps and its gauges one point every 2 s.
. "$(dirname "$0")/lib.sh"

for tool in prometheus promtool python3; do
	command -v "$tool" >/dev/null || test_skip_all "$tool is not installed"
done
PROM_PORT=$(free_port 27100)
end=$(($(date +%s) - 120))
export END=$end
export BENCHMON_SESSION=ga
sess=$BENCHMON_HOME/sessions/ga

collect() { # out from_offset to_offset [args]: the window end-from .. end-to
	local out=$1 a=$2 b=$3
	shift 3
	benchmon collect --from-iso "$(date -u -d "@$((end - a))" +%Y-%m-%dT%H:%M:%SZ)" \
		--to-iso "$(date -u -d "@$((end - b))" +%Y-%m-%dT%H:%M:%SZ)" --run-id r --out "$out" "$@"
}

# rows FILE KPI...: the kpis.csv rows of those KPIs
rows() {
	local f=$1
	shift
	for k in "$@"; do
		grep "^$k," "$f" || true
	done
}

test_expect_success 'setup: 45 minutes of node, GPU and service samples, node n2 every 0.5 s' '
	cat >gen.py <<-\PY &&
	# Samples (time in ms, value) of each gauge, written as OpenMetrics and
	# kept in samples.json for the expected values.
	import json, os, random
	end = int(os.environ["END"]) * 1000; random.seed(11)
	start = end - 2700 * 1000
	fams, samples = {}, {}
	def add(name, typ, labels, t, v):
	    fams.setdefault(name, (typ, []))[1].append("%s{%s} %s %.3f" % (name, labels, repr(v) if isinstance(v, float) else v, t / 1000))
	    samples.setdefault(name, {}).setdefault(labels, []).append((t, v))
	for node, every in (("n1", 1000), ("n2", 500)):
	    lab = "session=\"ga\",client_id=\"c1\",node=\"%s\",kind=\"node\",instance=\"%s:9100\",job=\"node\"" % (node, node)
	    busy = idle = 0.0
	    for t in range(start, end + 1, every):
	        add("up", "gauge", lab, t, 1)
	        add("node_load1", "gauge", lab, t, round(random.uniform(0, 8), 3))
	        add("node_memory_MemTotal_bytes", "gauge", lab, t, 64e9)
	        add("node_memory_MemAvailable_bytes", "gauge", lab, t, float(random.randint(10, 60) * 10**9))
	        busy += random.uniform(0.1, 0.9); idle += random.uniform(0.1, 0.9)
	        add("node_cpu_seconds_total", "counter", lab + ",cpu=\"0\",mode=\"user\"", t, round(busy, 3))
	        add("node_cpu_seconds_total", "counter", lab + ",cpu=\"0\",mode=\"idle\"", t, round(idle, 3))
	dlab = "session=\"ga\",client_id=\"c1\",node=\"n1\",kind=\"dcgm\",instance=\"n1:9400\",job=\"dcgm\""
	add_up = lambda t: add("up", "gauge", dlab, t, 1)
	energy = [0, 0]
	for t in range(start, end + 1, 1000):
	    add_up(t)
	    for g in (0, 1):
	        gl = dlab + ",gpu=\"%d\"" % g
	        # now and then a sample outside 0-100 %, a temperature above 150 C, free memory below 0
	        add("DCGM_FI_DEV_GPU_UTIL", "gauge", gl, t, 150 if t % 97000 == 0 else random.randint(0, 100))
	        add("DCGM_FI_DEV_GPU_TEMP", "gauge", gl, t, 200 if t % 89000 == 0 else random.randint(30, 90))
	        add("DCGM_FI_DEV_POWER_USAGE", "gauge", gl, t, round(random.uniform(50, 400), 3))
	        add("DCGM_FI_DEV_FB_USED", "gauge", gl, t, random.randint(1000, 80000))
	        add("DCGM_FI_DEV_FB_FREE", "gauge", gl, t, -5 if t % 83000 == 0 else random.randint(0, 1000))
	        energy[g] += random.randint(50000, 400000)
	        add("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "gauge", gl, t, energy[g])
	slab = "session=\"ga\",client_id=\"c1\",node=\"n1\",kind=\"service\",service=\"s\",instance=\"n1:8000\",job=\"service\""
	total, buckets = 0, [0, 0, 0]
	for t in range(start, end + 1, 1000):
	    add("up", "gauge", slab, t, 1)
	    n = random.randint(50, 150); total += n
	    for _ in range(n):
	        lat = random.choice([0.005, 0.05, 2])
	        for i, le in enumerate([0.01, 0.1, float("inf")]):
	            buckets[i] += lat <= le
	    add("http_requests_total", "counter", slab, t, total)
	    for i, le in enumerate(["0.01", "0.1", "+Inf"]):
	        add("http_server_request_duration_seconds_bucket", "counter", slab + ",le=\"%s\"" % le, t, buckets[i])
	with open("in.om", "w") as f:
	    for name, (typ, lines) in fams.items():
	        fam = name[:-len("_bucket")] if name.endswith("_bucket") else name[:-len("_total")] if name.endswith("_total") else name
	        f.write("# TYPE %s %s\n" % (fam, "histogram" if name.endswith("_bucket") else typ))
	        f.write("\n".join(lines) + "\n")
	    f.write("# EOF\n")
	json.dump({n: {l: s for l, s in v.items()} for n, v in samples.items()}, open("samples.json", "w"))
	PY
	python3 gen.py &&
	promtool tsdb create-blocks-from openmetrics in.om tsdb >backfill.log 2>&1 &&
	{ prometheus --config.file=/dev/null --storage.tsdb.path=tsdb --storage.tsdb.retention.time=100y \
		--web.listen-address="127.0.0.1:$PROM_PORT" >prometheus.log 2>&1 & } &&
	test_cleanup "kill $!" &&
	wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" &&
	benchmon session-create --run-id ga --launcher local --scrape-interval 1s >/dev/null &&
	printf "{\"state\":\"running\",\"job_id\":\"0\",\"url\":\"http://127.0.0.1:%s\"}\n" "$PROM_PORT" >"$sess/run.json" &&
	cat >expect.py <<-\PY
	# expect.py FROM_MS TO_MS STEP_MS: the session gauges from samples.json. "all": every
	# sample in [from, to] (a selector), or one per scrape interval (1 s) for an
	# expression; "steps": one point per step, the last sample at or before it,
	# taken only when that sample is less than a step old.
	import bisect, json, sys
	frm, to, step = map(int, sys.argv[1:4])
	S = json.load(open("samples.json"))
	times = {}
	def at(series, t, fresh):
	    ts = times.setdefault(id(series), [x[0] for x in series])
	    i = bisect.bisect_right(ts, t) - 1
	    return series[i][1] if i >= 0 and ts[i] > t - fresh else None
	def points(name, every):
	    out = {}
	    for lab, series in S[name].items():
	        if every == 0:
	            out[lab] = [v for ts, v in series if frm <= ts <= to]
	        else:
	            grid = range(to - (to - frm) // every * every, to + 1, every)
	            out[lab] = {t: at(series, t, every) for t in grid}
	    return out
	def gauges(every_expr, every_sel):
	    res = {}
	    load = points("node_load1", every_sel)
	    vals = [v for l in load.values() for v in (l if every_sel == 0 else [x for x in l.values() if x is not None])]
	    res["load1_avg"] = sum(vals) / len(vals)
	    tot, av = points("node_memory_MemTotal_bytes", every_expr), points("node_memory_MemAvailable_bytes", every_expr)
	    vals = [100 * (1 - av[l][t] / tot[l][t]) for l in tot for t in tot[l] if tot[l][t] is not None and av[l][t] is not None]
	    res["mem_used_avg_pct"] = sum(vals) / len(vals)
	    def flat(name, keep):
	        p = points(name, every_expr)
	        return [v for l in p.values() for v in l.values() if v is not None and keep(v)]
	    u = flat("DCGM_FI_DEV_GPU_UTIL", lambda v: 0 <= v <= 100); res["gpu_util_avg_pct"] = sum(u) / len(u)
	    res["gpu_temp_max_c"] = max(flat("DCGM_FI_DEV_GPU_TEMP", lambda v: 0 <= v <= 150))
	    p = flat("DCGM_FI_DEV_POWER_USAGE", lambda v: v >= 0); res["gpu_power_avg_w"] = sum(p) / len(p)
	    used, free = points("DCGM_FI_DEV_FB_USED", every_expr), points("DCGM_FI_DEV_FB_FREE", every_expr)
	    m = [used[l][t] for l in used for t in used[l] if used[l][t] is not None and not (free[l][t] is not None and free[l][t] < 0)]
	    res["gpu_mem_used_avg_mib"] = sum(m) / len(m)
	    return res
	mode = sys.argv[4]
	res = gauges(1000, 0) if mode == "all" else gauges(step, step)
	for k, v in sorted(res.items()):
	    print("%s %.6f" % (k, v))
	PY
'

# check KPIS_CSV MODE FROM TO STEP: the session gauges of KPIS_CSV equal expect.py's (to the printed digit)
check() {
	python3 expect.py $((end * 1000 - $3 * 1000)) $((end * 1000 - $4 * 1000)) "$5" "$2" >expect.txt &&
	python3 - "$1" expect.txt <<-\PY
	import csv, sys
	got = {r["kpi"]: r["value"] for r in csv.DictReader(open(sys.argv[1])) if r["scope"] == "session"}
	bad = []
	for line in open(sys.argv[2]):
	    k, v = line.split()
	    if abs(float(got[k]) - float(v)) > 2e-6 * max(1, abs(float(v))):
	        bad.append((k, got[k], v))
	assert not bad, bad
	PY
}

counters="throughput_qps throughput_qps_peak_1m latency_p50_ms latency_p95_ms latency_p99_ms cpu_util_avg_pct gpu_energy_j"
exprs="mem_used_avg_pct gpu_util_avg_pct gpu_mem_used_avg_mib gpu_temp_max_c gpu_power_avg_w"

test_expect_success 'a 9-minute window: counters identical to every step, gauges over their samples' '
	collect new 600 60 >out 2>err &&
	BENCHMON_COLLECT_RAW=1 collect raw 600 60 >out 2>err &&
	rows raw/kpis.csv $counters >expect &&
	rows new/kpis.csv $counters >actual &&
	test_cmp expect actual &&
	rows raw/kpis.csv $exprs >expect &&
	rows new/kpis.csv $exprs >actual &&
	test_cmp expect actual &&
	check new/kpis.csv all 600 60 1000 &&
	check raw/kpis.csv steps 600 60 1000 &&
	! check raw/kpis.csv all 600 60 1000 2>/dev/null &&
	! grep -q "last_over_time(" raw/MANIFEST.json &&
	python3 - <<-\PY
	import json
	reads = [q["promql"] for q in json.load(open("new/MANIFEST.json"))["queries"] if q["endpoint"] == "/api/v1/read"]
	assert "node_load1{session=\"ga\"}" in reads and "DCGM_FI_DEV_GPU_TEMP{session=\"ga\"}" in reads, reads
	PY
'

test_expect_success 'the same window through PromQL (BENCHMON_COLLECT_READ=0): the same kpis.csv' '
	BENCHMON_COLLECT_READ=0 collect promql 600 60 >out 2>err &&
	test_cmp new/kpis.csv promql/kpis.csv &&
	grep -q "sum_over_time(node_load1{session=\\\\\"ga\\\\\"}\[540000ms\] @ " promql/MANIFEST.json &&
	grep -q "max_over_time((last_over_time(DCGM_FI_DEV_GPU_TEMP" promql/MANIFEST.json &&
	! grep -q "/api/v1/read" promql/MANIFEST.json
'

test_expect_success 'the sample counts: every sample of load1, one per second of the expressions' '
	awk -F, "\$1 == \"load1_avg\" && \$2 == \"node=n2\" { print \$7 }" new/kpis.csv >actual &&
	echo 1081 >expect && test_cmp expect actual &&
	awk -F, "\$1 == \"load1_avg\" && \$2 == \"node=n2\" { print \$7 }" raw/kpis.csv >actual &&
	echo 541 >expect && test_cmp expect actual &&
	awk -F, "\$1 == \"gpu_power_avg_w\" && \$2 == \"session\" { print \$7 }" new/kpis.csv >actual &&
	echo 1082 >expect && test_cmp expect actual
'

test_expect_success '--step 5s: the gauges still over every sample; every step only one in five' '
	collect new5 600 60 --step 5s >out 2>err &&
	BENCHMON_COLLECT_RAW=1 collect raw5 600 60 --step 5s >out 2>err &&
	check new5/kpis.csv all 600 60 5000 &&
	check raw5/kpis.csv steps 600 60 5000 &&
	rows new/kpis.csv load1_avg $exprs >expect &&
	rows new5/kpis.csv load1_avg $exprs >actual &&
	test_cmp expect actual
'

test_expect_success 'timeseries.csv: a gauge at --step, or near 2,000 points' '
	test "$(grep -c "^load1_avg,session," new5/timeseries.csv)" = 109 &&
	test "$(grep -c "^load1_avg,session," new/timeseries.csv)" = 541 &&
	collect long 2460 60 >out 2>err &&
	test "$(grep -c "^load1_avg,session," long/timeseries.csv)" = 1201 &&
	test "$(grep -c "^gpu_power_avg_w,session," long/timeseries.csv)" = 1201 &&
	python3 - <<-\PY &&
	import json
	m = json.load(open("long/MANIFEST.json"))
	assert m["window"]["step_seconds"] == 1 and m["window"]["display_step_seconds"] == 2, m["window"]
	PY
	BENCHMON_COLLECT_READ=0 collect long-promql 2460 60 >out 2>err &&
	test_cmp long/timeseries.csv long-promql/timeseries.csv &&
	python3 - <<-\PY
	import json
	m = json.load(open("long-promql/MANIFEST.json"))
	steps = sorted({q["step"] for q in m["queries"] if q["endpoint"] == "/api/v1/query_range"})
	assert steps == [1, 2], steps
	PY
'

test_expect_success 'a window after the data: the gauges are no_data, as every step has them' '
	collect after -20 -80 >out 2>err || true &&
	for k in load1_avg $exprs; do
		test "$(awk -F, -v k=$k "\$1 == k && \$2 == \"session\" { print \$8 }" after/kpis.csv)" = no_data || exit 1
	done
'

test_done
