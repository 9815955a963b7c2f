#!/bin/bash
# The demo: a one-node Slurm cluster, a node_exporter, a session with its
# targets, Prometheus started through Slurm, its status, then stop and clean
# up. Leaves no daemon running and can be run again at once.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
work=${BENCHMON_DEMO_DIR:-${TMPDIR:-/tmp}/benchmon-demo}
export BENCHMON_HOME=$work/home
export PATH=$top:$PATH
ne_port=19100
prom_port=19090
session=demo

say() { printf '\n== %s\n' "$*"; }

cleanup() {
	benchmon delete --session "$session" --force >/dev/null 2>&1 || :
	[ -z "${ne_pid:-}" ] || kill "$ne_pid" 2>/dev/null || :
	scripts/slurm-cluster.sh stop "$work/slurm" >/dev/null 2>&1 || :
}
trap cleanup EXIT

cleanup
rm -rf "$work"
mkdir -p "$work"

say "starting a one-node Slurm cluster in $work/slurm"
eval "$(scripts/slurm-cluster.sh start "$work/slurm")"

say "starting a node_exporter on 127.0.0.1:$ne_port"
prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" >"$work/node-exporter.log" 2>&1 &
ne_pid=$!

say "creating session '$session' and registering its targets"
benchmon session-create --run-id "$session" --launcher slurm --listen 127.0.0.1 --port "$prom_port" \
	--scrape-interval 1s
benchmon client-connect --session "$session" --client-id c1 --node "$(hostname -s)" \
	--node-exporter "127.0.0.1:$ne_port"
benchmon service-register --session "$session" --client-id c1 --name exporter-as-service \
	--endpoint "http://127.0.0.1:$ne_port/metrics"

say "starting Prometheus as a Slurm job"
benchmon start --session "$session" --time-limit 00:30:00 --wait 120
squeue --noheader --format '   Slurm job %i %j %T on %N'

say "waiting for the targets to be scraped"
for _ in $(seq 1 60); do
	benchmon status --session "$session" --json | grep -q '"health":[[:space:]]*"unknown"' || break
	sleep 0.5
done
benchmon status --session "$session"

say "stopping: the job saves the TSDB into the session"
benchmon stop --session "$session"
du -sh "$BENCHMON_HOME/sessions/$session/tsdb"

say "done; state was in $BENCHMON_HOME (removed on exit)"
