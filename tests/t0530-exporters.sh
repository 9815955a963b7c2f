#!/bin/bash
# benchmon exporters on the 4-node test cluster: one step puts node_exporter on
# every node of an allocation, services run on n1 and n2, Prometheus runs as a
# job on n3, and the client commands run from outside the allocation.
. "$(dirname "$0")/lib.sh"
SLURM_NODES=4
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus prometheus-node-exporter load-target curl python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
PROM_PORT=$(free_port 20100)
SVC1=$(free_port 20110)
SVC2=$(free_port $((SVC1 + 1)))
export BENCHMON_SESSION=mn

# node_exporter_pid ADDRESS:PORT: the pid of the process listening there
listener_pid() {
	ss -Htlnp "src $1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}

test_expect_success 'an allocation of the four nodes and a session' '
	sbatch -N4 --ntasks-per-node=1 --parsable --output=/dev/null --wrap "sleep 1000" >jobid &&
	test_cleanup "scancel $(cat jobid)" &&
	wait_for 30 "[ \"\$(squeue -h -j $(cat jobid) -o %T)\" = RUNNING ]" &&
	benchmon session-create --run-id mn --port "$PROM_PORT" --scrape-interval 1s >/dev/null &&
	test_cleanup "BENCHMON_SESSION=mn benchmon delete --force"
'
job=$(cat "$TEST_DIR/jobid")

test_expect_success 'a node whose node_exporter cannot start is named with the reason; the others run' '
	mkdir -p failing-bin &&
	cat >failing-bin/prometheus-node-exporter <<-\EOF &&
	#!/bin/sh
	[ "$(hostname)" != n4 ] || { echo "cannot open /proc/stat: simulated" >&2; exit 3; }
	exec /usr/bin/prometheus-node-exporter "$@"
	EOF
	chmod +x failing-bin/prometheus-node-exporter &&
	PATH="$TEST_DIR/failing-bin:$PATH" test_expect_code 1 benchmon exporters start --job "$job" --nodes "n[3-4]" --json >f.json 2>f.err &&
	cat f.err &&
	grep -q "1 of 2 nodes did not start" f.err &&
	python3 - <<-PY &&
	import json
	d = json.load(open("f.json"))
	s = {n["node"]: n for n in d["nodes"]}
	assert sorted(s) == ["n3", "n4"] and d["failed"] == 1, d
	assert s["n3"]["state"] == "running" and s["n3"]["node_exporter"].startswith("127.0.1.3:"), s
	assert s["n4"]["state"] == "failed", s
	assert s["n4"]["error"] == "node_exporter exited with status 3: cannot open /proc/stat: simulated", s
	PY
	benchmon exporters stop >/dev/null &&
	benchmon exporters status --json | grep -q "\"step_running\":[[:space:]]*false"
'

test_expect_success 'exporters start from outside the allocation: node_exporter on every node, at its NodeAddr' '
	test_cleanup "BENCHMON_SESSION=mn benchmon exporters stop" &&
	t0=$(date +%s%N) &&
	benchmon exporters start --job "$job" --json >start.json &&
	echo "exporters start took $((($(date +%s%N) - t0) / 1000000)) ms" &&
	python3 - <<-PY
	import json
	d = json.load(open("start.json"))
	assert d["error"] is None and d["failed"] == 0, d
	assert d["step"].startswith("$job."), d
	assert [n["node"] for n in d["nodes"]] == ["n1", "n2", "n3", "n4"], d
	for k, n in enumerate(d["nodes"], 1):
	    # the machine cannot resolve n1..n4: the address is Slurm NodeAddr
	    assert n["address"] == "127.0.1.%d" % k and n["address_source"] == "NodeAddr", n
	    assert n["state"] == "running" and n["node_exporter"].startswith("127.0.1.%d:" % k), n
	PY
'

test_expect_success 'each node_exporter listens on its node address alone, in its node' '
	python3 -c "import json; [print(n[\"node_exporter\"]) for n in json.load(open(\"start.json\"))[\"nodes\"]]" >addrs &&
	while read -r a; do
		ss -Htln "src $a" | awk "{print \$4}" >actual && echo "$a" >expect && test_cmp expect actual &&
		curl -sf "http://$a/metrics" | grep -q "^node_cpu_seconds_total" || exit 1
	done <addrs &&
	srun --jobid="$job" --overlap -N4 --ntasks-per-node=1 -l bash -c "pgrep -x prometheus-node | wc -l" | sort >actual &&
	printf "0: 1\n1: 1\n2: 1\n3: 1\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'a second start while they run is refused, and changes nothing' '
	snapshot "$BENCHMON_HOME" >before &&
	test_expect_code 1 benchmon exporters start --job "$job" 2>err &&
	grep -q "run already" err &&
	snapshot "$BENCHMON_HOME" >after &&
	test_cmp before after
'

test_expect_success 'services on n1 and n2 register as 127.0.0.1 from their steps' '
	srun --jobid="$job" --overlap -w n1 -N1 -n1 bash -c "
		load-target --listen 0.0.0.0:$SVC1 --service web1 &
		until curl -sf http://127.0.0.1:$SVC1/metrics -o /dev/null; do sleep 0.2; done
		benchmon service-register --client-id n1 --name web1 --endpoint http://127.0.0.1:$SVC1/metrics
		wait" >svc1.out 2>&1 &
	test_cleanup "kill $!" &&
	srun --jobid="$job" --overlap -w n2 -N1 -n1 bash -c "
		load-target --listen 0.0.0.0:$SVC2 --service web2 &
		until curl -sf http://127.0.0.1:$SVC2/metrics -o /dev/null; do sleep 0.2; done
		benchmon service-register --client-id n2 --name web2 --endpoint http://127.0.0.1:$SVC2/metrics
		wait" >svc2.out 2>&1 &
	test_cleanup "kill $!" &&
	wait_for 30 "grep -q registered svc1.out && grep -q registered svc2.out" &&
	cat svc1.out svc2.out
'

test_expect_success 'Prometheus runs as a job on n3; status shows every target up at its node address' '
	on_login_node benchmon start --nodelist n3 --wait 90 2>err || { cat err; exit 1; } &&
	on_login_node benchmon status --json >st.json &&
	python3 - <<-PY
	import json
	d = json.load(open("st.json"))
	assert d["ready"] is True and d["node"] == "n3", d
	t = {(x["kind"], x["client_id"], x["name"]): x for x in d["targets"]}
	assert len(d["targets"]) == 6, d["targets"]
	for k in range(1, 5):
	    x = t[("node", "n%d" % k, None)]
	    assert x["node"] == "n%d" % k and x["node_address"] == "127.0.1.%d" % k, x
	    assert x["address"].startswith("127.0.1.%d:" % k) and x["health"] == "up", x
	assert t[("service", "n1", "web1")]["address"] == "127.0.1.1:$SVC1", t
	w = t[("service", "n2", "web2")]
	assert w["address"] == "127.0.1.2:$SVC2" and w["health"] == "up", w
	PY
'

test_expect_success 'Prometheus on n3 scrapes the service on n2 at n2 address' '
	url="http://127.0.1.3:$PROM_PORT/api/v1/query?query=up%7Bservice%3D%22web2%22%7D" &&
	prom_curl "$BENCHMON_HOME/sessions/mn" -sf "$url" >up.json &&
	python3 -c "
import json
r = json.load(open(\"up.json\"))[\"data\"][\"result\"]
assert len(r) == 1 and r[0][\"metric\"][\"instance\"] == \"127.0.1.2:$SVC2\" and r[0][\"value\"][1] == \"1\", r"
'

test_expect_success 'exporters status from outside shows the four running and answering' '
	benchmon exporters status --json >es.json &&
	python3 - <<-PY
	import json
	d = json.load(open("es.json"))
	assert d["step_running"] and d["failed"] == 0, d
	assert [(n["node"], n["state"], n["node_exporter_up"]) for n in d["nodes"]] == \
	    [("n%d" % k, "running", True) for k in range(1, 5)], d
	PY
'

# node_scopes: collect the last 15 s; every node has a CPU KPI of its own (once there are two scrapes of each)
node_scopes() {
	rm -rf c1 &&
	on_login_node benchmon collect --last 15s --out c1 --run-id c1 >c1.log 2>&1 &&
	awk -F, "\$1 == \"cpu_util_avg_pct\" && \$2 ~ /^node=/ { print \$2, \$8 }" c1/kpis.csv | sort >actual &&
	printf "node=n1 ok\nnode=n2 ok\nnode=n3 ok\nnode=n4 ok\n" >expect &&
	test_cmp expect actual
}

test_expect_success 'collect gives a node scope for each of the four nodes' '
	wait_for 60 node_scopes || { cat c1.log actual; exit 1; }
'

# the registration tests use a session of their own, which Prometheus does not scrape
test_expect_success '--node auto in steps on four nodes registers each under its own name' '
	benchmon session-create --run-id race --port "$PROM_PORT" >/dev/null &&
	BENCHMON_SESSION=race srun --jobid="$job" --overlap -N4 --ntasks-per-node=1 bash -c \
		"benchmon client-connect --client-id auto-\$(hostname) --node auto --json" >auto.out &&
	python3 - <<-PY
	import json, glob
	nodes = {}
	for f in glob.glob("$BENCHMON_HOME/sessions/race/targets/client+auto-*.json"):
	    g = json.load(open(f))[0]["labels"]
	    nodes[g["client_id"]] = g["node"]
	assert nodes == {"auto-n%d" % k: "n%d" % k for k in range(1, 5)}, nodes
	PY
'

test_expect_success 'registrations from four nodes at once, pids repeating: none lost, none torn' '
	BENCHMON_SESSION=race benchmon client-connect --client-id n1 --node n1 >/dev/null &&
	BENCHMON_SESSION=race srun --jobid="$job" --overlap -N4 --ntasks-per-node=1 bash -c "
		h=\$(hostname)
		for i in \$(seq 1 20); do
			benchmon client-connect --client-id r-\$h-\$i --node auto >/dev/null &
			benchmon service-register --client-id n1 --name s-\$h-\$i --endpoint http://127.0.0.1:9/m\$i >/dev/null &
		done
		wait" &&
	python3 - <<-PY
	import json, glob, os
	d = "$BENCHMON_HOME/sessions/race/targets"
	clients, services = set(), set()
	for f in glob.glob(d + "/*.json"):
	    for g in json.load(open(f)):
	        l = g["labels"]
	        if os.path.basename(f).startswith("client+r-"):
	            assert l["client_id"].split("-")[1] == l["node"], l
	            clients.add(l["client_id"])
	        elif l.get("service", "").startswith("s-"):
	            assert g["targets"] == ["n1:9"], g
	            services.add(l["service"])
	want = {"%s-n%d-%d" % (p, k, i) for k in range(1, 5) for i in range(1, 21) for p in "r"}
	assert clients == want, sorted(want - clients)
	assert services == {"s" + x[1:] for x in want}, len(services)
	assert not [f for f in os.listdir(d) if ".tmp" in f], os.listdir(d)
	PY
'

# n4_down_alone: collect the last 3 s; the one target down is n4's node exporter
n4_down_alone() {
	rm -rf c2
	on_login_node benchmon collect --last 3s --out c2 --run-id c2 --json >c2.json 2>c2.err
	python3 - <<-PY
	import json
	d = json.load(open("c2.json"))
	down = sorted(x["subject"].split(" at ")[0] for x in d["findings"] if x["kind"] == "target_down")
	assert down == ["node exporter of client n4"], d["findings"]
	PY
}

test_expect_success 'an exporter killed on n4: a finding for n4, the other nodes fine' '
	a4=$(sed -n 4p addrs) &&
	pid=$(listener_pid "$a4") && [ -n "$pid" ] &&
	kill "$pid" &&
	wait_for 20 "benchmon exporters status --json >es.json; grep -q \"killed by signal\" es.json" &&
	python3 - <<-PY &&
	import json
	d = json.load(open("es.json"))
	s = {n["node"]: n for n in d["nodes"]}
	assert s["n4"]["state"] == "failed" and "node_exporter was killed by signal 15" in s["n4"]["error"], s["n4"]
	assert all(s["n%d" % k]["state"] == "running" and s["n%d" % k]["node_exporter_up"] for k in (1, 2, 3)), s
	assert d["failed"] == 1, d
	PY
	wait_for 60 n4_down_alone || { cat c2.json; exit 1; }
'

test_expect_success 'exporters stop ends the step; no exporter is left on any node' '
	benchmon exporters stop >stop.out &&
	cat stop.out &&
	[ -z "$(squeue -h -s -j "$job" -o %j | grep benchmon-exporters)" ] &&
	while read -r a; do
		wait_for 10 "[ -z \"\$(ss -Htln \"src $a\")\" ]" || exit 1
	done <addrs &&
	benchmon exporters status --json >es.json &&
	grep -q "\"step_running\":[[:space:]]*false" es.json
'

test_expect_success 'benchmon stop saves the TSDB of the job on n3' '
	on_login_node benchmon stop &&
	ls -d "$BENCHMON_HOME"/sessions/mn/tsdb/*/wal
'

test_expect_success 'outside an allocation, start without --job is a usage error; a bad --job changes nothing' '
	snapshot "$BENCHMON_HOME" >before &&
	test_expect_code 2 benchmon exporters start 2>err && grep -q "give the job" err &&
	test_expect_code 2 benchmon exporters start --job 12x &&
	test_expect_code 2 benchmon exporters restart &&
	test_expect_code 2 benchmon exporters status --job 1 &&
	test_expect_code 1 benchmon exporters start --job 999999 2>err && cat err &&
	snapshot "$BENCHMON_HOME" >after &&
	test_cmp before after
'

test_expect_success 'delete stops exporters that still run, so none outlives its session' '
	benchmon session-create --run-id gone --port "$(free_port $((PROM_PORT + 10)))" >/dev/null &&
	test_cleanup "BENCHMON_SESSION=gone benchmon delete --force" &&
	BENCHMON_SESSION=gone benchmon exporters start --job "$job" --nodes "n[1-2]" --json >gone.json &&
	python3 -c "
import json
d = json.load(open(\"gone.json\"))
assert d[\"failed\"] == 0, d
for n in d[\"nodes\"]:
    print(n[\"node_exporter\"].split(\":\")[0])
" >gone-addrs &&
	[ -n "$(squeue -h -s -j "$job" -o %j | grep benchmon-exporters)" ] &&
	BENCHMON_SESSION=gone benchmon delete 2>delete.err &&
	cat delete.err &&
	grep -q "cancelling step" delete.err &&
	[ -z "$(squeue -h -s -j "$job" -o %j | grep benchmon-exporters)" ] &&
	while read -r a; do
		wait_for 10 "[ -z \"\$(ss -Htln \"src $a\")\" ]" || exit 1
	done <gone-addrs &&
	[ ! -d "$BENCHMON_HOME/sessions/gone" ]
'

test_done
