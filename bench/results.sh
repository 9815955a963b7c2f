#!/bin/bash
# Speed of the commands that read finished runs:
#
#   1. 'benchmon runs' (table, --csv, --json) over 1,000 run directories
#      (target: under 0.5 s), each a MANIFEST.json of 80 KPI rows (16 KPIs for
#      the session and 4 nodes), 30 queries and 2 findings, about 30 KB
#   2. 'benchmon compare --by' of two groups of 20 runs (Mann-Whitney U per KPI)
#
# Usage: bench/results.sh  or  BENCH_QUICK=1 bench/results.sh (100 runs)
# Times a private copy of the repo's ./benchmon (build it with make) in a
# scratch directory removed on exit. Prints figures; never fails on time.

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
[ -x "$benchmon" ] || { echo "results.sh: '$benchmon' not found; run make first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "results.sh: /usr/bin/time (Debian package time) is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "results.sh: python3 is needed to write the run directories" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
cp "$benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon
export HOME=$scratch BENCHMON_HOME=$scratch/home BENCHMON_DATADIR=$repo

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	nruns=100 reps=5
else
	nruns=1000 reps=10
fi

# one template run, then copies of it with their own ids, times, labels and values
kpis=()
for k in throughput_qps latency_p50_ms latency_p95_ms latency_p99_ms cpu_util_avg_pct mem_used_avg_pct \
	net_rx_bytes_per_s net_tx_bytes_per_s load1_avg gpu_util_avg_pct gpu_mem_used_avg_mib gpu_temp_max_c \
	gpu_power_avg_w gpu_energy_j throughput_qps_peak_1m disk_io_avg; do
	for scope in session node=n1 node=n2 node=n3 node=n4; do
		kpis+=(--kpi "$k=100:90:110@$scope")
	done
done
"$repo/tests/fixtures/make-run" "$scratch/template" --queries 30 --finding target_down --finding missing_scrapes:optional \
	--label concurrency=1 --label rep=1 "${kpis[@]}"
python3 - "$scratch" "$nruns" <<'PY'
import json, os, random, sys
scratch, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
t = json.load(open(os.path.join(scratch, "template", "MANIFEST.json")))
levels = ["1", "2", "4", "8"]
def write(root, i, level, rep):
    d = os.path.join(root, "run%04d" % i)
    os.makedirs(d)
    m = json.loads(json.dumps(t))
    m["run_id"] = "run%04d" % i
    m["labels"] = {"concurrency": level, "rep": str(rep)}
    start = 1764000000 + 60 * i
    m["window"]["from"] = "%sZ" % __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(start))
    m["window"]["to"] = "%sZ" % __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(start + 30))
    for k in m["kpis"]:
        v = 100 * int(level) * random.uniform(0.95, 1.05)
        k["value"], k["lower"], k["upper"] = v, v * 0.98, v * 1.02
    json.dump(m, open(os.path.join(d, "MANIFEST.json"), "w"), indent=2)
for i in range(n):
    write(os.path.join(scratch, "many"), i, levels[i % 4], i // 4)
for i in range(40):
    write(os.path.join(scratch, "groups"), i, ["1", "8"][i % 2], i // 2)
PY
size=$(du -sk "$scratch/many" | cut -f1)
one=$(stat -c %s "$scratch/many/run0000/MANIFEST.json")

# "WALL CPU": median wall and CPU (user + system) times in ms of reps runs of a
# command, output discarded. CPU time is the figure that does not depend on
# what else the machine runs.
median_ms() {
	local i
	for ((i = 0; i < reps; i++)); do
		/usr/bin/time -f "%e %U %S" -o "$scratch/time" "$@" >/dev/null 2>&1
		tail -1 "$scratch/time"
	done | awk '{ printf "%.0f %.0f\n", $1 * 1000, ($2 + $3) * 1000 }' >"$scratch/times"
	printf '%s %s' "$(cut -d' ' -f1 "$scratch/times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
		"$(cut -d' ' -f2 "$scratch/times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
}

peak_kib() {
	/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
}

echo "benchmon results bench: $nruns runs ($((size / 1024)) MiB, $((one / 1024)) KiB per MANIFEST.json), median of $reps"
# warm the page cache: the figures are for runs already read once
"$benchmon" runs "$scratch/many" >/dev/null
"$benchmon" runs "$scratch/many" | tail -n +2 | wc -l | awk -v n="$nruns" '$1 != n { print "runs listed " $1 " of " n; exit 1 }'
report() {
	local what=$1 note=$2 t
	shift 2
	t=$(median_ms "$@")
	printf '  %-36s %7s ms wall %7s ms CPU  %s\n' "$what" "${t% *}" "${t#* }" "$note"
}
report "runs (table)" "(target < 500 ms for 1,000; peak RSS $(peak_kib "$benchmon" runs "$scratch/many") KiB)" \
	"$benchmon" runs "$scratch/many"
report "runs --csv" "" "$benchmon" runs --csv "$scratch/many"
report "runs --json" "" "$benchmon" runs --json "$scratch/many"
"$benchmon" compare --by concurrency=1,8 "$scratch/groups" >"$scratch/cmp.txt"
grep -q "n=20+20" "$scratch/cmp.txt" || { echo "compare did not see 20+20 runs"; cat "$scratch/cmp.txt"; exit 1; }
report "compare --by, 20 vs 20 runs" "(16 session KPIs)" "$benchmon" compare --by concurrency=1,8 "$scratch/groups"
report "compare --all-scopes --by, 20 vs 20" "(80 KPI rows)" "$benchmon" compare --all-scopes --by concurrency=1,8 "$scratch/groups"
echo "  load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
