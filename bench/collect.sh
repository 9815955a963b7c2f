#!/bin/bash
# Benchmark of 'benchmon collect' against the same queries sent straight to
# Prometheus:
#
#   1. generate an OpenMetrics file of a default-profile session (552 series:
#      20 services, 4 nodes, 16 GPUs) over 3 hours at 1 s, 10,800 samples per
#      series, ending 10 minutes ago (bench/gen-openmetrics.c)
#   2. backfill it with promtool into a TSDB and serve that with Prometheus
#   3. time 'benchmon collect' over the whole 3 h window at a 1 s step (best of
#      3, peak RSS from /usr/bin/time -v)
#   4. send the queries collect sent before it read raw samples through
#      remote read (those of BENCHMON_COLLECT_RAW=1: query_range, and
#      instant queries of raw counter samples) straight to Prometheus, one
#      curl each, all at once (best of 3); once more with --compressed
#   5. report: collect under 0.3 s, and direct / collect (target >= 4x),
#      peak RSS, the session-wide KPIs next to the values the generator
#      expects, and, with strace, a timeline of one collect (last byte
#      received, each artifact renamed)
#
# Usage: bench/collect.sh  or  BENCH_QUICK=1 bench/collect.sh
# Runs from anywhere; times a copy of the repo's ./benchmon (build it with make).
#
# BENCH_QUICK=1: 2 services, 1 node, 1 GPU (66 series) over 20 minutes.
# BENCH_RUNS=N changes the number of timed runs (default 3).
# An instant query's time is the manifest entry's "time" when it has one,
# else the window's end plus one scrape interval (what collect sends).
# The timing target informs and never fails the script; a collect or a query
# that fails does.

