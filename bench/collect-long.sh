#!/bin/bash
# Long windows: 'benchmon collect' reading raw samples through remote read
# and reducing each series as it streams in (the default), against the same
# through PromQL (BENCHMON_COLLECT_READ=0: edge samples, resets and counts
# anchored with @, gauges as sums and counts of subqueries), against collect
# fetching every raw sample and every gauge per step (BENCHMON_COLLECT_RAW=1,
# as collect did before), and against the raw collect's queries sent straight
# to Prometheus:
#
#   1. 3 h at 1 s, 552 series (20 services, 4 nodes x 4 GPUs): best of 3 of
#      each; target: sparse under 0.3 s and at least 4x faster than direct
#   2. 24 h at 1 s, 516 series (18 services): sparse's time and peak RSS
#      (/usr/bin/time -v); target under 100 MiB; raw once, for comparison
#   In both, the sparse kpis.csv must equal the raw one byte for byte (every
#   KPI, scope, value, bound and sample count), and the session KPIs are
#   printed next to the generator's expected values.
#
# Usage: bench/collect-long.sh   or   BENCH_QUICK=1 bench/collect-long.sh
# BENCH_QUICK=1: 20 minutes and 2 hours over 66 series instead.
# The generated, backfilled TSDBs are kept in $BENCH_CACHE (default
# ${TMPDIR:-/tmp}/benchmon-bench-cache) so reruns skip generation; remove it
# to start over. Timing targets inform and never fail the script; a collect
# that fails, or KPIs that differ, do.

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$repo/benchmon" ] || { echo "collect-long.sh: '$repo/benchmon' not found; run make first" >&2; exit 1; }
for tool in cc promtool prometheus curl python3; do
	command -v "$tool" >/dev/null || { echo "collect-long.sh: '$tool' not found" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "collect-long.sh: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

cache=${BENCH_CACHE:-${TMPDIR:-/tmp}/benchmon-bench-cache}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench-long.XXXXXX")
prom_pid=
cleanup() {
	if [ -n "$prom_pid" ]; then
		kill "$prom_pid" 2>/dev/null || true
		wait "$prom_pid" 2>/dev/null || true
	fi
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$repo/benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon
export HOME=$scratch BENCHMON_HOME=$scratch/home BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF BENCHMON_COLLECT_RAW
runs=${BENCH_RUNS:-3}

now_s() { printf '%s\n' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
min_of() { printf '%s\n' "$@" | sort -g | head -n1; }

# A TSDB of SECONDS at 1 s, cached by its parameters: dir with tsdb/, expected.csv, meta (series first end).
tsdb_for() { # services nodes gpus seconds
	local dir=$cache/$1-$2-$3-$4 end
	if [ ! -f "$dir/meta" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		cc -O2 -std=c11 -o "$scratch/gen-openmetrics" "$repo/bench/gen-openmetrics.c" -lm
		end=$(($(date +%s) - 600))
		read -r nseries _ < <("$scratch/gen-openmetrics" "$dir/input.om" "$dir/expected.csv" "$1" "$2" "$3" "$4" "$end")
		promtool tsdb create-blocks-from openmetrics "$dir/input.om" "$dir/tsdb" >"$dir/backfill.log" 2>&1 ||
			{ cat "$dir/backfill.log" >&2; echo "collect-long.sh: backfill failed" >&2; exit 1; }
		rm -f "$dir/input.om"
		echo "$nseries $((end - $4 + 1)) $end" >"$dir/meta"
	fi
	echo "$dir"
}

serve() { # tsdb dir
	if [ -n "$prom_pid" ]; then kill "$prom_pid"; wait "$prom_pid" 2>/dev/null || true; fi
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	prom_url=http://127.0.0.1:$port
	# a copy: Prometheus compacts and writes into what it serves
	rm -rf "$scratch/tsdb" && cp -r "$1/tsdb" "$scratch/tsdb"
	prometheus --config.file=/dev/null --storage.tsdb.path="$scratch/tsdb" --storage.tsdb.retention.time=100y \
		--web.listen-address="127.0.0.1:$port" >"$scratch/prometheus.log" 2>&1 &
	prom_pid=$!
	for _ in $(seq 1200); do
		curl -sf -o /dev/null "$prom_url/-/ready" && break
		kill -0 "$prom_pid" 2>/dev/null || { cat "$scratch/prometheus.log" >&2; exit 1; }
		sleep 0.1
	done
	rm -rf "$BENCHMON_HOME"
	"$benchmon" session-create --run-id bench --launcher local --scrape-interval 1s >/dev/null
	printf '{"state":"running","job_id":"0","url":"%s"}\n' "$prom_url" >"$BENCHMON_HOME/sessions/bench/run.json"
}

collect() { # out raw(0|1) [read(1|0)]; appends the time to times, peak RSS (KiB) to rss
	local t0 t1
	t0=$(now_s)
	BENCHMON_COLLECT_RAW=$2 BENCHMON_COLLECT_READ=${3:-1} /usr/bin/time -v -o "$scratch/time.txt" "$benchmon" collect --session bench \
		--from-iso "$from_iso" --to-iso "$to_iso" --out "$1" --run-id bench --profile default \
		>"$scratch/collect.log" 2>&1 || { cat "$scratch/collect.log" >&2; return 1; }
	t1=$(now_s)
	times+=("$(elapsed "$t0" "$t1")")
	rss+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$scratch/time.txt")")
}

# The queries of a collect's MANIFEST.json, each with its own time, all at once with curl.
direct() { # manifest
	local t0 t1 i=0 pids=()
	python3 - "$1" >"$scratch/queries.tsv" <<'PY'
import datetime, json, sys
def epoch(t): return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
m = json.load(open(sys.argv[1])); w = m["window"]
start, end, step = epoch(w["first_point"]), epoch(w["to"]), w["step_seconds"]
for q in m["queries"]:
    if q["endpoint"] == "/api/v1/query_range":
        p = "start=%.3f&end=%.3f&step=%g" % (epoch(q.get("start", w["first_point"])), epoch(q.get("end", w["to"])),
                                             q.get("step", step))
    else:
        p = "time=%.3f" % epoch(q["time"])
    print("%s\t%s\t%s" % (q["endpoint"], p, q["promql"]))
PY
	t0=$(now_s)
	while IFS=$'\t' read -r endpoint params q; do
		curl -s -o /dev/null -w '%{http_code}\n' -G --data-urlencode "query=$q" -d "$params" \
			"$prom_url$endpoint" >"$scratch/direct.$i" &
		pids+=($!)
		i=$((i + 1))
	done <"$scratch/queries.tsv"
	for pid in "${pids[@]}"; do wait "$pid"; done
	t1=$(now_s)
	! grep -vqx 200 "$scratch"/direct.* || { echo "collect-long.sh: a direct query failed" >&2; exit 1; }
	times+=("$(elapsed "$t0" "$t1")")
}

kpis_of() { # kpis.csv expected.csv
	python3 - "$1" "$2" <<'PY'
import csv, sys
exp = {r["kpi"]: float(r["expected"]) for r in csv.DictReader(open(sys.argv[2]))}
for r in csv.DictReader(open(sys.argv[1])):
    if r["scope"] == "session":
        e = exp.get(r["kpi"])
        print("  %-26s %16s %-6s expected %16s  %s" % (r["kpi"], r["value"], r["unit"], "" if e is None else "%.3f" % e, r["status"]))
PY
}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	short=(2 1 1 1200) long=(2 1 1 7200)
else
	short=(20 4 4 10800) long=(18 4 4 86400)
fi

echo "benchmon collect, long windows; cache $cache"
# 1. ---------------------------------------------------------------------------
dir=$(tsdb_for "${short[@]}")
read -r nseries first end <"$dir/meta"
from_iso=$(date -u -d "@$first" '+%Y-%m-%dT%H:%M:%SZ') to_iso=$(date -u -d "@$end" '+%Y-%m-%dT%H:%M:%SZ')
serve "$dir"
echo
echo "== 1. ${short[3]} s window at 1 s, $nseries series ($from_iso .. $to_iso)"
times=() rss=()
collect "$scratch/sparse" 0 && collect "$scratch/raw" 1 || exit 1   # warm-up
times=() rss=()
for _ in $(seq "$runs"); do collect "$scratch/sparse" 0; done
sparse_t=("${times[@]}") sparse_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
times=() rss=()
for _ in $(seq "$runs"); do collect "$scratch/promql" 0 0; done
promql_t=("${times[@]}") promql_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
times=() rss=()
for _ in $(seq "$runs"); do collect "$scratch/raw" 1; done
raw_t=("${times[@]}") raw_rss=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
times=()
direct "$scratch/raw/MANIFEST.json"
times=()
for _ in $(seq "$runs"); do direct "$scratch/raw/MANIFEST.json"; done
direct_t=("${times[@]}")
s=$(min_of "${sparse_t[@]}") r=$(min_of "${raw_t[@]}") d=$(min_of "${direct_t[@]}") p=$(min_of "${promql_t[@]}")
nq_sparse=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["queries"]))' "$scratch/sparse/MANIFEST.json")
nq_raw=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["queries"]))' "$scratch/raw/MANIFEST.json")
nq_promql=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["queries"]))' "$scratch/promql/MANIFEST.json")
printf '  %-40s %ss  [%s]  peak RSS %d MiB, %s requests\n' "collect (best of $runs)" "$s" "${sparse_t[*]}" $((sparse_rss / 1024)) "$nq_sparse"
printf '  %-40s %ss  [%s]  peak RSS %d MiB, %s queries\n' "through PromQL (BENCHMON_COLLECT_READ=0)" "$p" "${promql_t[*]}" $((promql_rss / 1024)) "$nq_promql"
printf '  %-40s %ss  [%s]  peak RSS %d MiB, %s queries\n' "raw collect (BENCHMON_COLLECT_RAW=1)" "$r" "${raw_t[*]}" $((raw_rss / 1024)) "$nq_raw"
printf '  %-40s %ss  [%s]\n' "raw collect's queries straight to Prometheus" "$d" "${direct_t[*]}"
awk -v s="$s" -v d="$d" -v r="$r" -v p="$p" 'BEGIN { printf "  collect under 0.3 s: %s; direct / collect %.1fx (target >= 4x): %s; PromQL / collect %.1fx; raw / collect %.1fx\n", (s < 0.3 ? "PASS" : "MISS"), d / s, (d / s >= 4 ? "PASS" : "MISS"), p / s, r / s }'
if ! cmp -s "$scratch/sparse/kpis.csv" "$scratch/promql/kpis.csv" ||
   ! cmp -s "$scratch/sparse/timeseries.csv" "$scratch/promql/timeseries.csv"; then
	echo "collect-long.sh: remote read and PromQL kpis.csv or timeseries.csv differ:" >&2
	diff "$scratch/promql/kpis.csv" "$scratch/sparse/kpis.csv" >&2 | head -20 || true
	exit 1
