#!/bin/bash
# collect against independent measurements: wrk's throughput and latency, the
# synthetic DCGM exporter's known values, and /proc/stat's CPU time.
. "$(dirname "$0")/lib.sh"

for bin in prometheus prometheus-node-exporter wrk load-target dcgm-exporter; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done

LT_PORT=$(free_port 19610)
DCGM_PORT=$(free_port $((LT_PORT + 1)))
NE_PORT=$(free_port $((DCGM_PORT + 1)))
PROM_PORT=$(free_port 19650)
sess="$BENCHMON_HOME/sessions/col"
test_cleanup 'BENCHMON_SESSION=col benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'

# field FILE KPI [SCOPE] [COLUMN]: a column of kpis.csv (3 = value, 5 = lower, 6 = upper, 8 = status)
field() {
	awk -F, -v k="$2" -v s="${3:-session}" -v c="${4:-3}" '$1 == k && $2 == s { print $c }' "$1"
}

# within A B PCT: |A - B| <= PCT% of B
within() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= p / 100 * (b < 0 ? -b : b)) }'
}

# inside X LO HI: LO <= X <= HI
inside() {
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && (hi == "+Inf" || x <= hi)) }'
}

cpu_jiffies() { awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= 9; i++) total += $i; print idle, total }' /proc/stat; }

test_expect_success 'setup: load target, synthetic DCGM exporter, node_exporter, a session' '
	load-target --listen "127.0.0.1:$LT_PORT" --latency-ms 4:0.3,12:0.6,60:0.1 --service web 2>lt.log &
	test_cleanup "kill $!"
	dcgm-exporter --listen "127.0.0.1:$DCGM_PORT" --gpus 2 --queue-depth 3 2>dcgm.log &
	test_cleanup "kill $!"
	start_node_exporter "$NE_PORT" &&
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	wait_for 10 curl -sf "http://127.0.0.1:$DCGM_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id col --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon client-connect --session col --client-id c1 --node "$(hostname)" \
		--node-exporter "127.0.0.1:$NE_PORT" --dcgm-exporter "127.0.0.1:$DCGM_PORT" &&
	benchmon service-register --session col --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --session col --wait 60 2>start.err &&
	benchmon status --session col --json >status-after-start.json &&
	wait_for 40 "benchmon status --session col --json | grep -c \"\\\"health\\\":[[:space:]]*\\\"up\\\"\" | grep -qx 3"
'

test_expect_success 'start returns once Prometheus has scraped every target once' '
	cat start.err &&
	python3 -c "import json, sys; t = json.load(open(sys.argv[1]))[\"targets\"]; assert len(t) == 3 and all(x[\"health\"] != \"unknown\" for x in t), t" \
		status-after-start.json &&
	! grep -q "warning" start.err
'

test_expect_success 'a quiet window before the load' '
	sleep 4 && date +%s.%N >quiet-from && sleep 6 && date +%s.%N >quiet-to
'

test_expect_success 'drive the load target with wrk, measuring independently' '
	sleep 2 &&
	cpu_jiffies >cpu-before && date +%s.%N >from &&
	wrk -t2 -c16 -d30s --latency "http://127.0.0.1:$LT_PORT/" >wrk.out &&
	date +%s.%N >to && cpu_jiffies >cpu-after &&
	cat wrk.out && sleep 3
'

test_expect_success 'collect the window' '
	benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(cat to)" --out out --run-id run01 >table &&
	cat table && cat out/kpis.csv &&
	test_path_is_file out/metrics_summary.csv && test_path_is_file out/kpis.csv &&
	test_path_is_file out/timeseries.csv && test_path_is_file out/MANIFEST.json
'

test_expect_success 'metrics_summary.csv starts with the MVP columns, in order' '
	head -1 out/metrics_summary.csv | cut -d, -f1-10 >header &&
	echo "run_id,session_id,from,to,throughput_qps,cpu_util_avg_pct,gpu_util_avg_pct,latency_p50_ms,latency_p95_ms,latency_p99_ms" >expect &&
	test_cmp expect header &&
	sed -n 2p out/metrics_summary.csv | cut -d, -f1,2 >ids && echo "run01,col" >expect && test_cmp expect ids
'