set -eu
export LC_ALL=C    # '.' as the decimal point, in EPOCHREALTIME and awk

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
[ -x "$benchmon" ] || { echo "collect.sh: '$benchmon' not found; run make first" >&2; exit 1; }
for tool in cc promtool prometheus curl python3; do
	command -v "$tool" >/dev/null || { echo "collect.sh: '$tool' not found" >&2; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench-collect.XXXXXX")
prom_pid=
cleanup() {
	if [ -n "$prom_pid" ]; then
		kill "$prom_pid" 2>/dev/null || true
		wait "$prom_pid" 2>/dev/null || true
	fi
	# curls still running if we were interrupted during a direct run
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy of the binary: a 'make' elsewhere in the tree would
# otherwise replace it halfway through the run.
cp "$benchmon" "$scratch/benchmon"
built="$(date -r "$benchmon" '+%F %T')"
benchmon=$scratch/benchmon

export HOME=$scratch
export BENCHMON_HOME=$scratch/home
export BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	mode=quick services=2 nodes=1 gpus=1 seconds=1200
else
	mode=full services=20 nodes=4 gpus=4 seconds=10800
fi
runs=${BENCH_RUNS:-3}
ratio_target=4
time_target=0.3

now_s() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
min_of() { printf '%s\n' "$@" | sort -g | head -n1; }
max_of() { printf '%s\n' "$@" | sort -g | tail -n1; }
section() { printf '\n== %s\n' "$*"; }

echo "benchmon collect benchmark ($mode); binary built $built; scratch $scratch"

# 1. The OpenMetrics file ------------------------------------------------------
section "1. OpenMetrics input: $services services, $nodes node(s) x $gpus GPU(s), ${seconds}s at 1s"
cc -O2 -std=c11 -Wall -Wextra -o "$scratch/gen-openmetrics" "$repo/bench/gen-openmetrics.c" -lm
end=$(($(date +%s) - 600))
first=$((end - seconds + 1))
t0=$(now_s)
read -r nseries nsamples < <("$scratch/gen-openmetrics" "$scratch/input.om" "$scratch/expected.csv" \
	"$services" "$nodes" "$gpus" "$seconds" "$end")
t1=$(now_s)
gen_s=$(elapsed "$t0" "$t1")
input_mb=$(du -m "$scratch/input.om" | cut -f1)
from_iso=$(date -u -d "@$first" '+%Y-%m-%dT%H:%M:%SZ')
to_iso=$(date -u -d "@$end" '+%Y-%m-%dT%H:%M:%SZ')
echo "$nseries series, $nsamples samples, $input_mb MB, generated in ${gen_s}s; $from_iso .. $to_iso"

# 2. Backfill and serve ------------------------------------------------------
section "2. promtool backfill and Prometheus"
t0=$(now_s)
promtool tsdb create-blocks-from openmetrics "$scratch/input.om" "$scratch/tsdb" >"$scratch/backfill.log" 2>&1 ||
	{ cat "$scratch/backfill.log" >&2; echo "collect.sh: promtool backfill failed" >&2; exit 1; }
t1=$(now_s)
backfill_s=$(elapsed "$t0" "$t1")
nblocks=$(grep -c '^[0-9A-Z]\{26\} ' "$scratch/backfill.log" || true)
echo "backfill: ${backfill_s}s, $nblocks blocks"
rm -f "$scratch/input.om"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prom_url=http://127.0.0.1:$port
prometheus --config.file=/dev/null --storage.tsdb.path="$scratch/tsdb" --storage.tsdb.retention.time=100y \
	--web.listen-address="127.0.0.1:$port" >"$scratch/prometheus.log" 2>&1 &
prom_pid=$!
t0=$(now_s)
for _ in $(seq 600); do
	curl -sf -o /dev/null "$prom_url/-/ready" && break
	kill -0 "$prom_pid" 2>/dev/null || { cat "$scratch/prometheus.log" >&2; echo "collect.sh: Prometheus exited" >&2; exit 1; }
	sleep 0.1
done
curl -sf -o /dev/null "$prom_url/-/ready" || { echo "collect.sh: Prometheus not ready within 60s" >&2; exit 1; }
echo "Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 { print $3 }') ready at $prom_url in $(elapsed "$t0" "$(now_s)")s"
served=$(curl -sf -G --data-urlencode 'query=count({session="bench"})' -d "time=$end" "$prom_url/api/v1/query" |
	python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
[ "$served" = "$nseries" ] || { echo "collect.sh: Prometheus serves $served series, not $nseries" >&2; exit 1; }

# The session, pointed at our Prometheus.
"$benchmon" session-create --run-id bench --launcher local --scrape-interval 1s >/dev/null
printf '{"state":"running","job_id":"0","url":"%s"}\n' "$prom_url" >"$BENCHMON_HOME/sessions/bench/run.json"

# 3. benchmon collect ----------------------------------------------------------
out=$scratch/out
collect_once() {
	local t0 t1

	t0=$(now_s)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v -o "$scratch/time.txt" "$benchmon" collect --session bench --from-iso "$from_iso" \
			--to-iso "$to_iso" --out "$out" --run-id bench --profile default >"$scratch/collect.log" 2>&1 ||
			{ cat "$scratch/collect.log" >&2; echo "collect.sh: benchmon collect failed" >&2; exit 1; }
	else
		"$benchmon" collect --session bench --from-iso "$from_iso" --to-iso "$to_iso" --out "$out" \
			--run-id bench --profile default >"$scratch/collect.log" 2>&1 ||
			{ cat "$scratch/collect.log" >&2; echo "collect.sh: benchmon collect failed" >&2; exit 1; }
	fi
	t1=$(now_s)
	collect_times+=("$(elapsed "$t0" "$t1")")
	if [ -f "$scratch/time.txt" ]; then
		collect_rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$scratch/time.txt")")
	fi
}

# 4. The same queries, straight to Prometheus ----------------------------------
direct_once() {
	local t0 t1 i=0 pids=() endpoint params q

	rm -f "$scratch"/direct.*
	t0=$(now_s)
	while IFS=$'\t' read -r endpoint params q; do
		curl -s "$@" -o /dev/null -w '%{http_code} %{size_download}\n' -G --data-urlencode "query=$q" \
			-d "$params" "$prom_url$endpoint" >"$scratch/direct.$i" &
		pids+=($!)
		i=$((i + 1))
	done <"$scratch/queries.tsv"
	for pid in "${pids[@]}"; do
		wait "$pid" || { echo "collect.sh: a direct query failed (curl)" >&2; exit 1; }
	done
	t1=$(now_s)
	direct_times+=("$(elapsed "$t0" "$t1")")
	if awk '$1 != 200 { bad = 1 } END { exit !bad }' "$scratch"/direct.*; then
		echo "collect.sh: Prometheus did not answer 200 to every direct query:" >&2
		paste "$scratch/queries.tsv" <(for j in $(seq 0 $((i - 1))); do cat "$scratch/direct.$j"; done) >&2
		exit 1
	fi
}

# One collect under strace: when the last byte arrived and each artifact was renamed.
timeline() {
	strace -f -ttt -e trace=execve,%network,rename,renameat,renameat2,exit_group -o "$scratch/strace.txt" \
		"$benchmon" collect --session bench --from-iso "$from_iso" --to-iso "$to_iso" --out "$out" \
		--run-id bench --profile default >/dev/null 2>&1 || { echo "collect.sh: collect under strace failed" >&2; exit 1; }
	awk '
		{ t = $2 + 0 }
		!start { start = t }
		/ connect\(/ && !conn { conn = t; printf "  +%6.3fs  first connect\n", t - start }
		/ recv(from|msg)?\(/ { last_recv = t }
		/ rename(at2?)?\(/ {
			if (!printed_recv) { printf "  +%6.3fs  last byte received from Prometheus\n", last_recv - start; printed_recv = 1 }
			name = $0; sub(/^[^"]*"/, "", name); sub(/".*/, "", name); sub(/\.tmp\.[0-9]+$/, "", name); sub(/.*\//, "", name)
			printf "  +%6.3fs  %s written\n", t - start, name
		}
		/exit_group\(/ { printf "  +%6.3fs  exit\n", t - start }
	' "$scratch/strace.txt"
}

section "3./4. collect vs the queries it sent before, straight to Prometheus (best of $runs, alternating, after a warm-up)"
collect_times=() collect_rss=() direct_times=()
collect_once    # warm-up (Prometheus's page cache)
# the MANIFEST.json the direct queries come from: every sample and every gauge per step, as collect read them before
BENCHMON_COLLECT_RAW=1 "$benchmon" collect --session bench --from-iso "$from_iso" --to-iso "$to_iso" \
	--out "$scratch/raw" --run-id bench --profile default >"$scratch/collect-raw.log" 2>&1 ||
	{ cat "$scratch/collect-raw.log" >&2; echo "collect.sh: BENCHMON_COLLECT_RAW=1 collect failed" >&2; exit 1; }
collect_times=() collect_rss=()
python3 - "$scratch/raw/MANIFEST.json" "$scratch/queries.tsv" "$scratch/window.txt" <<'EOF'
import datetime, json, sys

def epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

m = json.load(open(sys.argv[1]))
w = m["window"]
start, end, step = epoch(w["first_point"]), epoch(w["to"]), w["step_seconds"]
instant = end + w["scrape_interval_seconds"]
counts = {}
with open(sys.argv[2], "w") as f:
    for q in m["queries"]:
        ep, promql = q["endpoint"], q["promql"]
        assert "\n" not in promql and "\t" not in promql
        if ep == "/api/v1/query_range":
            params = "start=%.3f&end=%.3f&step=%g" % (epoch(q["start"]) if "start" in q else start,
                                                      epoch(q["end"]) if "end" in q else end, q.get("step", step))
        elif ep == "/api/v1/query":
            params = "time=%.3f" % (epoch(q["time"]) if "time" in q else instant)
        else:
            sys.exit("collect.sh: unknown endpoint %s in MANIFEST.json" % ep)
        counts[ep] = counts.get(ep, 0) + 1
        f.write("%s\t%s\t%s\n" % (ep, params, promql))
with open(sys.argv[3], "w") as f:
    f.write("%.3f %.3f %g %d %s\n" % (start, end, step, w["points"],
            ",".join("%d %s" % (n, ep.rsplit("/", 1)[1]) for ep, n in sorted(counts.items()))))
EOF
read -r q_start q_end q_step q_points q_kinds <"$scratch/window.txt"
nqueries=$(wc -l <"$scratch/queries.tsv")
echo "$nqueries queries ($q_kinds), start=$q_start end=$q_end step=${q_step}s ($q_points points per series)"
direct_once     # warm-up of the direct path too
direct_times=()
for run in $(seq "$runs"); do
	collect_once
	direct_once
	echo "run $run: collect ${collect_times[-1]}s, direct ${direct_times[-1]}s"
done
direct_mb=$(cat "$scratch"/direct.* | awk '{ s += $2 } END { printf "%.1f", s / 1e6 }')
# what collect's libcurl asks for (Accept-Encoding: gzip): Prometheus then compresses every answer
saved_times=("${direct_times[@]}")
direct_times=()
direct_once --compressed
gzip_s=${direct_times[0]}
gzip_mb=$(cat "$scratch"/direct.* | awk '{ s += $2 } END { printf "%.1f", s / 1e6 }')
direct_times=("${saved_times[@]}")
collect_s=$(min_of "${collect_times[@]}")
direct_s=$(min_of "${direct_times[@]}")
ratio=$(awk -v c="$collect_s" -v d="$direct_s" 'BEGIN { printf "%.2f", d / c }')
verdict=$(awk -v r="$ratio" -v t="$ratio_target" 'BEGIN { print (r >= t) ? "PASS" : "MISS" }')
time_verdict=$(awk -v c="$collect_s" -v t="$time_target" 'BEGIN { print (c < t) ? "PASS" : "MISS" }')
nread=$(python3 -c 'import json, sys; print(sum(q["endpoint"] == "/api/v1/read" for q in json.load(open(sys.argv[1]))["queries"]))' "$out/MANIFEST.json")
nquery=$(python3 -c 'import json, sys; print(sum(q["endpoint"] != "/api/v1/read" for q in json.load(open(sys.argv[1]))["queries"]))' "$out/MANIFEST.json")
if [ "${#collect_rss[@]}" -gt 0 ]; then
	rss="$(awk -v k="$(max_of "${collect_rss[@]}")" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
else
	rss="n/a (no /usr/bin/time: apt-get install time)"
fi

# 5. Report --------------------------------------------------------------------
section "5. Report ($mode)"
printf '%-34s %s\n' \
	"series" "$nseries" \
	"samples" "$nsamples ($((nsamples / nseries)) per series, ${input_mb} MB of OpenMetrics)" \
	"backfill (promtool)" "${backfill_s}s" \
	"collect's requests" "$nread remote reads, $nquery PromQL queries" \
	"the queries before (direct)" "$nqueries ($q_kinds), $direct_mb MB of JSON" \
	"collect wall (best of $runs)" "${collect_s}s   [${collect_times[*]}] (target < ${time_target}s: $time_verdict)" \
	"direct curl wall (best of $runs)" "${direct_s}s   [${direct_times[*]}]" \
	"direct curl --compressed (1 run)" "${gzip_s}s   ($gzip_mb MB of gzip)" \
	"direct / collect (target >= ${ratio_target}x)" "${ratio}x $verdict" \
	"collect peak RSS" "$rss"

echo
echo "session KPIs (kpis.csv) next to the generator's expected values:"
python3 - "$out/kpis.csv" "$scratch/expected.csv" <<'EOF'
import csv, sys
expected = {r["kpi"]: float(r["expected"]) for r in csv.DictReader(open(sys.argv[2]))}
print("%-26s %16s %-6s %16s %9s  %s" % ("kpi", "value", "unit", "expected", "diff", "status"))
for r in csv.DictReader(open(sys.argv[1])):
    if r["scope"] != "session":
        continue
    e = expected.get(r["kpi"])
    d = ""
    if e is not None and r["value"] != "":
        d = "%.4f%%" % (100.0 * (float(r["value"]) - e) / e) if e else "%g" % (float(r["value"]) - e)
    bounds = " [%s, %s]" % (r["lower"], r["upper"]) if r.get("lower") else ""
    print("%-26s %16s %-6s %16s %9s  %s%s" % (r["kpi"], r["value"], r["unit"],
          "" if e is None else "%.3f" % e, d, r["status"], bounds))
EOF
if command -v strace >/dev/null; then
	echo
	echo "timeline of one collect under strace (slower than the timed runs):"
	timeline
fi
findings=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$out/MANIFEST.json")
echo "findings in MANIFEST.json: $findings"
