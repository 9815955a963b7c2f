#!/bin/bash
# GPUs that misbehave on cue (dcgm-exporter --scenario-file) on the one-node
# Slurm cluster: Prometheus's rule engine raises each alert, status shows the
# classes and the alerts with their GPU, and they clear when the GPUs recover.
. "$(dirname "$0")/lib.sh"

for bin in prometheus prometheus-node-exporter dcgm-exporter python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
. "$SRC_DIR/tests/slurm.sh"

DCGM_PORT=$(free_port 20320)
DEAD_PORT=$(free_port $((DCGM_PORT + 1)))
PROM_PORT=$(free_port 20330)
NODE=$(hostname)
sess="$BENCHMON_HOME/sessions/hs"
export BENCHMON_SESSION=hs
: >"$TEST_DIR/scenario"
test_cleanup 'BENCHMON_SESSION=hs benchmon delete --force >/dev/null 2>&1; pkill -9 -f -- "--config.file=$sess/prometheus.yml"'

# firing: the alerts firing now, as "ALERT:GPU" sorted, one a line, from status --json
firing() {
	benchmon status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for a in sorted("%s:%s" % (a["alert"], a["gpu"] or "-") for a in d["alerts"] if a["state"] == "firing"):
    print(a)'
}

# class_of KIND: the class status --json gives the target of that kind
class_of() {
	benchmon status --json | python3 -c '
import json, sys
print(" ".join(t["class"] for t in json.load(sys.stdin)["targets"] if t["kind"] == sys.argv[1]))' "$1"
}

test_expect_success 'setup: 5 synthetic GPUs, a node exporter that is down, rules with short durations' '
	dcgm-exporter --listen "127.0.0.1:$DCGM_PORT" --gpus 5 --queue-depth 3 --scenario-file "$TEST_DIR/scenario" 2>dcgm.log &
	test_cleanup "kill $!"
	wait_for 10 curl -sf "http://127.0.0.1:$DCGM_PORT/metrics" -o /dev/null &&
	cat >short.json <<-\EOS &&
	{ "THERMAL_WARNING": { "for": "2s" }, "THERMAL_CRITICAL": { "for": "2s" },
	  "POWER_SPIKE": { "for": "2s" }, "POWER_CRITICAL": { "for": "1s" },
	  "ECC_ERRORS_SPIKE": { "for": "20s" }, "THROTTLING": { "for": "2s" },
	  "MEMORY_PRESSURE": { "for": "2s" } }
	EOS
	benchmon session-create --run-id hs --launcher slurm --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s --rules short.json >/dev/null &&
	benchmon client-connect --client-id c1 --node "$NODE" --dcgm-exporter "127.0.0.1:$DCGM_PORT" &&
	benchmon client-connect --client-id c2 --node "$NODE" --node-exporter "127.0.0.1:$DEAD_PORT" &&
	benchmon start --wait 120 --no-wait-targets >start.log 2>&1 &&
	wait_for 60 "[ \"\$(class_of dcgm)\" = healthy ] && [ \"\$(class_of node)\" = unreachable ]"
'

test_expect_success 'status: counts first, the node its worst target, the down target unreachable' '
	wait_for 20 "firing | grep -q TARGET_DOWN" &&
	benchmon status >st &&
	head -1 st >first &&
	echo "health      1 healthy, 0 degraded, 0 critical, 1 unreachable (targets)" >expect &&
	test_cmp expect first &&
	sed -n 2p st | grep -q "^nodes       $NODE unreachable\$" &&
	grep -q "^TARGET_DOWN  *critical  *firing  *$NODE  *-  " st
'

test_expect_success 'warnings: heat, power, throttling, memory, correctable ECC; the GPUs named, class degraded' '
	date +%s.%N >from && sleep 1 &&
	date +%s.%N >throttle-on &&
	cat >scenario <<-\EOS &&
	temp 0 82
	power 1 420
	throttle 2 0x40
	memory 3 75000
	ecc-sbe 4 12
	EOS
	cat >expect <<-\EOS &&
	ECC_ERRORS_SPIKE:4
	MEMORY_PRESSURE:3
	POWER_SPIKE:1
	TARGET_DOWN:-
	THERMAL_WARNING:0
	THROTTLING:2
	EOS
	wait_for 30 "firing >actual && cmp -s expect actual" || { test_cmp expect actual; exit 1; } &&
	[ "$(class_of dcgm)" = degraded ] &&
	benchmon status >st && cat st &&
	grep -q "^health      0 healthy, 1 degraded, 0 critical, 1 unreachable (targets)\$" st &&
	grep -q "^THERMAL_WARNING  *warning  *firing  *$NODE  *0  .*GPU 0 of $NODE at 82 C" st
'

