#!/bin/bash
# The demo: a one-node Slurm cluster, a node_exporter, a load target and a
# synthetic DCGM exporter; a session with them all registered; Prometheus
# started through Slurm; a 60-second wrk load; its window collected; stop.
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
dcgm-exporter --listen "127.0.0.1:$dcgm_port" --gpus 2 --queue-depth 3 2>"$work/dcgm.log" &
pids="$pids $!"

say "creating session '$session' and registering its targets"
benchmon session-create --run-id "$session" --launcher slurm --listen 127.0.0.1 --port "$prom_port" \
	--scrape-interval 1s
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

say "driving the load target with wrk for ${load_seconds}s"
from=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
wrk -t2 -c16 -d"${load_seconds}s" --latency "http://127.0.0.1:$lt_port/" | sed -n '1,12p'
to=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 3

say "collecting the window $from .. $to"
benchmon collect --session "$session" --from-iso "$from" --to-iso "$to" --out "$work/results" --run-id demo01

say "stopping: the job saves the TSDB into the session"
benchmon stop --session "$session"

say "artifacts"
ls -l "$work/results"
printf '\nThe artifacts stay in %s; the session and daemons are gone.\n' "$work/results"
