#!/bin/bash
# 64 processes register 50 targets each into one session, while start, status
# and stop run on it: every registration lands, none is lost.
. "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null || test_skip_all "prometheus is not installed"
PROM_PORT=$(free_port 19880)
sess="$BENCHMON_HOME/sessions/conc"
test_cleanup 'BENCHMON_SESSION=conc benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=conc

# worker N: 25 client-connects and 25 service-registers, interleaved; acknowledged ones are logged
worker() {
	local n=$1 i
	for i in $(seq 1 25); do
		benchmon client-connect --client-id "w$n-c$i" --node "n$n" >/dev/null 2>>"errors.$n" &&
			echo "client w$n-c$i" >>"acked.$n"
		benchmon service-register --client-id "w$n-c$i" --name "s$i" \
			--endpoint "http://n$n:$((10000 + i))/metrics" >/dev/null 2>>"errors.$n" &&
			echo "service w$n-c$i s$i" >>"acked.$n"
	done
}

test_expect_success 'setup: a session whose Prometheus runs' '
	benchmon session-create --run-id conc --launcher local --listen 127.0.0.1 --port "$PROM_PORT" >/dev/null &&
	benchmon start --wait 60 2>/dev/null
'

test_expect_success '64 x 50 registrations while status, stop and start run' '
	for n in $(seq 1 64); do worker "$n" & done
	( for _ in 1 2 3; do benchmon status >/dev/null 2>&1; sleep 0.3; done
	  benchmon stop 2>/dev/null && benchmon start --wait 60 2>/dev/null && benchmon status >/dev/null ) &
	lifecycle=$!
	wait "$lifecycle"
	lifecycle_status=$?
	wait
	cat errors.* | head -5
	[ "$lifecycle_status" = 0 ] &&
	[ "$(cat acked.* | wc -l)" = 3200 ]
'

test_expect_success 'the registry holds all 3200: 1600 clients and 1600 services' '
	benchmon status --json >st.json 2>/dev/null;
	python3 - <<-\PY
	import glob, json
	d = json.load(open("st.json"))
	services = {(t["client_id"], t["name"]) for t in d["targets"] if t["kind"] == "service"}
	acked = set()
	for f in glob.glob("acked.*"):
	    for line in open(f):
	        parts = line.split()
	        if parts[0] == "service":
	            acked.add((parts[1], parts[2]))
	assert d["clients"] == 1600, d["clients"]
	assert services == acked and len(services) == 1600, (len(services), len(acked))
	PY
'

test_expect_success 'every state file parses and promtool accepts the configuration' '
	python3 -c "
import glob, json
for f in glob.glob(\"$sess/*.json\") + glob.glob(\"$sess/targets/*.json\"):
    json.load(open(f))
" &&
	benchmon start --dry-run >/dev/null &&
	promtool check config "$sess/prometheus.yml" >/dev/null
'

test_expect_success 'the session still stops cleanly' '
	benchmon stop 2>/dev/null &&
	[ -z "$(pgrep -f -- "--config.file=$sess/prometheus.yml")" ]
'

test_done
