#!/bin/bash
# How far one Prometheus started by benchmon goes: for a growing number of
# nodes, each with a node_exporter-sized target (1,000 series) and a DCGM
# target (50 series per GPU, 4 GPUs), all scraped every second:
#
#   - start-to-ready: 'benchmon start' until Prometheus is ready and every
#     target was scraped once (start's default --wait-targets);
#   - missed scrapes over a window of W seconds: the scrapes a 1 s interval
#     owes (targets x W) against those Prometheus stored (count_over_time of
#     'up') and those that succeeded (sum_over_time of 'up');
#   - the scrape interval Prometheus actually kept (its own p99), the longest
#     scrape, and the CPU it used;
#   - memory per series: Prometheus's resident memory over its head series.
#
# Usage: bench/capacity.sh [NODES...]  or  BENCH_QUICK=1 bench/capacity.sh
# Default node counts: 25 50 100 200 300 (quick: 10 50, shorter windows).
# CAPACITY_WINDOW=SECONDS sets W (default 60, quick 15).
# Figures only: nothing here fails on a slow machine. The load average at
# each step is printed, since the scrapes share the CPUs with everything else.

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
synth=$repo/bench/synth-exporter
for f in "$benchmon" "$synth"; do
	[ -x "$f" ] || { echo "capacity.sh: '$f' not found; run 'make bench/synth-exporter' first" >&2; exit 1; }
