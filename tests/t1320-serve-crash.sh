#!/bin/bash
# kill -9 of benchmon serve at random instants while 16 clients register:
# every registration it acknowledged is in the registry afterwards, every
# file parses, and a new server starts over the one that died.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve.sh"

PORT=$(free_port 20580)
ROUNDS=${SERVE_CRASH_ROUNDS:-12}
sess="$BENCHMON_HOME/sessions/crash"
export BENCHMON_SESSION=crash

test_expect_success 'setup: a session with 4 clients' '
	benchmon session-create --run-id crash --launcher local --listen 127.0.0.1 --port "$(free_port 20680)" &&
	for i in 0 1 2 3; do
		benchmon client-connect --client-id "c$i" --node "node$i" >/dev/null || exit 1
	done
'

test_expect_success "$ROUNDS kill -9s of the server during registrations lose no acknowledged one" '
	for round in $(seq 1 "$ROUNDS"); do
		port=$(free_port $((PORT + round % 10)))
		start_serve crash "$port" || exit 1
		serve_env
		python3 - "$API" "$TOKEN" "$SERVE_PID" "$round" >>acked <<-\PY || exit 1
		import http.client, json, os, random, signal, sys, threading, time
		api, token, pid, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		host, port = api[len("http://"):].split(":")
		acked, lock = [], threading.Lock()
		def worker(k):
		    i = 0
		    while True:
		        name = "r%d_w%d_%d" % (rnd, k, i)
		        body = json.dumps({"client_id": "c%d" % (k % 4), "name": name, "endpoint": "http://node%d:%d/metrics" % (k % 4, 1000 + i)})
		        try:
		            c = http.client.HTTPConnection(host, int(port), timeout=10)
		            c.request("POST", "/v1/services", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
		            r = c.getresponse()
		            r.read()
		            if r.status == 200:
		                with lock:
		                    acked.append(name)
		        except OSError:
		            return
		        i += 1
		threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
		for t in threads:
		    t.start()
		time.sleep(random.uniform(0.3, 1.5))
		os.kill(pid, signal.SIGKILL)
		for t in threads:
		    t.join()
		for name in acked:
		    print(name)
		print("round", rnd, len(acked), "acknowledged", file=sys.stderr)
		PY
		wait_for 10 "! kill -0 $SERVE_PID 2>/dev/null" || exit 1
	done &&
	[ "$(wc -l <acked)" -gt 0 ] &&
	benchmon status --json >st.json &&
	python3 - "$sess" <<-\PY
	import glob, json, sys
	sess = sys.argv[1]
	for f in glob.glob(sess + "/*.json") + glob.glob(sess + "/targets/*.json"):
	    json.load(open(f))
	st = json.load(open("st.json"))
	have = {t["name"] for t in st["targets"] if t["kind"] == "service"}
	acked = [l.strip() for l in open("acked")]
	missing = [n for n in acked if n not in have]
	assert not missing, (len(missing), missing[:5])
	print(len(acked), "acknowledged,", len(have), "registered")
	PY
'

test_expect_success 'a server killed with -9 leaves api.json behind; status does not show it, and a new one starts' '
	test_path_is_file "$sess/api.json" &&
	! benchmon status | grep -q "^api" &&
	start_serve crash "$(free_port $((PORT + 15)))" &&
	serve_env &&
	[ "$(api GET /v1/status)" = 200 ]
'

test_done