fi
if cmp -s "$scratch/sparse/kpis.csv" "$scratch/raw/kpis.csv"; then
	echo "  kpis.csv: remote read, PromQL and raw identical ($(($(wc -l <"$scratch/sparse/kpis.csv") - 1)) rows); timeseries.csv: remote read and PromQL identical"
else
	echo "collect-long.sh: sparse and raw kpis.csv differ:" >&2
	diff "$scratch/raw/kpis.csv" "$scratch/sparse/kpis.csv" >&2 || true
	exit 1
fi
kpis_of "$scratch/sparse/kpis.csv" "$dir/expected.csv"

# 2. ---------------------------------------------------------------------------
dir=$(tsdb_for "${long[@]}")
read -r nseries first end <"$dir/meta"
from_iso=$(date -u -d "@$first" '+%Y-%m-%dT%H:%M:%SZ') to_iso=$(date -u -d "@$end" '+%Y-%m-%dT%H:%M:%SZ')
serve "$dir"
echo
echo "== 2. ${long[3]} s window at 1 s, $nseries series ($from_iso .. $to_iso)"
times=() rss=()
collect "$scratch/sparse" 0
printf '  %-40s %ss  peak RSS %d MiB (target < 100 MiB: %s)\n' "collect" "${times[0]}" $((rss[0] / 1024)) \
	"$([ "${rss[0]}" -lt 102400 ] && echo PASS || echo MISS)"