done
for cmd in prometheus curl python3; do
	command -v "$cmd" >/dev/null || { echo "capacity.sh: $cmd is not installed" >&2; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-capacity.XXXXXX")
synth_pid=
session=
cleanup() {
	if [ -n "$session" ]; then
		"$benchmon" delete --session "$session" --force >/dev/null 2>&1 || true
	fi
	[ -z "$synth_pid" ] || kill "$synth_pid" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon
export HOME=$scratch
export BENCHMON_HOME=$scratch/home
export BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF

gpus=4
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	mode=quick window=${CAPACITY_WINDOW:-15} default_nodes="10 50"
else
	mode=full window=${CAPACITY_WINDOW:-60} default_nodes="25 50 100 200 300"
fi
nodes_list=${*:-$default_nodes}

# first_free_block COUNT FROM: the first port p >= FROM with p..p+COUNT-1 all free.
first_free_block() {
	local count=$1 p=$2
	local used
	used=$(ss -Htln | awk '{ n = split($4, a, ":"); print a[n] }' | sort -n -u)
	while :; do
		if ! awk -v lo="$p" -v hi="$((p + count - 1))" '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }' <<<"$used"; then
			echo "$p"
			return
		fi
		p=$((p + count))
	done
}

# prom_query EXPR: the first sample's value of an instant query, at $query_time.
prom_query() {
	printf 'user = "benchmon:%s"\n' "$(cat "$BENCHMON_HOME/sessions/$session/prometheus.password")" |
		curl -sf -K - "http://127.0.0.1:$prom_port/api/v1/query" \
			--data-urlencode "query=$1" --data-urlencode "time=$query_time" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "nan")'
}

# proc_ticks PID: user + system CPU time of a process, in clock ticks.
proc_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# prom_self NAME: a metric of Prometheus's own /metrics page (first sample).
prom_self() {
	printf 'user = "benchmon:%s"\n' "$(cat "$BENCHMON_HOME/sessions/$session/prometheus.password")" |
		curl -sf -K - "http://127.0.0.1:$prom_port/metrics" |
		awk -v n="$1" 'index($0, n) == 1 && substr($0, length(n) + 1, 1) ~ /[ {]/ { print $NF; exit }'
}

echo "benchmon capacity benchmark ($mode mode): one Prometheus, 1 s scrape interval"
printf '  %-10s %s\n' \
	tree "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)" \
	prometheus "$(prometheus --version 2>&1 | head -1)" \
	host "$(uname -sr), $(nproc) cpus, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)" \
	per-node "1 node_exporter-sized target (1,000 series) + 1 DCGM target ($gpus GPUs x 50 series)" \
	window "$window s per step, measured after every target was scraped once"
echo
printf '  %5s %7s %9s %8s %8s %9s %8s %8s %7s %7s %8s %9s %9s %6s\n' \
	nodes targets series start_s stored_% ok_% int_p99 scr_max cpu exp_cpu rss_MiB KiB/series marginal load1
prev_rss= prev_series=

for nodes in $nodes_list; do
	targets=$((2 * nodes))
	base=$(first_free_block "$targets" 23000)
	prom_port=$(first_free_block 1 22900)
	"$synth" --listen 127.0.0.1 --node-ports "$base:$nodes" --dcgm-ports "$((base + nodes)):$nodes" \
		--gpus "$gpus" 2>"$scratch/synth.log" &
	synth_pid=$!
	for _ in $(seq 50); do
		grep -q listening "$scratch/synth.log" && break
		sleep 0.1
	done
	grep -q listening "$scratch/synth.log" || { cat "$scratch/synth.log" >&2; exit 1; }

	session=cap$nodes
	"$benchmon" session-create --run-id "$session" --launcher local --listen 127.0.0.1 \
		--port "$prom_port" --scrape-interval 1s >/dev/null
	for ((i = 0; i < nodes; i++)); do
		"$benchmon" client-connect --session "$session" --client-id "n$i" --node "node$i" \
			--node-exporter "127.0.0.1:$((base + i))" \
			--dcgm-exporter "127.0.0.1:$((base + nodes + i))" >/dev/null
	done

	t0=$EPOCHREALTIME
	"$benchmon" start --session "$session" --wait 600 2>"$scratch/start.log" ||
		{ cat "$scratch/start.log" >&2; exit 1; }
	t1=$EPOCHREALTIME
	start_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

	cpu0=$(prom_self process_cpu_seconds_total)
	synth_ticks0=$(proc_ticks "$synth_pid")
	sleep "$window"
	cpu1=$(prom_self process_cpu_seconds_total)
	synth_ticks1=$(proc_ticks "$synth_pid")
	# The window ends a scrape interval before the query, so every scrape in it
	# has been stored.
	query_time=$(awk -v t="$EPOCHREALTIME" 'BEGIN { printf "%.3f", t - 1 }')
	range="${window}s"
	stored=$(prom_query "sum(count_over_time(up[$range]))")
	ok=$(prom_query "sum(sum_over_time(up[$range]))")
	scrape_max=$(prom_query "max(max_over_time(scrape_duration_seconds[$range]))")
	series=$(prom_self prometheus_tsdb_head_series)
	rss=$(prom_self process_resident_memory_bytes)
	interval_p99=$(prom_self 'prometheus_target_interval_length_seconds{interval="1s",quantile="0.99"}')
	owed=$((targets * window))

	marginal=-
	[ -z "$prev_rss" ] || marginal=$(awk -v r="$rss" -v s="$series" -v pr="$prev_rss" -v ps="$prev_series" \
		'BEGIN { printf "%.2f", (r - pr) / 1024 / (s - ps) }')
	prev_rss=$rss prev_series=$series
	printf '  %5d %7d %9d %8s %8.1f %9.1f %8.3f %8.3f %7.2f %7.2f %8.0f %9.2f %9s %6s\n' \
		"$nodes" "$targets" "$series" "$start_s" \
		"$(awk -v s="$stored" -v o="$owed" 'BEGIN { print 100 * s / o }')" \
		"$(awk -v s="$ok" -v o="$owed" 'BEGIN { print 100 * s / o }')" \
		"${interval_p99:-nan}" "$scrape_max" \
		"$(awk -v a="$cpu0" -v b="$cpu1" -v w="$window" 'BEGIN { print (b - a) / w }')" \
		"$(awk -v a="$synth_ticks0" -v b="$synth_ticks1" -v w="$window" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { print (b - a) / hz / w }')" \
		"$(awk -v r="$rss" 'BEGIN { print r / 1048576 }')" \
		"$(awk -v r="$rss" -v s="$series" 'BEGIN { print r / 1024 / s }')" "$marginal" \
		"$(cut -d' ' -f1 /proc/loadavg)"

	"$benchmon" delete --session "$session" --force >/dev/null 2>&1
	session=
	kill "$synth_pid"
	wait "$synth_pid" 2>/dev/null || true
	synth_pid=
done

echo
echo "stored_%: scrapes stored of those a 1 s interval owes; ok_%: of those, scrapes that succeeded."
echo "int_p99: Prometheus's p99 of the interval it actually kept (s); scr_max: the longest scrape (s);"
echo "cpu: cores Prometheus used; exp_cpu: cores the synthetic exporters used (the same machine);"
echo "KiB/series: resident memory over head series (includes a fixed base);"
echo "marginal: the extra resident memory per extra series since the previous step."
