#!/bin/bash
# benchmon serve under load and under hostile clients: 1,000 registrations
# from 64 concurrent curl clients while status and the CLI use the same
# session (all acknowledged, all present, none torn), 200 idle connections
# held open while registrations go on, clients that disconnect mid-body,
# raw malformed requests and header injection; the server keeps serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve.sh"

PORT=$(free_port 20540)
sess="$BENCHMON_HOME/sessions/load"
export BENCHMON_SESSION=load

# every JSON file of the session parses, no temporary file is left, and each
# service of the registry has exactly one registration file
registry_sound() {
	python3 - "$sess" <<-\PY
	import collections, glob, json, os, sys
	sess = sys.argv[1]
	files = glob.glob(sess + "/targets/**/*", recursive=True)
	tmp = [f for f in files if ".tmp." in f]
	assert not tmp, tmp
	names = collections.Counter()
	for f in files:
	    if f.endswith(".json"):
	        json.load(open(f))
	        base = os.path.basename(f)
	        if base.startswith("service+"):
	            names[tuple(base.split("+")[1:3])] += 1
	dup = [k for k, n in names.items() if n != 1]
	assert not dup, dup
	PY
}

test_expect_success 'setup: a session with 8 clients, and its API' '
	benchmon session-create --run-id load --launcher local --listen 127.0.0.1 --port "$(free_port 20640)" &&
	for i in 0 1 2 3 4 5 6 7; do
		benchmon client-connect --client-id "c$i" --node "node$i" >/dev/null || exit 1
	done &&
	start_serve load "$PORT"
'

test_expect_success '1,000 registrations from 64 concurrent curl clients, while status and the CLI write' '
	(
		i=0
		while [ ! -f load.done ]; do
			benchmon status --json >/dev/null 2>&1 || [ $? = 1 ] || echo "status failed" >>side.err
			benchmon service-register --client-id "c$((i % 8))" --name "cli$i" \
				--endpoint "http://node$((i % 8)):$((9000 + i))/metrics" >/dev/null 2>>side.err || echo "cli $i failed" >>side.err
			echo "cli$i" >>cli.acked
			i=$((i + 1))
		done
	) &
	side=$!
	test_cleanup "touch $TEST_DIR/load.done; kill $side"
	serve_env &&
	printf "header = \"Authorization: Bearer %s\"\nheader = \"Content-Type: application/json\"\n" "$TOKEN" >curl.cfg &&
	chmod 600 curl.cfg &&
	seq 0 999 >ids &&
	mkdir bodies &&
	for i in $(cat ids); do
		c=$((i % 8))
		printf "{\"client_id\":\"c%d\",\"name\":\"s%d\",\"endpoint\":\"http://node%d:%d/metrics\"}" \
			"$c" "$i" "$c" $((10000 + i)) >"bodies/$i" || exit 1
	done &&
	xargs -P 64 -I{} curl -s -K curl.cfg -o /dev/null -w "{} %{http_code}\n" --data-binary @bodies/{} \
		"$API/v1/services" <ids >acks &&
	touch load.done && wait $side &&
	[ "$(wc -l <acks)" = 1000 ] &&
	[ "$(grep -c " 200$" acks)" = 1000 ] || { grep -v " 200$" acks | head; exit 1; }
	! [ -s side.err ] || { cat side.err; exit 1; }
	[ "$(wc -l <cli.acked)" -ge 1 ]
'

test_expect_success 'all present, each exactly once, none torn: in the files, status and GET /v1/targets' '
	serve_env &&
	registry_sound &&
	benchmon status --json >st.json &&
	[ "$(api GET /v1/targets)" = 200 ] &&
	python3 - <<-\PY
	import json
	st = json.load(open("st.json")); api = json.load(open("resp"))
	cli = [l.strip() for l in open("cli.acked")]
	for doc in (st, api):
	    names = [t["name"] for t in doc["targets"] if t["kind"] == "service"]
	    assert len(names) == len(set(names)), "duplicates"
	    want = {"s%d" % i for i in range(1000)} | set(cli)
	    assert set(names) == want, (len(names), len(want), sorted(want - set(names))[:5], sorted(set(names) - want)[:5])
	    for t in doc["targets"]:
	        if t["kind"] == "service" and t["name"].startswith("s"):
	            i = int(t["name"][1:])
	            assert t["url"] == "http://node%d:%d/metrics" % (i % 8, 10000 + i), t
	            assert t["client_id"] == "c%d" % (i % 8), t
	print(len(cli), "CLI registrations beside them")
	PY
'

