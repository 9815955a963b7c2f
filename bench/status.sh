#!/bin/bash
# How long 'benchmon status' takes for a session of 1,000 targets (target:
# under 1 s), with Prometheus evaluating the session's rules: 500 targets up
# with two overheating GPUs each (1,000 THERMAL_CRITICAL alerts firing) and
# 500 down (500 TARGET_DOWN alerts), on 100 nodes.
#
# Usage: bench/status.sh  or  BENCH_QUICK=1 bench/status.sh (100 targets)
# Runs from anywhere; times a copy of the repo's ./benchmon (build it with
# make, and make tests/fixtures/dcgm-exporter). Figures inform, never fail.

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
dcgm=$repo/tests/fixtures/dcgm-exporter
for f in "$benchmon" "$dcgm"; do
	[ -x "$f" ] || { echo "status.sh: '$f' not found; run make and make tests/fixtures/dcgm-exporter" >&2; exit 1; }
done
command -v prometheus >/dev/null || { echo "status.sh: prometheus is not installed" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench.XXXXXX")
pids=
cleanup() {
	"$benchmon" stop --session st >/dev/null 2>&1 || :
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon
export HOME=$scratch BENCHMON_HOME=$scratch/home BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF

if [ "${BENCH_QUICK:-0}" = 1 ]; then nodes=10 runs=5; else nodes=100 runs=10; fi
per_node=10

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
port=20450
while ! port_free $port; do port=$((port + 1)); done
dead=$((port + 1))
while ! port_free $dead; do dead=$((dead + 1)); done
prom=$((dead + 1))
while ! port_free $prom; do prom=$((prom + 1)); done

printf 'temp 0 90\ntemp 1 90\n' >"$scratch/scenario"
"$dcgm" --listen "127.0.0.1:$port" --gpus 2 --scenario-file "$scratch/scenario" 2>/dev/null &
pids="$pids $!"
printf '{"THERMAL_CRITICAL": {"for": "0s"}}\n' >"$scratch/rules.json"
"$benchmon" session-create --run-id st --launcher local --port "$prom" --scrape-interval 5s \
	--rules "$scratch/rules.json" >/dev/null
: >"$scratch/services.csv"
for n in $(seq -w 1 $nodes); do
	"$benchmon" client-connect --session st --client-id "c$n" --node "n$n" >/dev/null
	for k in $(seq 1 $per_node); do
		if [ $((k % 2)) = 1 ]; then
			echo "c$n,up$k,http://127.0.0.1:$port/metrics"
		else
			echo "c$n,down$k,http://127.0.0.1:$dead/metrics"
		fi
	done >>"$scratch/services.csv"
done
"$benchmon" service-register --session st --from-file "$scratch/services.csv" >/dev/null
total=$((nodes * per_node))
"$benchmon" start --session st --wait 300 >/dev/null 2>&1

# until every target has a class and every alert fires
want=$((total / 2 * 2 + total / 2))
for i in $(seq 1 120); do
	"$benchmon" status --session st --json >"$scratch/st.json" || :
	got=$(python3 -c 'import json, sys; print(sum(a["state"] == "firing" for a in json.load(open(sys.argv[1]))["alerts"]))' \
		"$scratch/st.json" 2>/dev/null || echo 0)
	[ "$got" -ge "$want" ] && break
	sleep 1
done
echo "status.sh: $total targets on $nodes nodes, $got alerts firing (want $want)"
head -1 <("$benchmon" status --session st)

# timeit CMD...: "best median" in ms over $runs runs
timeit() {
	local t0 t1
	for i in $(seq 1 $runs); do
		t0=$EPOCHREALTIME
		"$@" >/dev/null
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
	done | sort -n | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)] }'
}
# the two requests status makes, sent at once by curl: what Prometheus itself takes
curl_both() {
	local url=http://127.0.0.1:$prom
	printf 'user = "benchmon:%s"\n' "$(cat "$BENCHMON_HOME/sessions/st/prometheus.password")" |
		curl -sf -K - --parallel "$url/api/v1/targets?state=active" "$url/api/v1/alerts" -o /dev/null -o /dev/null 2>/dev/null
}
read -r best median < <(timeit "$benchmon" status --session st)
echo "status:               best ${best} ms, median ${median} ms over $runs runs (target < 1000 ms)"
read -r best median < <(timeit "$benchmon" status --session st --json)
echo "status --json:        best ${best} ms, median ${median} ms over $runs runs (target < 1000 ms)"
read -r best median < <(timeit curl_both)
echo "curl, same 2 requests: best ${best} ms, median ${median} ms over $runs runs"
