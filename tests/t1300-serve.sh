#!/bin/bash
# benchmon serve: every route, every error status, the token, heartbeats and
# stale clients, the event stream, doc/openapi.yaml against the live server,
# a graceful end on SIGTERM (409 to a request that completes while it ends),
# 'stop' ending it, and HTTPS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve.sh"

PORT=$(free_port 20500)
sess="$BENCHMON_HOME/sessions/api1"
export BENCHMON_SESSION=api1

test_expect_success 'setup: a session and its API' '
	benchmon session-create --run-id api1 --launcher local --listen 127.0.0.1 --port "$(free_port 20600)" &&
	start_serve api1 "$PORT" &&
	[ "$(stat -c %a "$sess/api.token")" = 600 ] &&
	[ "$(wc -c <"$sess/api.token")" -ge 16 ] &&
	grep -q "at http://127.0.0.1:$PORT" "$TEST_DIR/serve-$PORT.err" &&
	! grep -qF "$TOKEN" "$TEST_DIR/serve-$PORT.err" "$TEST_DIR/serve-$PORT.out"
'

test_expect_success 'status shows where the API listens' '
	serve_env &&
	benchmon status >st &&
	grep -q "^api  *http://127.0.0.1:$PORT (pid $SERVE_PID" st &&
	benchmon status --json >st.json &&
	[ "$(json_get st.json "j[\"api_url\"]")" = "http://127.0.0.1:$PORT" ]
'

test_expect_success '401 without the token, with a wrong one or another scheme; nothing changes' '
	serve_env &&
	snapshot "$sess" >before &&
	code=$(curl -s -o resp -w "%{http_code}" -H "Content-Type: application/json" \
		-d "{\"client_id\":\"x1\",\"node\":\"n1\"}" "$API/v1/clients") && [ "$code" = 401 ] &&
	grep -q "\"error\"" resp &&
	code=$(curl -s -o resp -w "%{http_code}" -H "Authorization: Bearer ${TOKEN}x" -H "Content-Type: application/json" \
		-d "{\"client_id\":\"x1\",\"node\":\"n1\"}" "$API/v1/clients") && [ "$code" = 401 ] &&
	code=$(curl -s -o resp -w "%{http_code}" -H "Authorization: Bearer ${TOKEN%?}" "$API/v1/status") && [ "$code" = 401 ] &&
	code=$(curl -s -o resp -w "%{http_code}" -H "Authorization: Basic $TOKEN" "$API/v1/status") && [ "$code" = 401 ] &&
	code=$(curl -s -D hdr -o resp -w "%{http_code}" -H "Authorization: Bearer" "$API/v1/nothing") && [ "$code" = 401 ] &&
	grep -qi "^WWW-Authenticate: Bearer" hdr &&
	! grep -qF "$TOKEN" resp hdr &&
	snapshot "$sess" >after && test_cmp before after
'

test_expect_success 'POST /v1/clients registers as client-connect does' '
	serve_env &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c1\",\"node\":\"nodeA\",\"node_exporter\":\"nodeA:9100\"}")" = 200 ] &&
	[ "$(json_get resp "j[\"client_id\"], j[\"node_exporter\"], j[\"error\"]")" = "c1 nodeA:9100 None" ] &&
	benchmon client-connect --client-id c0 --node nodeA --node-exporter nodeA:9100 --json >cli.json &&
	python3 -c "import json; a = json.load(open(\"resp\")); b = json.load(open(\"cli.json\")); assert sorted(a) == sorted(b), (a, b)" &&
	test_path_is_file "$sess/targets/client+c1.json" &&
	benchmon status --json >st.json &&
	[ "$(json_get st.json "*[t[\"address\"] for t in j[\"targets\"] if t[\"client_id\"] == \"c1\"]")" = "nodeA:9100" ]
'

test_expect_success 'POST /v1/services: one, an array, and {"services": [...]}' '
	serve_env &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"web\",\"endpoint\":\"http://nodeA:8000/metrics\"}")" = 200 ] &&
	[ "$(json_get resp "j[\"registered\"]")" = 1 ] &&
	[ "$(api_json POST /v1/services "[{\"client_id\":\"c1\",\"name\":\"a\",\"endpoint\":\"http://nodeA:8001/m\"},{\"client_id\":\"c1\",\"name\":\"b\",\"endpoint\":\"https://nodeA:8002/metrics?x=1\"}]")" = 200 ] &&
	[ "$(json_get resp "j[\"registered\"]")" = 2 ] &&
	[ "$(api_json POST /v1/services "{\"services\":[{\"client_id\":\"c1\",\"name\":\"c\",\"endpoint\":\"http://nodeA:8003/metrics\"}]}")" = 200 ] &&
	benchmon status --json >st.json &&
	[ "$(json_get st.json "*sorted(t[\"url\"] for t in j[\"targets\"] if t[\"kind\"] == \"service\")")" = \
	  "http://nodeA:8000/metrics http://nodeA:8001/m http://nodeA:8003/metrics https://nodeA:8002/metrics?x=1" ] ||
	{ cat st.json; false; }
'

test_expect_success 'the https endpoint keeps its scheme; a bearer token file for one service' '
	serve_env &&
	json_get st.json "[t[\"url\"] for t in j[\"targets\"] if t.get(\"name\") == \"b\"]" | grep -q "https://nodeA:8002" &&
	echo secret-token >"$TEST_DIR/svc.token" &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"sec\",\"endpoint\":\"http://nodeA:8004/metrics\",\"bearer_token_file\":\"$TEST_DIR/svc.token\"}")" = 200 ] &&
	[ "$(api GET /v1/targets)" = 200 ] &&
	[ "$(json_get resp "*[t[\"bearer_token_file\"] for t in j[\"targets\"] if t[\"name\"] == \"sec\"]")" = "$TEST_DIR/svc.token" ] &&
	! grep -rq secret-token "$BENCHMON_HOME"
'

test_expect_success 'GET /v1/targets agrees with status; GET /v1/status is what status --json prints' '
	serve_env &&
	[ "$(api GET /v1/targets)" = 200 ] && cp resp targets.json &&
	{ benchmon status --json >st.json || [ $? = 1 ]; } &&
	python3 - <<-\PY &&
	import json
	t = json.load(open("targets.json")); s = json.load(open("st.json"))
	key = lambda x: (x["client_id"], x["kind"], x["name"] or "", x["address"], x["url"])
	assert sorted(map(key, t["targets"])) == sorted(map(key, s["targets"])), (t, s)
	assert t["clients"] == s["clients"] == 2
	PY
	[ "$(api GET /v1/status)" = 200 ] &&
	python3 -c "import json; a = json.load(open(\"resp\")); b = json.load(open(\"st.json\")); assert sorted(a) == sorted(b), set(a) ^ set(b); assert a[\"targets\"] == b[\"targets\"]"
'

test_expect_success '400 for a field that fails validation, with the CLI message, and nothing written' '
	serve_env &&
	snapshot "$sess" >before &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"x\",\"endpoint\":\"ftp://nodeA/metrics\"}")" = 400 ] &&
	[ "$(json_get resp "j[\"field\"]")" = endpoint ] &&
	msg=$(json_get resp "j[\"error\"]") &&
	test_expect_code 2 benchmon service-register --client-id c1 --name x --endpoint ftp://nodeA/metrics 2>err.cli &&
	grep -qF "$msg" err.cli &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"../etc\",\"node\":\"n\"}")" = 400 ] &&
	[ "$(json_get resp "j[\"field\"]")" = client_id ] &&
	msg=$(json_get resp "j[\"error\"]") &&
	test_expect_code 2 benchmon client-connect --client-id ../etc --node n 2>err.cli &&
	grep -qF "$msg" err.cli &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c9\",\"node\":\"bad node\"}")" = 400 ] &&
	[ "$(json_get resp "j[\"field\"]")" = node ] &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c9\",\"node\":\"n\",\"node_exporter\":\"n:99999\"}")" = 400 ] &&
	[ "$(json_get resp "j[\"field\"]")" = node_exporter ] &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"nobody\",\"name\":\"x\",\"endpoint\":\"http://n:1/metrics\"}")" = 400 ] &&
	grep -q "not connected" resp &&
	[ "$(api_json POST /v1/services "[{\"client_id\":\"c1\",\"name\":\"ok1\",\"endpoint\":\"http://n:1/metrics\"},{\"client_id\":\"c1\",\"name\":\"bad\",\"endpoint\":\"http://n:0/metrics\"}]")" = 400 ] &&
	grep -q "services\[1\]" resp &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"t\",\"endpoint\":\"http://n:1/metrics\",\"bearer_token_file\":\"relative/path\"}")" = 400 ] &&
	[ "$(json_get resp "j[\"field\"]")" = bearer_token_file ] &&
	snapshot "$sess" >after && test_cmp before after
'

test_expect_success '400 for bad JSON: invalid, truncated, duplicate and unknown keys, wrong types, trailing data' '
	serve_env &&
	snapshot "$sess" >before &&
	for body in "{" "{\"client_id\":\"c9\",\"node\":" "not json" "[]" "\"c9\"" "{\"client_id\":\"c9\",\"client_id\":\"c8\",\"node\":\"n\"}" \
		"{\"client_id\":\"c9\",\"node\":\"n\",\"extra\":1}" "{\"client_id\":9,\"node\":\"n\"}" "{\"client_id\":\"c9\"}" \
		"{\"client_id\":\"c9\",\"node\":\"n\"} {}" "{\"client_id\":\"c9\",\"node\":\"n\",\"heartbeat_timeout_s\":-1}" ""; do
		code=$(api_json POST /v1/clients "$body") &&
		[ "$code" = 400 ] || { echo "$body: $code"; cat resp; exit 1; }
		python3 -c "import json; j = json.load(open(\"resp\")); assert j[\"error\"] and \"field\" in j"
	done &&
	printf "{\"client_id\":\"c9\\0\",\"node\":\"n\"}" >nul.json &&
	[ "$(api POST /v1/clients -H "Content-Type: application/json" --data-binary @nul.json)" = 400 ] &&
	[ "$(api_json POST /v1/services "{\"services\":[]}")" = 400 ] &&
	[ "$(api_json PUT /v1/clients/c1/heartbeat "{\"timeout_s\":1.5}")" = 400 ] &&
	[ "$(api DELETE /v1/clients/c1 -H "Content-Type: application/json" -d "{}")" = 400 ] &&
	snapshot "$sess" >after && test_cmp before after
'

test_expect_success '404: unknown paths, clients and services; traversal and control characters in ids' '
	serve_env &&
	[ "$(api GET /v1/nothing)" = 404 ] &&
	[ "$(api GET /v1/status/)" = 404 ] &&
	[ "$(api GET /)" = 404 ] &&
	[ "$(api DELETE /v1/clients/nobody)" = 404 ] &&
	[ "$(api DELETE /v1/clients/c1/services/nothing)" = 404 ] &&
	[ "$(api PUT /v1/clients/nobody/heartbeat)" = 404 ] &&
	[ "$(api DELETE /v1/clients/..%2F..%2Fsession.json)" = 404 ] &&
	[ "$(api DELETE /v1/clients/.. --path-as-is)" = 400 ] &&
	[ "$(api DELETE "/v1/clients/c1%0Aevil")" = 400 ] &&
	[ "$(api DELETE "/v1/clients/c1%00x")" = 400 ] &&
	[ "$(api DELETE "/v1/clients/c1/services/%2e%2e")" = 400 ] &&
	test_path_is_file "$sess/session.json" &&
	test_path_is_file "$sess/targets/client+c1.json"
'

test_expect_success '405 with Allow; 415 for a body that is not JSON; 413 over 64 KiB' '
	serve_env &&
	[ "$(api PUT /v1/status -D hdr)" = 405 ] && grep -qi "^Allow: GET" hdr &&
	[ "$(api GET /v1/clients -D hdr)" = 405 ] && grep -qi "^Allow: POST" hdr &&
	[ "$(api POST /v1/clients/c1 -D hdr)" = 405 ] && grep -qi "^Allow: DELETE" hdr &&
	[ "$(api GET /v1/clients/c1/heartbeat -D hdr)" = 405 ] && grep -qi "^Allow: PUT" hdr &&
	[ "$(api PATCH /v1/services -D hdr)" = 405 ] && grep -qi "^Allow: POST" hdr &&
	[ "$(api POST /v1/clients -H "Content-Type: text/plain" -d "{\"client_id\":\"c9\",\"node\":\"n\"}")" = 415 ] &&
	[ "$(api POST /v1/clients -d "{\"client_id\":\"c9\",\"node\":\"n\"}")" = 415 ] &&
	python3 -c "print(\"{\\\"client_id\\\":\\\"c9\\\",\\\"node\\\":\\\"\" + \"n\" * 70000 + \"\\\"}\")" >big.json &&
	[ "$(api POST /v1/clients -H "Content-Type: application/json" --data-binary @big.json)" = 413 ] &&
	[ "$(api POST /v1/clients -H "Content-Type: application/json" -H "Transfer-Encoding: chunked" --data-binary @big.json)" = 413 ] &&
	test_path_is_missing "$sess/targets/client+c9.json"
'

test_expect_success 'heartbeats: a client silent past its timeout is stale in status, GET /v1/status and the stream' '
	serve_env &&
	(curl -sN -H "Authorization: Bearer $TOKEN" "$API/v1/events" >events.txt 2>/dev/null &
	 echo $! >events.pid) &&
	test_cleanup "kill $(cat events.pid)" &&
	wait_for 10 "grep -q \"benchmon events\" events.txt" &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"hb1\",\"node\":\"nodeB\",\"heartbeat_timeout_s\":2}")" = 200 ] &&
	[ "$(api PUT /v1/clients/c1/heartbeat)" = 200 ] &&
	[ "$(api_json PUT /v1/clients/c1/heartbeat "{\"timeout_s\":600}")" = 200 ] &&
	wait_for 20 "benchmon status 2>/dev/null | grep -q \"^stale  *client hb1\"" &&
	! benchmon status | grep -q "client c1:" &&
	[ "$(api GET /v1/status)" = 200 ] &&
	[ "$(json_get resp "*[c[\"client_id\"] for c in j[\"stale_clients\"]]")" = "hb1" ] &&
	wait_for 20 "grep -q \"^event: stale\" events.txt" &&
	grep -A1 "^event: stale" events.txt | grep -q "\"client_id\":\"hb1\"" &&
	[ "$(api PUT /v1/clients/hb1/heartbeat)" = 200 ] &&
	wait_for 20 "grep -q \"^event: fresh\" events.txt" &&
	benchmon status --json >st.json &&
	[ "$(json_get st.json "len(j[\"stale_clients\"])")" = 0 ]
'

test_expect_success 'the event stream: registrations from the API and from the CLI' '
	serve_env &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"ev1\",\"node\":\"nodeC\",\"node_exporter\":\"nodeC:9100\"}")" = 200 ] &&
	benchmon service-register --client-id ev1 --name viacli --endpoint http://nodeC:7000/metrics &&
	wait_for 20 "grep -q \"viacli\" events.txt" &&
	grep -q "^event: client" events.txt &&
	grep -A1 "^event: registered" events.txt | grep -q "\"address\":\"nodeC:9100\"" &&
	grep -A1 "^event: registered" events.txt | grep -q "\"name\":\"viacli\"" &&
	grep -q "^id: " events.txt
'

test_expect_success 'DELETE a service, then a client with all it has' '
	serve_env &&
	[ "$(api DELETE /v1/clients/ev1/services/viacli)" = 200 ] &&
	[ "$(json_get resp "j[\"removed\"]")" = True ] &&
	[ "$(api DELETE /v1/clients/ev1/services/viacli)" = 404 ] &&
	[ "$(api DELETE /v1/clients/c1)" = 200 ] &&
	{ benchmon status --json >st.json || [ $? = 1 ]; } &&
	[ "$(json_get st.json "len([t for t in j[\"targets\"] if t[\"client_id\"] in (\"c1\", \"ev1\") and t[\"kind\"] == \"service\"])")" = 0 ] &&
	test_path_is_missing "$sess/targets/client+c1.json" &&
	wait_for 20 "grep -q \"^event: removed\" events.txt"
'

test_expect_success 'doc/openapi.yaml: every route it lists is answered, and every route answered is in it' '
	serve_env &&
	python3 - "$SRC_DIR" "$API" "$TOKEN" <<-\PY
	import re, sys, urllib.request, urllib.error, yaml
	src, api, token = sys.argv[1:4]
	doc = yaml.safe_load(open(src + "/doc/openapi.yaml"))
	methods = ("get", "post", "put", "delete", "patch")
	documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in methods}
	# the table of routes in the source
	table = set(re.findall(r"\{ \"([A-Z]+)\", \"(/v1/[^\"]*)\", \d, \w+ \}", open(src + "/serve/serve.c").read()))
	table = {(m, re.sub(r"\{\}", "{}", p)) for m, p in table}
	norm = lambda p: re.sub(r"\{[a-z_]+\}", "{}", p)
	assert {(m, norm(p)) for m, p in documented} == table, ({(m, norm(p)) for m, p in documented}, table)
	def call(method, path):
	    req = urllib.request.Request(api + path, method=method, headers={"Authorization": "Bearer " + token})
	    try:
	        with urllib.request.urlopen(req, timeout=10) as r:
	            return r.status, r.headers
	    except urllib.error.HTTPError as e:
	        return e.code, e.headers
	for path in sorted({p for _, p in documented}):
	    concrete = path.replace("{client_id}", "zz-none").replace("{name}", "zz-none")
	    want = sorted(m for m, p in documented if p == path)
	    code, headers = call("PATCH", concrete)
	    assert code == 405, (path, code)
	    allow = sorted(a.strip() for a in headers["Allow"].split(","))
	    assert allow == want, (path, allow, want)
	    for m in want:
	        if m == "GET" and path == "/v1/events":
	            continue
	        code, _ = call(m, concrete)
	        assert code not in (404, 405) or path.count("{"), (m, path, code)
	        assert code != 405, (m, path, code)
	for path in ("/v1", "/v1/", "/v1/clients/x/services", "/v1/services/x", "/v2/status", "/v1/clients/x/heartbeat/y"):
	    for m in ("GET", "POST", "PUT", "DELETE"):
	        code, _ = call(m, path)
	        assert code == 404, (m, path, code)
	print("routes", len(documented))
	PY
'

test_expect_success 'SIGTERM: a request in flight completes with 409, the server ends and says so' '
	serve_env &&
	python3 - "$API" "$TOKEN" "$SERVE_PID" "$TEST_DIR/serve-$PORT.err" <<-\PY &&
	import os, signal, socket, sys, time
	api, token, pid, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
	host, port = api[len("http://"):].split(":")
	body = b"{\"client_id\":\"late\",\"node\":\"n1\"}"
	s = socket.create_connection((host, int(port)))
	s.sendall(b"POST /v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
	          b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
	time.sleep(0.5)   # the server has the request in part
	os.kill(pid, signal.SIGTERM)
	deadline = time.time() + 20
	while b"ending" not in open(log, "rb").read():
	    assert time.time() < deadline
	    time.sleep(0.1)
	s.sendall(body[10:])
	answer = s.recv(65536).decode()
	assert answer.startswith("HTTP/1.1 409"), answer
	PY
	wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null" &&
	grep -q "has ended" "$TEST_DIR/serve-$PORT.err" &&
	test_path_is_missing "$sess/targets/client+late.json" &&
	test_path_is_missing "$sess/api.json" &&
	! benchmon status | grep -q "^api"
'

test_expect_success 'stop ends the server; a second server of the session is refused' '
	serve_env &&
	PORT2=$(free_port $((PORT + 1))) &&
	start_serve api1 "$PORT2" &&
	test_expect_code 1 benchmon serve --listen "127.0.0.1:$(free_port $((PORT2 + 1)))" 2>err &&
	grep -q "already served at http://127.0.0.1:$PORT2" err &&
	benchmon stop &&
	wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null" &&
	test_path_is_missing "$sess/api.json"
'

test_expect_success 'a token file of its own; HTTPS' '
	serve_env &&
	command -v openssl >/dev/null || { echo "no openssl: skipped"; exit 0; }
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 2>/dev/null &&
	printf "%s\n" "my-own-token-0123456789" >tok &&
	PORT3=$(free_port $((PORT + 5))) &&
	SERVE_TOKEN_FILE=$TEST_DIR/tok start_serve api1 "$PORT3" --token-file "$TEST_DIR/tok" --tls-cert cert.pem --tls-key key.pem &&
	code=$(curl -s --cacert cert.pem -o resp -w "%{http_code}" -H "Authorization: Bearer my-own-token-0123456789" \
		"https://127.0.0.1:$PORT3/v1/targets") && [ "$code" = 200 ] &&
	code=$(curl -s --cacert cert.pem -o resp -w "%{http_code}" -H "Authorization: Bearer $(cat "$sess/api.token")" \
		"https://127.0.0.1:$PORT3/v1/targets") && [ "$code" = 401 ] &&
	benchmon status | grep -q "^api  *https://127.0.0.1:$PORT3" &&
	kill $SERVE_PID && wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null"
'

test_expect_success 'serve --json says where it listens; delete ends the server of the session it removes' '
	benchmon session-create --run-id api2 --launcher local &&
	PORT4=$(free_port $((PORT + 7))) &&
	start_serve api2 "$PORT4" --json &&
	serve_env &&
	wait_for 10 "grep -q url \"$TEST_DIR/serve-$PORT4.out\"" &&
	[ "$(json_get "$TEST_DIR/serve-$PORT4.out" "j[\"url\"], j[\"pid\"] == $SERVE_PID, j[\"error\"]")" = "http://127.0.0.1:$PORT4 True None" ] &&
	benchmon delete --session api2 2>err &&
	grep -q "ending the API server" err &&
	wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null" &&
	test_path_is_missing "$BENCHMON_HOME/sessions/api2"
'

test_expect_success 'on every address, the URL names this host' '
	PORT5=$(free_port $((PORT + 9)))
	benchmon serve --listen "0.0.0.0:$PORT5" 2>serve0.err &
	pid=$!
	test_cleanup "kill $pid"
	wait_for 20 "[ -f \"$sess/api.json\" ]" &&
	[ "$(json_get "$sess/api.json" "j[\"url\"]")" = "http://$(hostname):$PORT5" ] &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $(cat "$sess/api.token")" "http://127.0.0.1:$PORT5/v1/targets") &&
	[ "$code" = 200 ] &&
	kill $pid && wait_for 20 "! kill -0 $pid 2>/dev/null"
'

test_expect_success 'bad command lines: exit 2, nothing changed' '
	serve_env &&
	snapshot "$sess" >before &&
	test_expect_code 2 benchmon serve --listen nonsense &&
	test_expect_code 2 benchmon serve --listen 127.0.0.1:99999 &&
	test_expect_code 2 benchmon serve --tls-cert cert.pem &&
	test_expect_code 1 benchmon serve --token-file /nonexistent &&
	printf short >short.tok &&
	test_expect_code 1 benchmon serve --token-file short.tok &&
	test_expect_code 1 benchmon serve --session nosuch &&
	benchmon serve -h | grep -q "Authorization: Bearer" &&
	snapshot "$sess" >after && test_cmp before after
'

test_done