test_expect_success 'throughput is within 2% of wrk requests/sec, which lies within its bounds' '
	wrk_rps=$(awk "/^Requests\/sec:/ { print \$2 }" wrk.out) &&
	ours=$(field out/kpis.csv throughput_qps) &&
	lo=$(field out/kpis.csv throughput_qps session 5) && hi=$(field out/kpis.csv throughput_qps session 6) &&
	wrk_count=$(awk "/ requests in / { print \$1 }" wrk.out) &&
	per_window=$(awk -v n="$wrk_count" -v a="$(cat from)" -v b="$(cat to)" "BEGIN { print n / (b - a) }") &&
	echo "wrk $wrk_rps/s ($per_window over the window) ours $ours in [$lo, $hi]" &&
	within "$ours" "$wrk_rps" 2 &&
	inside "$per_window" "$lo" "$hi"
'

test_expect_success 'per-service and per-node scopes are reported' '
	[ -n "$(field out/kpis.csv throughput_qps service=web)" ] &&
	[ -n "$(field out/kpis.csv throughput_qps "node=$(hostname)")" ]
'

test_expect_success "each percentile's bucket bounds contain wrk's measured percentile" '
	wrk_ms() { awk -v p="$1" "\$1 == p { v = \$2; if (v ~ /us\$/) { sub(/us/, \"\", v); v /= 1000 } else if (v ~ /ms\$/) sub(/ms/, \"\", v); else if (v ~ /s\$/) { sub(/s/, \"\", v); v *= 1000 } print v }" wrk.out; } &&
	for pair in 50%:latency_p50_ms 99%:latency_p99_ms; do
		w=$(wrk_ms "${pair%%:*}") && k=${pair#*:} &&
		lo=$(field out/kpis.csv "$k" session 5) && hi=$(field out/kpis.csv "$k" session 6) &&
		echo "$k: wrk $w ms in [$lo, $hi]?" &&
		inside "$w" "$lo" "$hi" || return 1
	done &&
	[ "$(field out/kpis.csv latency_p95_ms session 8)" = ok ]
'

test_expect_success 'GPU KPIs equal the synthetic values' '
	echo "util $(field out/kpis.csv gpu_util_avg_pct) temp $(field out/kpis.csv gpu_temp_max_c) power $(field out/kpis.csv gpu_power_avg_w)" &&
	within "$(field out/kpis.csv gpu_util_avg_pct)" 30.5 0.1 &&
	within "$(field out/kpis.csv gpu_temp_max_c)" 51 0.1 &&
	within "$(field out/kpis.csv gpu_power_avg_w)" 91.5 0.1 &&
	within "$(field out/kpis.csv gpu_mem_used_avg_mib)" 4074 0.1
'

test_expect_success 'GPU energy matches power times the window' '
	span=$(awk -v a="$(cat from)" -v b="$(cat to)" "BEGIN { print b - a }") &&
	expect=$(awk -v s="$span" "BEGIN { print 183 * s }") &&
	echo "energy $(field out/kpis.csv gpu_energy_j) expected $expect" &&
	within "$(field out/kpis.csv gpu_energy_j)" "$expect" 8
'

test_expect_success 'CPU utilisation is within 5 points of /proc/stat over the window' '
	truth=$(awk "NR == FNR { i0 = \$1; t0 = \$2; next } { print 100 * (1 - (\$1 - i0) / (\$2 - t0)) }" cpu-before cpu-after) &&
	ours=$(field out/kpis.csv cpu_util_avg_pct) &&
	echo "proc/stat $truth ours $ours" &&
	awk -v a="$ours" -v b="$truth" "BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 5) }"
'

test_expect_success 'MANIFEST.json records window, Prometheus, queries, files and findings' '
	python3 - <<-\PY
	import hashlib, json, os
	m = json.load(open("out/MANIFEST.json"))
	for key in ("schema_version", "benchmon_version", "session", "run_id", "window", "prometheus", "job",
	            "targets", "queries", "files", "findings"):
	    assert key in m, key
	assert m["session"] == "col" and m["run_id"] == "run01"
	assert m["prometheus"]["version"].startswith("2."), m["prometheus"]
	assert any("http_server_request_duration_seconds_bucket" in q["promql"] for q in m["queries"])
	names = {f["name"] for f in m["files"]}
	assert names == {"metrics_summary.csv", "kpis.csv", "timeseries.csv"}, names
	for f in m["files"]:
	    data = open(os.path.join("out", f["name"]), "rb").read()
	    assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"], f
	assert {t["kind"] for t in m["targets"]} == {"node", "dcgm", "service"}, m["targets"]
	PY
'

test_expect_success 'timeseries.csv has per-step values for plotting' '
	head -1 out/timeseries.csv | grep -qx "kpi,scope,time,value,unit" &&
	[ "$(grep -c "^throughput_qps,session," out/timeseries.csv)" -ge 50 ]
'

test_expect_success 'a window with no traffic gives no_data, never 0' '
	benchmon collect --session col --from-iso "$(cat quiet-from)" --to-iso "$(cat quiet-to)" --out quiet >/dev/null &&
	cat quiet/kpis.csv &&
	[ "$(field quiet/kpis.csv latency_p50_ms session 8)" = no_data ] &&
	[ -z "$(field quiet/kpis.csv latency_p50_ms)" ] &&
	[ "$(field quiet/kpis.csv throughput_qps session 8)" = no_data ] &&
	[ -z "$(sed -n 2p quiet/metrics_summary.csv | cut -d, -f5)" ] &&
	grep -q "\"kind\":[[:space:]]*\"no_data\"" quiet/MANIFEST.json
'

test_expect_success '--strict turns findings into exit 1' '
	test_expect_code 1 benchmon collect --session col --from-iso "$(cat quiet-from)" --to-iso "$(cat quiet-to)" \
		--out quiet2 --strict 2>err &&
	grep -q "strict" err && test_path_is_file quiet2/MANIFEST.json
'

test_expect_success 'bad windows get clear errors and write nothing' '
	test_expect_code 2 benchmon collect --session col --from-iso "$(cat to)" --to-iso "$(cat from)" --out bad 2>err &&
	grep -q "must be before" err &&
	test_expect_code 2 benchmon collect --session col --from-iso yesterday --to-iso "$(cat to)" --out bad 2>err &&
	grep -q "invalid time" err &&
	test_expect_code 2 benchmon collect --session col --from-iso 2025-10-01T10:00:00 --to-iso 2025-10-01T10:10:00Z --out bad 2>err &&
	grep -q "time zone" err &&
	test_expect_code 1 benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(awk -v f="$(cat from)" "BEGIN { printf \"%.3f\", f + 0.5 }")" --out bad 2>err &&
	grep -q "minimum is 1s" err &&
	test_expect_code 1 benchmon collect --session col --from-iso 2001-01-01T00:00:00Z --to-iso 2001-01-01T01:00:00Z --out bad 2>err &&
	grep -q "no data of session" err &&
	test_path_is_missing bad/MANIFEST.json
'

test_expect_success 'a query Prometheus rejects is named with its KPI and Prometheus'"'"'s message' '
	cat >broken.json <<-\EOF &&
	{ "name": "broken", "kpis": [ { "name": "oops", "kind": "avg", "expr": "sum((node_load1{__SESSION__}" } ] }
	EOF
	test_expect_code 1 benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(cat to)" \
		--profile ./broken.json --out broken 2>err &&
	cat err &&
	grep -q "KPI .oops.: Prometheus answered 400 to query sum((node_load1{session=\"col\"}" err &&
	grep -q "bad_data" err &&
	test_path_is_missing broken/MANIFEST.json
'

test_expect_success 'a malformed profile is named with the KPI and field' '
	echo "{ \"kpis\": [ { \"name\": \"x\", \"kind\": \"median\" } ] }" >bad-kind.json &&
	test_expect_code 1 benchmon collect --session col --last 1m --profile ./bad-kind.json --out bk 2>err &&
	grep -q "bad-kind.json.: KPI .x.: \"kind\" must be" err &&
	test_expect_code 1 benchmon collect --session col --last 1m --profile nosuch --out bk 2>err &&
	grep -q "profiles/nosuch.json" err
'

test_expect_success 'the vLLM profile loads and reports no_data for metrics this run lacks' '
	benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(cat to)" --profile vllm --out vllm >/dev/null &&
	[ "$(field vllm/kpis.csv ttft_p50_ms session 8)" = no_data ] &&
	[ "$(field vllm/kpis.csv gpu_util_avg_pct session 8)" = ok ]
'

test_expect_success 'a repeated collect replaces the artifacts atomically' '
	benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(cat to)" --out out --run-id run01 >/dev/null &&
	[ -z "$(ls out | grep tmp)" ]
'

test_expect_success 'after stop, collect reads the saved TSDB and gives the same numbers' '
	benchmon stop --session col &&
	benchmon collect --session col --from-iso "$(cat from)" --to-iso "$(cat to)" --out after --run-id run01 >/dev/null 2>err;
	cat err && grep -q "temporary Prometheus" err &&
	test_cmp out/kpis.csv after/kpis.csv &&
	grep -q "\"source\":[[:space:]]*\"tsdb_copy\"" after/MANIFEST.json &&
	[ -z "$(pgrep -f "benchmon-collect-")" ]
'

test_done