test_expect_success '200 idle connections (a slowloris) held open while registrations go on' '
	serve_env &&
	python3 - "$API" "$TOKEN" <<-\PY
	import json, socket, sys, time, urllib.request
	api, token = sys.argv[1], sys.argv[2]
	host, port = api[len("http://"):].split(":")
	idle = []
	for i in range(200):
	    s = socket.create_connection((host, int(port)))
	    s.sendall(b"POST /v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")  # never finished
	    idle.append(s)
	time.sleep(1)
	ok = 0
	for i in range(100):
	    body = json.dumps({"client_id": "c1", "name": "slow%d" % i, "endpoint": "http://node1:%d/metrics" % (20000 + i)})
	    req = urllib.request.Request(api + "/v1/services", data=body.encode(), method="POST",
	                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
	    with urllib.request.urlopen(req, timeout=20) as r:
	        ok += r.status == 200
	assert ok == 100, ok
	# the idle ones are still open: a byte more is accepted
	alive = 0
	for s in idle:
	    try:
	        s.sendall(b"x")
	        alive += 1
	    except OSError:
	        pass
	    s.close()
	print("registered", ok, "with", alive, "idle connections open")
	PY
'

test_expect_success 'clients that disconnect mid-body, or mid-headers, change nothing' '
	serve_env &&
	snapshot "$sess/targets" >before &&
	python3 - "$API" "$TOKEN" <<-\PY &&
	import socket, sys
	api, token = sys.argv[1], sys.argv[2]
	host, port = api[len("http://"):].split(":")
	body = b"{\"client_id\":\"c1\",\"name\":\"cut\",\"endpoint\":\"http://node1:1/metrics\"}"
	for i in range(50):
	    s = socket.create_connection((host, int(port)))
	    head = (b"POST /v1/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
	            b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
	    s.sendall(head + body[: i % len(body)] if i % 2 else head[: i * 3 % len(head)])
	    s.close()
	PY
	[ "$(api GET /v1/targets)" = 200 ] &&
	! grep -q "\"cut\"" resp &&
	snapshot "$sess/targets" >after && test_cmp before after
'

test_expect_success 'malformed requests, huge headers and header injection are refused; the server keeps serving' '
	serve_env &&
	snapshot "$sess/targets" >before &&
	python3 - "$API" "$TOKEN" <<-\PY &&
	import socket, sys
	api, token = sys.argv[1], sys.argv[2]
	host, port = api[len("http://"):].split(":")
	auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
	def raw(data, expect=None):
	    s = socket.create_connection((host, int(port)))
	    s.settimeout(20)
	    s.sendall(data)
	    try:
	        s.shutdown(socket.SHUT_WR)
	    except OSError:
	        pass
	    out = b""
	    try:
	        while True:
	            chunk = s.recv(65536)
	            if not chunk:
	                break
	            out += chunk
	    except (ConnectionResetError, socket.timeout):
	        pass
	    s.close()
	    status = out.split(b" ", 2)[1].decode() if out.startswith(b"HTTP/") else "closed"
	    assert status != "200", (data[:80], out[:200])
	    head = out.split(b"\r\n\r\n", 1)[0]
	    assert b"Set-Cookie" not in head and b"Injected" not in head, out
	    if expect:
	        assert status in expect, (data[:80], status, out[:200])
	    return status
	cases = [
	    (b"GARBAGE\r\n\r\n", None),
	    (b"\x00\x01\x02\x03" * 100, None),
	    (b"GET /v1/status HTTP/9.9\r\nHost: x\r\n" + auth + b"\r\n", None),
	    (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n" + auth + b"\r\n", None),
	    (b"POST /v1/clients HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{}", None),
	    (b"POST /v1/clients HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}", None),
	    (b"POST /v1/clients HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", None),
	    (b"DELETE /v1/clients/c1%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n", {"400"}),
	    (b"DELETE /v1/clients/c1\r\nInjected: 1 HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n", None),
	    (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() + b"\r\n x\r\n\r\n", None),
	    (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode()[:-1] + b"\x00" + b"\r\n\r\n", None),
	    (b"POST /v1/clients HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"client_id\":\"c1\",\"no", {"400"}),
	]
	for data, expect in cases:
	    raw(data, expect)
	print(len(cases), "refused")
	PY
	[ "$(api GET /v1/status)" = 200 ] &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c2\",\"name\":\"after\",\"endpoint\":\"http://node2:1/metrics\"}")" = 200 ] &&
	[ "$(api DELETE /v1/clients/c2/services/after)" = 200 ] &&
	snapshot "$sess/targets" >after && test_cmp before after &&
	kill -0 "$SERVE_PID" &&
	registry_sound
'

test_done