test_expect_success 'criticals: heat, power, uncorrectable ECC, XID, a GPU gone; class critical' '
	date +%s.%N >throttle-off &&
	cat >scenario <<-\EOS &&
	temp 0 90
	power 1 460
	ecc-dbe 2 1
	xid 3 79
	ecc-sbe 4 12
	missing 4
	EOS
	wait_for 30 "firing >actual && grep -q THERMAL_CRITICAL:0 actual && grep -q POWER_CRITICAL:1 actual &&
		grep -q ECC_UNCORRECTABLE:2 actual && grep -q XID_ERROR:3 actual && grep -q GPU_MISSING:4 actual" ||
		{ cat actual; exit 1; } &&
	[ "$(class_of dcgm)" = critical ] &&
	benchmon status --json >st.json &&
	python3 - "$NODE" <<-\PY
	import json, sys
	d = json.load(open("st.json"))
	assert d["health_counts"] == {"healthy": 0, "degraded": 0, "critical": 1, "unreachable": 1, "unknown": 0}, d["health_counts"]
	assert d["nodes"] == [{"node": sys.argv[1], "class": "unreachable"}], d["nodes"]
	dcgm = [t for t in d["targets"] if t["kind"] == "dcgm"][0]
	xid = [a for a in dcgm["alerts"] if a["alert"] == "XID_ERROR"][0]
	assert xid["gpu"] == "3" and xid["severity"] == "critical" and xid["since"].endswith("Z"), xid
	assert "XID 79" in xid["summary"], xid
	PY
'

test_expect_success 'recovered GPUs clear their alerts: healthy again' '
	echo "ecc-sbe 4 12" >scenario &&
	wait_for 40 "[ \"\$(firing)\" = TARGET_DOWN:- ]" &&
	[ "$(class_of dcgm)" = healthy ] &&
	sleep 1 && date +%s.%N >to && sleep 2
'

# kpi FILE KPI SCOPE [COLUMN]: a column of kpis.csv (3 = value, 8 = status)
kpi() {
	awk -F, -v k="$2" -v s="$3" -v c="${4:-3}" '$1 == k && $2 == s { print $c }' "$1"
}

test_expect_success 'collect: each alert a finding with its GPU and duration; the verdict INVALID with reasons' '
	test_expect_code 1 benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out bad --strict >table 2>err &&
	cat table && grep -q "verdict is INVALID, not VALID (--strict)" err &&
	grep -q "^verdict: INVALID\$" table &&
	grep -q "^  THERMAL_CRITICAL (critical) on $NODE GPU 0 for [0-9]* s of the [0-9]* s window\$" table &&
	python3 - "$NODE" <<-\PY
	import csv, json, sys
	node = sys.argv[1]
	m = json.load(open("bad/MANIFEST.json"))
	assert m["verdict"]["verdict"] == "INVALID", m["verdict"]
	kinds = {}
	for f in m["findings"]:
	    kinds.setdefault(f["kind"], []).append(f)
	warned = {f["subject"] for f in kinds["warning_alert"]}
	for want in ("THERMAL_WARNING gpu=%s/0", "POWER_SPIKE gpu=%s/1", "THROTTLING gpu=%s/2",
	             "MEMORY_PRESSURE gpu=%s/3", "ECC_ERRORS_SPIKE gpu=%s/4"):
	    assert want % node in warned, (want, warned)
	crit = {f["subject"] for f in kinds["critical_alert"]}
	for want in ("THERMAL_CRITICAL gpu=%s/0", "POWER_CRITICAL gpu=%s/1", "ECC_UNCORRECTABLE gpu=%s/2",
	             "XID_ERROR gpu=%s/3", "GPU_MISSING gpu=%s/4", "TARGET_DOWN node=%s"):
	    assert want % node in crit, (want, crit)
	assert any("THERMAL_CRITICAL" in r for r in m["verdict"]["reasons"]), m["verdict"]
	for f in kinds["warning_alert"] + kinds["critical_alert"]:
	    words = f["message"].split()
	    assert int(words[-7]) <= int(words[-3]), f
	assert "GPU 2 of %s throttled by hardware" % node in " ".join(m["verdict"]["reasons"]), m["verdict"]
	with open("bad/metrics_summary.csv") as f:
	    rows = list(csv.reader(f))
	header = rows[0]
	assert header[header.index("latency_p99_ms") + 1] == "verdict", header
	assert rows[1][header.index("verdict")] == "INVALID", rows[1]
	PY
'

