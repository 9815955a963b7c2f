#!/bin/bash
# Faults across nodes of the 4-node test cluster, with exporters deployed by
# 'benchmon exporters' and Prometheus as a job on n3: a node set DOWN in Slurm
# while Prometheus runs elsewhere, the Prometheus node's job cancelled, and the
# allocation ending under its exporters.
. "$(dirname "$0")/../lib.sh"
SLURM_NODES=4
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus prometheus-node-exporter curl python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
PROM_PORT=$(free_port 20250)
export BENCHMON_SESSION=ft

test_expect_success 'an allocation that survives a node failure, exporters on its four nodes, Prometheus on n3' '
	sbatch -N4 --no-kill --ntasks-per-node=1 --parsable --output=/dev/null --wrap "sleep 1000" >jobid &&
	test_cleanup "scancel $(cat jobid)" &&
	wait_for 30 "[ \"\$(squeue -h -j $(cat jobid) -o %T)\" = RUNNING ]" &&
	benchmon session-create --run-id ft --port "$PROM_PORT" --scrape-interval 1s >/dev/null &&
	test_cleanup "BENCHMON_SESSION=ft benchmon delete --force" &&
	benchmon exporters start --job "$(cat jobid)" >start.out &&
	cat start.out &&
	on_login_node benchmon start --nodelist n3 --wait 90 &&
	test_cleanup "scontrol update nodename=n2 state=resume"
'
job=$(cat "$TEST_DIR/jobid")

# n2_down_alone: collect the last 3 s; the one target down is n2's node exporter
n2_down_alone() {
	rm -rf c1
	on_login_node benchmon collect --last 3s --out c1 --run-id c1 --json >c1.json 2>c1.err
	python3 - <<-PY
	import json
	d = json.load(open("c1.json"))
	down = sorted(x["subject"].split(" at ")[0] for x in d["findings"] if x["kind"] == "target_down")
	assert down == ["node exporter of client n2"], d["findings"]
	PY
}

test_expect_success 'n2 set DOWN: its exporter is down, a finding for n2 alone; Prometheus and the others run on' '
	scontrol update nodename=n2 state=down reason=test &&
	wait_for 40 "on_login_node benchmon status --json >st.json; python3 -c \"
import json, sys
t = {x[\\\"client_id\\\"]: x[\\\"health\\\"] for x in json.load(open(\\\"st.json\\\"))[\\\"targets\\\"]}
sys.exit(t.get(\\\"n2\\\") != \\\"down\\\")\"" &&
	python3 - <<-PY &&
	import json
	d = json.load(open("st.json"))
	assert d["ready"] and d["node"] == "n3", d
	h = {x["client_id"]: x["health"] for x in d["targets"]}
	assert h == {"n1": "up", "n2": "down", "n3": "up", "n4": "up"}, h
	PY
	benchmon exporters status --json >es.json &&
	python3 - <<-PY &&
	import json
	d = json.load(open("es.json"))
	s = {n["node"]: n for n in d["nodes"]}
	assert s["n2"]["node_exporter_up"] is False, s["n2"]
	assert all(s[n]["node_exporter_up"] for n in ("n1", "n3", "n4")), s
	PY
	wait_for 60 n2_down_alone || { cat c1.json; exit 1; }
'

# n2, DOWN since the step before, may have no sample in the window
test_expect_success 'the Prometheus job on n3 cancelled: its TSDB is saved, and collect reads it' '
	pjob=$(python3 -c "import json; print(json.load(open(\"st.json\"))[\"job_id\"])") &&
	scancel "$pjob" &&
	wait_for 60 "test -f \"$BENCHMON_HOME/sessions/ft/tsdb/$pjob/benchmon-save.json\"" &&
	on_login_node benchmon status >st.out 2>&1; cat st.out &&
	grep -q "tsdb/$pjob" st.out &&
	on_login_node benchmon collect --last 20s --out c2 --run-id c2 >c2.log 2>&1 || { cat c2.log; exit 1; } &&
	awk -F, "\$1 == \"cpu_util_avg_pct\" && \$2 ~ /^node=n[134]/ && \$8 == \"ok\" { print \$2 }" c2/kpis.csv | sort >actual &&
	printf "node=n1\nnode=n3\nnode=n4\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the allocation cancelled: no exporter outlives it' '
	benchmon exporters status --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print([n[\"node_exporter\"] for n in d[\"nodes\"] if n[\"node_exporter\"]].__str__())" &&
	addrs=$(python3 -c "
import json
for n in json.load(open(\"$BENCHMON_HOME/sessions/ft/exporters/step.json\"))[\"nodes\"]: print(n[\"address\"])") &&
	scancel "$job" &&
	wait_for 60 "[ -z \"\$(squeue -h -j $job)\" ] || [ \"\$(squeue -h -j $job -o %T)\" = COMPLETED ]" &&
	for a in $addrs; do
		wait_for 30 "[ -z \"\$(ss -Htlnp \"src $a\" | grep node-exp)\" ]" || exit 1
	done &&
	benchmon exporters status --json >es.json &&
	grep -q "\"step_running\":[[:space:]]*false" es.json
'

test_done