times=() rss=()
collect "$scratch/promql" 0 0
printf '  %-40s %ss  peak RSS %d MiB\n' "through PromQL (BENCHMON_COLLECT_READ=0)" "${times[0]}" $((rss[0] / 1024))
if ! cmp -s "$scratch/sparse/kpis.csv" "$scratch/promql/kpis.csv" ||
   ! cmp -s "$scratch/sparse/timeseries.csv" "$scratch/promql/timeseries.csv"; then
	echo "collect-long.sh: remote read and PromQL kpis.csv or timeseries.csv differ:" >&2
	diff "$scratch/promql/kpis.csv" "$scratch/sparse/kpis.csv" >&2 | head -20 || true
	exit 1
fi
echo "  kpis.csv and timeseries.csv: remote read and PromQL identical"
times=() rss=()
if collect "$scratch/raw" 1; then
	printf '  %-40s %ss  peak RSS %d MiB\n' "raw collect (BENCHMON_COLLECT_RAW=1)" "${times[0]}" $((rss[0] / 1024))
	if cmp -s "$scratch/sparse/kpis.csv" "$scratch/raw/kpis.csv"; then
		echo "  kpis.csv: sparse and raw identical"
	else
		echo "collect-long.sh: sparse and raw kpis.csv differ:" >&2
		diff "$scratch/raw/kpis.csv" "$scratch/sparse/kpis.csv" >&2 || true
		exit 1
	fi
else
	echo "  raw collect (BENCHMON_COLLECT_RAW=1) failed: $(grep -m1 'error:' "$scratch/collect.log" | cut -c1-160)"
fi
kpis_of "$scratch/sparse/kpis.csv" "$dir/expected.csv"
