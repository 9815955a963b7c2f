#!/bin/bash
# 64 processes register 50 targets each into one session, while start, status
# and stop run on it: every registration lands, none is lost. Then workers
# race on the same ids (with and without a token, single and --from-file):
# what Prometheus reads ends as the last registration of each name.
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

# race_worker N: 25 registrations of the same few ids (clients r1 r2, services
# a b c), each one of: plain, token A, token B, a --from-file batch of all three
# services of a client, a client-connect. Every command is logged with its
# start and end (microseconds), exit status, and what it registered.
race_worker() {
	local w=$1 i c name url port t0 t1 rc names=(a b c)
	for i in $(seq 1 25); do
		c=r$(((w + i) % 2 + 1))
		name=${names[$(((w * 7 + i) % 3))]}
		port=$((20000 + w * 100 + i))
		url="http://h$w:$port/m/$name"
		t0=${EPOCHREALTIME/./}
		case $(((w + 3 * i) % 5)) in
		0) benchmon service-register --client-id "$c" --name "$name" --endpoint "$url" ;;
		1) benchmon service-register --client-id "$c" --name "$name" --endpoint "$url" --bearer-token-file "$TEST_DIR/tokA" ;;
		2) benchmon service-register --client-id "$c" --name "$name" --endpoint "$url" --bearer-token-file "$TEST_DIR/tokB" ;;
		3) printf "%s,a,http://h$w:$port/m/a\n%s,b,http://h$w:$port/m/b\n%s,c,http://h$w:$port/m/c\n" "$c" "$c" "$c" >"batch.$w.csv" &&
			benchmon service-register --from-file "batch.$w.csv" ;;
		4) benchmon client-connect --client-id "$c" --node "h$w-$i" ;;
		esac >/dev/null 2>>"race-errors.$w"
		rc=$?
		t1=${EPOCHREALTIME/./}
		case $(((w + 3 * i) % 5)) in
		3) for name in a b c; do echo "$t0 $t1 $rc service $c $name http://h$w:$port/m/$name"; done ;;
		4) echo "$t0 $t1 $rc client $c h$w-$i" ;;
		*) echo "$t0 $t1 $rc service $c $name $url" ;;
		esac >>"race.$w"
	done
}

test_expect_success 'setup: two clients and two token files for the race' '
	printf "token-a" >"$TEST_DIR/tokA" && printf "token-b" >"$TEST_DIR/tokB" &&
	for c in r1 r2; do
		t0=${EPOCHREALTIME/./} &&
		benchmon client-connect --client-id "$c" --node setup >/dev/null &&
		echo "$t0 ${EPOCHREALTIME/./} 0 client $c setup" >>race.setup || exit 1
	done
'

test_expect_success '16 workers race on the same ids while status, stop and start run' '
	for w in $(seq 1 16); do race_worker "$w" & done
	( rc=0
	  for _ in 1 2 3; do benchmon status >/dev/null 2>>race-lifecycle.err || { echo "status: $?"; rc=1; }; sleep 0.2; done
	  benchmon stop 2>>race-lifecycle.err || { echo "stop: $?"; rc=1; }
	  benchmon status >/dev/null 2>>race-lifecycle.err || { echo "status after stop: $?"; rc=1; }
	  benchmon start --wait 60 2>>race-lifecycle.err || { echo "start: $?"; rc=1; }
	  benchmon status >/dev/null 2>>race-lifecycle.err || { echo "status after start: $?"; rc=1; }
	  exit $rc ) >race-lifecycle.log &
	lifecycle=$!
	wait "$lifecycle"
	lifecycle_status=$?
	wait
	cat race-lifecycle.log
	grep -hv "Prometheus reloaded\|waiting\|ready" race-lifecycle.err race-errors.* | head -10
	cat race.* | grep -v "^[0-9]* [0-9]* 0 " | head -5
	[ "$lifecycle_status" = 0 ] &&
	[ "$(cat race.[0-9]* | wc -l)" -ge 400 ] &&
	! cat race.* | grep -v "^[0-9]* [0-9]* 0 "
'

test_expect_success 'Prometheus reads one registration per id: the last acknowledged one' '
	benchmon status --json >race-st.json 2>/dev/null &&
	python3 - "$sess" <<-\PY
	import glob, json, sys
	sess = sys.argv[1]
	regs = {}
	for f in glob.glob("race.*"):
	    for line in open(f):
	        t0, t1, rc, kind, *rest = line.split()
	        assert rc == "0", line
	        key = (kind, rest[0], rest[1] if kind == "service" else "")
	        regs.setdefault(key, []).append((int(t0), int(t1), rest[-1]))
	seen = {}
	for f in glob.glob(sess + "/targets/*.json") + glob.glob(sess + "/targets/auth/*/*.json"):
	    for g in json.load(open(f)):
	        l = g["labels"]
	        if l["client_id"] not in ("r1", "r2"):
	            continue
	        if l["kind"] == "service":
	            seen.setdefault(("service", l["client_id"], l["service"]), []).append(l["__benchmon_url"])
	        else:
	            seen.setdefault(("client", l["client_id"], ""), set()).add(l["node"])
	seen = {k: sorted(v) for k, v in seen.items()}
	assert set(seen) == set(regs), (sorted(seen), sorted(regs))
	for key, got in seen.items():
	    assert len(got) == 1, ("more than one registration read", key, got)
	    [win] = [r for r in regs[key] if r[2] == got[0]]
	    # none acknowledged for this id started after the one that remains had returned
	    later = [r for r in regs[key] if r[0] > win[1]]
	    assert not later, ("a later registration was lost", key, win, later)
	status = {}
	for t in json.load(open("race-st.json"))["targets"]:
	    if t["kind"] == "service" and t["client_id"] in ("r1", "r2"):
	        status.setdefault(("service", t["client_id"], t["name"]), []).append(t["url"])
	assert status == {k: v for k, v in seen.items() if k[0] == "service"}, (status, seen)
	PY
'

test_expect_success 'after the race every state file parses and promtool accepts the configuration' '
	python3 -c "
import glob, json
for f in glob.glob(\"$sess/*.json\") + glob.glob(\"$sess/targets/*.json\") + glob.glob(\"$sess/targets/auth/*/*.json\"):
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
