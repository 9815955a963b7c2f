#!/bin/bash
# 300 kill -9s at random instants during registrations, session changes and
# collect: afterwards every state file parses, every acknowledged registration
# is there, status works, and no half-written artifact looks complete.
. "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null || test_skip_all "prometheus is not installed"
PROM_PORT=$(free_port 19890)
NE_PORT=$(free_port 19860)
sess="$BENCHMON_HOME/sessions/crash"
test_cleanup 'BENCHMON_SESSION=crash benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=crash
kills=0

# run_and_kill MAX_MS CMD...: start CMD, kill -9 it after a random 0..MAX_MS ms; prints 0 if it finished first
run_and_kill() {
	local max=$1
	shift
	"$@" >/dev/null 2>&1 &
	local pid=$! status=0
	sleep "$(awk -v r="$RANDOM" -v m="$max" "BEGIN { printf \"%.3f\", r % (m + 1) / 1000 }")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" || status=$?
	echo "$status"
}

all_json_parses() {
	python3 -c "
import glob, json, sys
bad = []
for f in glob.glob('$BENCHMON_HOME/sessions/*/*.json') + glob.glob('$BENCHMON_HOME/sessions/*/targets/*.json'):
    try:
        json.load(open(f))
    except Exception as e:
        bad.append((f, str(e)))
sys.exit('unparsable: %s' % bad if bad else 0)"
}

test_expect_success 'setup' '
	benchmon session-create --run-id crash --launcher local --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 500ms >/dev/null &&
	benchmon client-connect --client-id base --node n0 >/dev/null &&
	# a real target, so collect has data to write (the /metrics of Prometheus wants its password)
	start_node_exporter "$NE_PORT" &&
	benchmon service-register --client-id base --name ne --endpoint "http://127.0.0.1:$NE_PORT/metrics" >/dev/null
'

test_expect_success '100 client-connects and 100 service-registers killed at random instants' '
	for i in $(seq 1 100); do
		[ "$(run_and_kill 2 benchmon client-connect --client-id "k$i" --node "n$i")" = 0 ] && echo "k$i" >>acked-clients
		[ "$(run_and_kill 2 benchmon service-register --client-id base --name "s$i" --endpoint "http://h:$((1000 + i))/m")" = 0 ] &&
			echo "s$i" >>acked-services
	done
	touch acked-clients acked-services &&
	echo "acknowledged: $(wc -l <acked-clients) clients, $(wc -l <acked-services) services" &&
	all_json_parses &&
	benchmon status --json >st.json &&
	python3 - <<-\PY
	import json
	d = json.load(open("st.json"))
	have = {t["name"] for t in d["targets"] if t["kind"] == "service"}
	acked = set(open("acked-services").read().split())
	assert acked <= have, sorted(acked - have)
	assert have <= {"s%d" % i for i in range(1, 101)} | {"ne"}, have
	assert d["clients"] >= 1 + len(open("acked-clients").read().split()), d["clients"]
	PY
'

test_expect_success '50 session-creates killed: no half session is visible' '
	for i in $(seq 1 50); do
		run_and_kill 3 benchmon session-create --run-id "half$i" --launcher local >/dev/null
	done
	all_json_parses &&
	benchmon sessions >list &&
	for d in "$BENCHMON_HOME"/sessions/half*; do
		[ -e "$d" ] || continue
		test_path_is_file "$d/session.json" || exit 1
		benchmon status --session "$(basename "$d")" >/dev/null || exit 1
	done
'

test_expect_success '20 stops killed mid-way: status works and a retried stop completes' '
	for i in $(seq 1 20); do
		benchmon start --wait 60 2>/dev/null || { benchmon stop 2>/dev/null; benchmon start --wait 60 2>/dev/null; } || exit 1
		run_and_kill 300 benchmon stop >/dev/null
		all_json_parses || exit 1
		benchmon status >/dev/null 2>&1
		benchmon stop 2>/dev/null || exit 1
		[ -z "$(pgrep -f -- "--config.file=$sess/prometheus.yml")" ] || exit 1
	done
'

test_expect_success '30 starts killed mid-way: a later stop and start recover' '
	for i in $(seq 1 30); do
		run_and_kill 300 benchmon start --wait 60 >/dev/null
		all_json_parses || exit 1
		benchmon stop 2>/dev/null || benchmon stop 2>/dev/null || exit 1
		# a killed start may leave its job running without a record of it: the next start says so or succeeds
		pkill -f -- "--config.file=$sess/prometheus.yml"
		wait_for 10 "[ -z \"\$(pgrep -f -- \"--config.file=$sess/prometheus.yml\")\" ]" || exit 1
	done &&
	benchmon start --wait 60 2>/dev/null && benchmon status >/dev/null
'

# health_up: has Prometheus scraped the node_exporter yet?
health_up() {
	benchmon status --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(t['name'] == 'ne' and t['health'] == 'up' for t in d['targets']) else 1)"
}

test_expect_success '50 collects killed: no MANIFEST.json without the files it vouches for' '
	wait_for 30 health_up && sleep 3 &&
	benchmon collect --last 2s --out probe >/dev/null && test_path_is_file probe/MANIFEST.json &&
	for i in $(seq 1 50); do
		run_and_kill 150 benchmon collect --last 2s --out "out$i" >/dev/null
		if [ -f "out$i/MANIFEST.json" ]; then
			python3 - "out$i" <<-\PY || exit 1
			import hashlib, json, os, sys
			d = sys.argv[1]
			m = json.load(open(os.path.join(d, "MANIFEST.json")))
			for f in m["files"]:
			    data = open(os.path.join(d, f["name"]), "rb").read()
			    assert hashlib.sha256(data).hexdigest() == f["sha256"], f
			PY
		fi
	done
'

test_expect_success 'after all that, the session still works end to end' '
	all_json_parses &&
	ls -d out* | wc -l &&
	echo "collects that finished before their kill: $(ls out*/MANIFEST.json 2>/dev/null | wc -l)" &&
	benchmon collect --last 2s --out final >/dev/null &&
	test_path_is_file final/MANIFEST.json &&
	benchmon stop 2>/dev/null
'

test_done
