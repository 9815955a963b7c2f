#!/bin/bash
# GPUs that misbehave on cue (dcgm-exporter --scenario-file) on the one-node
# Slurm cluster: Prometheus's rule engine raises each alert, status shows the
# classes and the alerts with their GPU, and they clear when the GPUs recover.
. "$(dirname "$0")/lib.sh"

for bin in prometheus dcgm-exporter python3; do
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
	cat >scenario <<-\EOS &&
	temp 0 90
	power 1 460
	ecc-dbe 2 1
	xid 3 79
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
	: >scenario &&
	wait_for 30 "[ \"\$(firing)\" = TARGET_DOWN:- ]" &&
	[ "$(class_of dcgm)" = healthy ]
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

test_expect_success 'stop' '
	benchmon stop >/dev/null
'

test_done
