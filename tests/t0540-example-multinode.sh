#!/bin/bash
# examples/multinode-job.sbatch runs as a real 3-node batch job on the 4-node cluster:
# exporters on every node through 'benchmon exporters', a service on two nodes,
# Prometheus as a job of its own on the fourth node, the load from the third node inside 'benchmon run'.
. "$(dirname "$0")/lib.sh"
SLURM_NODES=4
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus prometheus-node-exporter wrk load-target dcgm-exporter curl python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
SVC_PORT=$(free_port 20200)
PROM_PORT=$(free_port 20210)

test_expect_success 'the multi-node example job runs to completion under Slurm' '
	SERVICE_PORT=$SVC_PORT OUT="$TEST_DIR/results" \
	BENCH_CMD="wrk -t1 -c4 -d6s \"\$URL1\" & wrk -t1 -c4 -d6s \"\$URL2\"; wait" \
	BENCHMON_SESSION_FLAGS="--port $PROM_PORT" BENCHMON_START_FLAGS="--nodelist n4" \
		sbatch --wait --nodelist="n[1-3]" --export=ALL --output="$TEST_DIR/job.out" --chdir="$TEST_DIR" \
		"$SRC_DIR/examples/multinode-job.sbatch" >submit.out;
	status=$?
	cat "$TEST_DIR/job.out"
	[ "$status" = 0 ]
'
job=$(sed -n "s/^Submitted batch job //p" "$TEST_DIR/submit.out")
session="$BENCHMON_HOME/sessions/bench-$job"
test_cleanup "scancel $job"

test_expect_success 'exporters ran on the three nodes of the job, each registered at its address' '
	python3 - <<-PY
	import json
	d = json.load(open("$session/exporters/step.json"))
	nodes = [n["node"] for n in d["nodes"]]
	assert len(nodes) == 3 and set(nodes) <= {"n1", "n2", "n3", "n4"}, d
	for n in d["nodes"]:
	    assert n["address"] == "127.0.1." + n["node"][1:], n
	    f = json.load(open("$session/exporters/node+%s.json" % n["node"]))
	    # "stopped": the job ended them at its end
	    assert f["state"] == "stopped" and f["node_exporter"].startswith(n["address"] + ":"), f
	    assert f["dcgm_exporter"].startswith(n["address"] + ":"), f
	PY
'

test_expect_success 'the services on two nodes were registered under their nodes' '
	python3 - <<-PY
	import json, glob
	addrs = sorted(g["targets"][0] for f in glob.glob("$session/targets/service+*.json") for g in json.load(open(f)))
	nodes = json.load(open("$session/exporters/step.json"))["nodes"]
	assert addrs == sorted("%s:$SVC_PORT" % n["node"] for n in nodes[:2]), addrs
	PY
'

test_expect_success 'benchmon run collected the window: throughput, and CPU and GPU per node' '
	test_path_is_file results/MANIFEST.json &&
	[ "$(awk -F, "\$1 == \"throughput_qps\" && \$2 == \"session\" { print \$8 }" results/kpis.csv)" = ok ] &&
	[ "$(awk -F, "\$1 == \"throughput_qps\" && \$2 ~ /^service=web-n/ && \$8 == \"ok\"" results/kpis.csv | wc -l)" = 2 ] &&
	[ "$(awk -F, "\$1 == \"cpu_util_avg_pct\" && \$2 ~ /^node=n/ && \$8 == \"ok\"" results/kpis.csv | wc -l)" = 3 ] &&
	python3 - <<-\PY &&
	# each service is counted from its own target: the two loads can give the same count, the same series cannot
	import csv, json
	e = json.load(open("results/edges.json"))
	span = (e["to"]["time_ms"] - e["from"]["time_ms"]) / 1000
	def count(side, svc):
	    for t in e[side]["targets"]:
	        for s in t["samples"]:
	            if s["labels"].get("__name__") == "http_requests_total" and s["labels"].get("service") == svc:
	                return s["value"], s["labels"]["instance"]
	rates = {r["scope"]: float(r["value"]) for r in csv.DictReader(open("results/kpis.csv"))
	         if r["kpi"] == "throughput_qps" and r["scope"].startswith("service=web-n")}
	assert len(rates) == 2, rates
	instances = set()
	for scope, rate in rates.items():
	    svc = scope.split("=", 1)[1]
	    (a, i), (b, j) = count("from", svc), count("to", svc)
	    assert i == j and abs(rate - (b - a) / span) <= 1e-6 * rate, (scope, rate, a, b, span)
	    instances.add(i)
	assert len(instances) == 2, instances
	PY
	[ "$(awk -F, "\$1 == \"gpu_util_avg_pct\" && \$2 ~ /^node=n/ && \$8 == \"ok\"" results/kpis.csv | wc -l)" = 3 ]
'

test_expect_success 'Prometheus ran on n4 and stopped with its TSDB kept; no step, exporter or service is left' '
	grep -q "\"node\":[[:space:]]*\"n4\"" "$session/run.json" &&
	ls -d "$session"/tsdb/*/wal >saves && [ "$(wc -l <saves)" = 1 ] &&
	wait_for 30 "[ -z \"\$(squeue --noheader)\" ]" &&
	wait_for 20 "[ -z \"\$(ss -Htln \"sport = :$SVC_PORT\")\" ]" &&
	for n in 1 2 3 4; do
		[ -z "$(ss -Htlnp "src 127.0.1.$n" | grep -e node-exp -e dcgm)" ] || exit 1
	done
'

test_done
