#!/bin/bash
# benchmon report of a long run: the time to write the page and its size, for a 3-hour window
# at a 1 s step (timeseries.csv of 13 KPIs, session and per node), on 1 and on 4 nodes. The run
# directories are synthetic (bench/gen-run.py), as collect would leave them. Target: a page
# under 2 MB.
#
# Usage: bench/report.sh  or  BENCH_QUICK=1 bench/report.sh (a 30-minute window)
# Figures inform and never fail the script; a page over 2 MB is reported as such.

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
[ -x "$benchmon" ] || { echo "report.sh: '$benchmon' not found; run make first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "report.sh: python3 is needed to write the run directories" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
# a private copy: a 'make' elsewhere would replace the binary halfway through
cp "$benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	seconds=1800 mode=quick
else
	seconds=10800 mode=full
fi
runs=3

echo "benchmon report ($mode): a ${seconds} s window at a 1 s step, best and median of $runs runs"
printf '%-8s %14s %12s %10s %10s %12s\n' nodes timeseries.csv page best_s median_s peak_RSS_MiB
for nodes in 1 4; do
	dir=$scratch/run-$nodes
	python3 "$repo/bench/gen-run.py" "$dir" --seconds "$seconds" --step 1 --nodes "$nodes" --spike-at 5000 \
		--run-id "long-$nodes"
	: >"$scratch/times"
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' -o "$scratch/time" "$benchmon" report "$dir" -o "$scratch/report.html" >/dev/null
		cat "$scratch/time" >>"$scratch/times"
	done
	page=$(stat -c %s "$scratch/report.html")
	csv=$(stat -c %s "$dir/timeseries.csv")
	sort -n "$scratch/times" | awk -v n="$nodes" -v page="$page" -v csv="$csv" '
		{ t[NR] = $1; if ($2 > rss) rss = $2 }
		END {
			printf "%-8s %11.1f MB %9.2f MB %10.2f %10.2f %12.0f%s\n", n, csv / 1e6, page / 1e6, t[1],
				t[int((NR + 1) / 2)], rss / 1024, page < 2e6 ? "" : "   OVER the 2 MB target"
		}'
done