test_expect_success 'collect: XIDs, correctable ECC errors and the throttled share per GPU, against the scenario' '
	[ "$(kpi bad/kpis.csv gpu_xid_errors "gpu=$NODE/3")" = 1 ] &&
	[ "$(kpi bad/kpis.csv gpu_xid_errors "gpu=$NODE/0")" = 0 ] &&
	[ "$(kpi bad/kpis.csv gpu_ecc_errors "gpu=$NODE/4")" = 12 ] &&
	[ "$(kpi bad/kpis.csv gpu_ecc_errors "gpu=$NODE/0")" = 0 ] &&
	[ "$(kpi bad/kpis.csv gpu_throttled_pct "gpu=$NODE/0")" = 0 ] &&
	got=$(kpi bad/kpis.csv gpu_throttled_pct "gpu=$NODE/2") &&
	python3 - "$got" "$(cat from)" "$(cat to)" "$(cat throttle-on)" "$(cat throttle-off)" <<-\PY
	import sys
	got, frm, to, on, off = map(float, sys.argv[1:])
	want = 100 * (off - on) / (to - frm)
	# the scrapes (1 s apart) see the change up to a scrape late at either end
	slack = 100 * 2.0 / (to - frm)
	assert abs(got - want) <= slack, (got, want, slack)
	assert got > 10, got
	PY
'

test_expect_success 'a window with every target healthy and no alert is VALID; --strict passes' '
	prometheus-node-exporter --web.listen-address="127.0.0.1:$DEAD_PORT" >ne.log 2>&1 &
	test_cleanup "kill $!"
	echo $! >ne.pid &&
	wait_for 30 "[ -z \"\$(firing)\" ] && [ \"\$(class_of node)\" = healthy ]" &&
	sleep 2 && date +%s.%N >from2 && sleep 6 && date +%s.%N >to2 && sleep 2 &&
	benchmon collect --from-iso "$(cat from2)" --to-iso "$(cat to2)" --out good --json >good.json &&
	python3 - <<-\PY &&
	import json
	d = json.load(open("good.json"))
	assert d["verdict"] == {"verdict": "VALID", "reasons": []}, d["verdict"]
	assert not [f for f in d["findings"] if not f["optional"]], d["findings"]
	PY
	benchmon collect --from-iso "$(cat from2)" --to-iso "$(cat to2)" --out good-strict --strict >/dev/null
'

test_expect_success 'status --watch redraws until interrupted' '
	benchmon status --watch 1 >watch.out 2>&1 &
	test_cleanup "kill $!"
	pid=$! &&
	wait_for 20 "[ \$(grep -c \"^health \" watch.out) -ge 3 ]" &&
	kill -TERM $pid && { wait $pid; :; } &&
	grep -q "^nodes " watch.out &&
	test_expect_code 2 benchmon status 5 2>err && grep -q "with --watch" err &&
	test_expect_code 2 benchmon status --watch soon 2>err && grep -q "invalid --watch interval" err
'

test_expect_success 'samples outside physical ranges are findings, left out of the KPIs; SUSPECT' '
	cat >scenario <<-\EOS &&
	temp 1 -5
	power 0 -7
	memory 1 90000
	EOS
	sleep 2 && date +%s.%N >from3 && sleep 4 && date +%s.%N >to3 && sleep 2 &&
	: >scenario &&
	benchmon collect --from-iso "$(cat from3)" --to-iso "$(cat to3)" --out odd --json >odd.json &&
	python3 - "$NODE" <<-\PY
	import csv, json, sys
	node = sys.argv[1]
	d = json.load(open("odd.json"))
	odd = [(f["subject"], f["message"]) for f in d["findings"] if f["kind"] == "out_of_range"]
	def has(gpu, text):
	    return any(s == "gpu=%s/%d" % (node, gpu) and text in m for s, m in odd)
	assert has(1, "temperature outside 0-150 C in") and has(1, "(-5 to -5)"), odd
	assert has(0, "negative power") and has(1, "memory used above total"), odd
	assert len(odd) == 3, odd
	assert d["verdict"]["verdict"] == "SUSPECT", d["verdict"]
	kpis = {(k["kpi"], k["scope"]): k["value"] for k in d["kpis"]}
	# the fixture at queue depth 3: GPU i at util 29 + 3i, 35 + util / 2 C, 3 * util W;
	# the -7 W of GPU 0 left out, GPU 4 the hottest
	assert kpis[("gpu_temp_max_c", "session")] == 35 + 41 / 2, kpis[("gpu_temp_max_c", "session")]
	want = sum(3 * (29 + 3 * i) for i in range(1, 5)) / 4
	assert abs(kpis[("gpu_power_avg_w", "session")] - want) < 1e-9, (kpis[("gpu_power_avg_w", "session")], want)
	PY
'

test_expect_success 'a target going down and up again and again is flapping: degraded while up' '
	for round in 1 2; do
		kill "$(cat ne.pid)" &&
		wait_for 30 "[ \"\$(class_of node)\" = unreachable ]" || return 1
		prometheus-node-exporter --web.listen-address="127.0.0.1:$DEAD_PORT" >ne.log 2>&1 &
		test_cleanup "kill $!"
		echo $! >ne.pid &&
		wait_for 30 "[ \"\$(class_of node)\" != unreachable ]" || return 1
	done &&
	wait_for 30 "firing | grep -qx TARGET_FLAPPING:-" &&
	[ "$(class_of node)" = degraded ]
'

test_expect_success 'stop' '
	benchmon stop >/dev/null
'

test_done
