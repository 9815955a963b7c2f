#!/bin/bash
# The multi-node demo: a 4-node Slurm cluster on this machine (n1..n4 at
# 127.0.1.1..4), and examples/multinode-job.sbatch as a 3-node batch job:
# 'benchmon exporters' puts node_exporter and a synthetic DCGM exporter on
# every node of the job, a load target runs on two nodes, Prometheus runs as a
# job of its own, and the load comes from the third node inside 'benchmon run'.
# Then it shows, from outside the job as from a login node, where everything
# ran and the window's KPIs per service and per node. Leaves no daemon running
# and can be run again at once.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
work=${BENCHMON_DEMO_DIR:-${TMPDIR:-/tmp}/benchmon-demo-cluster}
load_seconds=${BENCHMON_DEMO_SECONDS:-20}
export BENCHMON_HOME=$work/home
export PATH=$top:$top/tests/fixtures:$PATH
service_port=19280
prom_port=19290

say() { printf '\n== %s\n' "$*"; }

cleanup() {
	scancel --name=benchmon-multinode >/dev/null 2>&1 || :
	scripts/slurm-cluster.sh stop "$work/slurm" >/dev/null 2>&1 || :
}
trap cleanup EXIT

# a previous demo that was interrupted may have left its cluster
if [ -f "$work/slurm/slurm.conf" ]; then
	SLURM_CONF=$work/slurm/slurm.conf cleanup
fi
rm -rf "$work"
mkdir -p "$work"

# Slurm's ports: the first run of five free ones from 16917 (a one-node cluster may hold 16817)
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
base=${BENCHMON_SLURM_PORT_BASE:-16917}
until port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)) && port_free $((base + 3)) &&
	port_free $((base + 4)); do
	base=$((base + 5))
done

say "starting a 4-node Slurm cluster in $work/slurm"
cluster_env=$(BENCHMON_SLURM_PORT_BASE=$base scripts/slurm-cluster.sh start "$work/slurm" --nodes 4)
eval "$cluster_env"
export SLURM_CONF
sinfo -N -o '   %N %T %c CPUs'

say "running examples/multinode-job.sbatch on n1..n3, Prometheus on n4 (a ${load_seconds}s load)"
SERVICE_PORT=$service_port OUT="$work/results" BENCHMON_SESSION_FLAGS="--port $prom_port" \
BENCHMON_START_FLAGS="--nodelist n4" \
BENCH_CMD="wrk -t1 -c8 -d${load_seconds}s --latency \"\$URL1\" & wrk -t1 -c8 -d${load_seconds}s \"\$URL2\"; wait" \
	sbatch --wait --nodelist='n[1-3]' --export=ALL --output="$work/job.out" --chdir="$work" \
	examples/multinode-job.sbatch >"$work/submit.out"
job=$(sed -n 's/^Submitted batch job //p' "$work/submit.out")
session=bench-$job
grep -m1 -A4 '^exporters of session' "$work/job.out"

say "where things ran"
python3 - "$BENCHMON_HOME/sessions/$session" <<'PY'
import json, sys, glob, os
d = sys.argv[1]
step = json.load(open(d + "/exporters/step.json"))
print("   job %s: exporters step %s on %s" % (step["job_id"], step["step_name"], ", ".join(n["node"] for n in step["nodes"])))
for n in step["nodes"]:
    f = json.load(open("%s/exporters/node+%s.json" % (d, n["node"])))
    print("   %s (%s, from %s): node_exporter %s, DCGM %s" % (n["node"], n["address"], n["address_source"], f["node_exporter"], f["dcgm_exporter"]))
for f in sorted(glob.glob(d + "/targets/service+*.json")):
    for g in json.load(open(f)):
        print("   service %s of client %s at %s" % (g["labels"]["service"], g["labels"]["client_id"], g["targets"][0]))
run = json.load(open(d + "/run.json"))
print("   Prometheus: job %s on %s, its TSDB saved in %s" % (run.get("job_id"), run.get("node"), os.path.relpath(run.get("tsdb_copy") or "-", d)))
PY

say "the window's KPIs, per service and per node (from $work/results/kpis.csv)"
awk -F, 'NR > 1 && $8 == "ok" && ($1 ~ /^(throughput_qps|latency_p95_ms|cpu_util_avg_pct|gpu_util_avg_pct)$/) {
	printf "   %-18s %-16s %12s %s\n", $1, $2, $3, $4 }' "$work/results/kpis.csv"

say "stopping the cluster"
cleanup
trap - EXIT
printf '\nThe artifacts stay in %s; the cluster and its daemons are gone.\n' "$work/results"
