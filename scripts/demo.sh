#!/bin/bash
# The demo: a one-node Slurm cluster, a node_exporter, a load target and a
# synthetic DCGM exporter; a session with them all registered; Prometheus
# started through Slurm; a 60-second wrk load during which GPU 1 heats up
# (the DCGM exporter's temperature ramp) and Prometheus's alert rules fire;
# status showing it live; the window collected with its verdict; stop.
# Leaves no daemon running and can be run again at once.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
work=${BENCHMON_DEMO_DIR:-${TMPDIR:-/tmp}/benchmon-demo}
load_seconds=${BENCHMON_DEMO_SECONDS:-60}
export BENCHMON_HOME=$work/home
export PATH=$top:$top/tests/fixtures:$PATH
ne_port=19100
lt_port=19101
dcgm_port=19102
prom_port=19090
session=demo
pids=

say() { printf '\n== %s\n' "$*"; }

cleanup() {
	benchmon delete --session "$session" --force >/dev/null 2>&1 || :
	for pid in $pids; do
		kill "$pid" 2>/dev/null || :
	done
	scripts/slurm-cluster.sh stop "$work/slurm" >/dev/null 2>&1 || :
}
trap cleanup EXIT

# a previous demo that was interrupted may have left its session and cluster
cleanup
rm -rf "$work"
mkdir -p "$work"

say "starting a one-node Slurm cluster in $work/slurm"
eval "$(scripts/slurm-cluster.sh start "$work/slurm")"

say "starting node_exporter, a load target and a synthetic DCGM exporter on loopback"
prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" >"$work/node-exporter.log" 2>&1 &
pids="$pids $!"
load-target --listen "127.0.0.1:$lt_port" --service web --latency-ms 4:0.3,12:0.6,60:0.1 2>"$work/load-target.log" &
pids="$pids $!"
: >"$work/scenario"
dcgm-exporter --listen "127.0.0.1:$dcgm_port" --gpus 2 --queue-depth 3 --scenario-file "$work/scenario" \
	2>"$work/dcgm.log" &
pids="$pids $!"

say "creating session '$session' (thermal rules shortened to a demo's scale) and registering its targets"
printf '{ "THERMAL_WARNING": { "for": "5s" }, "THERMAL_CRITICAL": { "for": "5s" } }\n' >"$work/rules.json"
benchmon session-create --run-id "$session" --launcher slurm --listen 127.0.0.1 --port "$prom_port" \
	--scrape-interval 1s --rules "$work/rules.json"
benchmon client-connect --session "$session" --client-id c1 --node "$(hostname -s)" \
	--node-exporter "127.0.0.1:$ne_port" --dcgm-exporter "127.0.0.1:$dcgm_port"
benchmon service-register --session "$session" --client-id c1 --name web \
	--endpoint "http://127.0.0.1:$lt_port/metrics"

say "starting Prometheus as a Slurm job"
benchmon start --session "$session" --time-limit 00:30:00 --wait 120
squeue --noheader --format '   Slurm job %i %j %T on %N'

say "waiting for every target to be scraped"
for _ in $(seq 1 60); do
	benchmon status --session "$session" --json | grep -q '"health":[[:space:]]*"unknown"' || break
	sleep 0.5
done
benchmon status --session "$session"
sleep 3

# GPU 1 starts near 50 C and passes 80 and 85 C (the thermal rules) two thirds of the way
ramp=$(awk -v s="$load_seconds" 'BEGIN { printf "%.3f", 50 / s }')
say "driving the load target with wrk for ${load_seconds}s while GPU 1 heats up by $ramp C/s"
from=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
echo "ramp 1 $ramp" >"$work/scenario"
wrk -t2 -c16 -d"${load_seconds}s" --latency "http://127.0.0.1:$lt_port/" >"$work/wrk.out" &
wrk_pid=$!
pids="$pids $wrk_pid"
sleep $((load_seconds * 9 / 10))
say "status during the load"
benchmon status --session "$session" || :
wait "$wrk_pid"
to=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
: >"$work/scenario"
sed -n '1,12p' "$work/wrk.out"
sleep 3

say "collecting the window $from .. $to: the heat is in its findings and verdict"
benchmon collect --session "$session" --from-iso "$from" --to-iso "$to" --out "$work/results" --run-id demo01

say "stopping: the job saves the TSDB into the session"
benchmon stop --session "$session"

say "artifacts"
ls -l "$work/results"
printf '\nThe artifacts stay in %s; the session and daemons are gone.\n' "$work/results"
