#!/bin/bash
# Services that need a bearer token: the token file is referenced, never copied.
. "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null || test_skip_all "prometheus is not installed"
SVC_PORT=$(free_port 19760)
PROM_PORT=$(free_port 19770)
sess="$BENCHMON_HOME/sessions/auth"
secret=s3cr3t-$RANDOM$RANDOM
test_cleanup '[ -n "${KEEP:-}" ] || BENCHMON_SESSION=auth benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=auth

# target_health NAME: the health status --json reports for service NAME
target_health() {
	benchmon status --json 2>/dev/null | python3 -c "
import json, sys
print(' '.join(t['health'] for t in json.load(sys.stdin)['targets'] if t['name'] == '$1'))"
}

test_expect_success 'setup: a /metrics endpoint that wants a bearer token, and a running session' '
	printf "%s" "$secret" >"$TEST_DIR/token" && chmod 600 "$TEST_DIR/token" &&
	printf "wrong" >"$TEST_DIR/wrong-token" &&
	cat >svc.py <<-\PY &&
	import http.server, sys
	port, secret = int(sys.argv[1]), sys.argv[2]
	class H(http.server.BaseHTTPRequestHandler):
	    def do_GET(self):
	        if self.headers.get("Authorization") != "Bearer " + secret:
	            self.send_response(401); self.end_headers(); return
	        body = b"# TYPE demo_up gauge\ndemo_up 1\n"
	        self.send_response(200); self.send_header("Content-Type", "text/plain"); self.end_headers()
	        self.wfile.write(body)
	    def log_message(self, *a): pass
	http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
	PY
	python3 svc.py "$SVC_PORT" "$secret" >svc.log 2>&1 &
	test_cleanup "pkill -f \"svc.py $SVC_PORT\""
	wait_for 10 "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$SVC_PORT/metrics | grep -q 401" &&
	benchmon session-create --run-id auth --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 1s &&
	benchmon client-connect --client-id c1 --node n1 &&
	benchmon start --wait 60 2>/dev/null
'

test_expect_success 'registering with --bearer-token-file during the run gets the target up' '
	benchmon service-register --client-id c1 --name secured --endpoint "http://127.0.0.1:$SVC_PORT/metrics" \
		--bearer-token-file "$TEST_DIR/token" 2>err &&
	cat err && grep -q "reloaded with a scrape job" err &&
	wait_for 40 "[ \"\$(target_health secured)\" = up ]"
'

test_expect_success 'the wrong token gives a down target with the 401' '
	benchmon service-register --client-id c1 --name wrong --endpoint "http://127.0.0.1:$SVC_PORT/metrics" \
		--bearer-token-file "$TEST_DIR/wrong-token" 2>/dev/null &&
	wait_for 40 "[ \"\$(target_health wrong)\" = down ]" &&
	benchmon status >st.txt; grep -q "401" st.txt
'

test_expect_success 'the token is referenced by path, never copied, never printed' '
	grep -qF "credentials_file: \"$TEST_DIR/token\"" "$sess/prometheus.yml" &&
	promtool check config "$sess/prometheus.yml" >/dev/null &&
	benchmon status --json >st.json && benchmon collect --last 10s --out out >col.txt 2>&1 &&
	! grep -r -q "$secret" "$BENCHMON_HOME" out st.json st.txt col.txt
'

test_expect_success 'a service re-registered without a token is scraped once, without it' '
	benchmon service-register --client-id c1 --name secured --endpoint "http://127.0.0.1:$SVC_PORT/metrics" &&
	[ "$(find "$sess/targets" -name "service+c1+secured+*.json" | wc -l)" = 1 ]
'

test_expect_success 'bad token files are refused with exit 2 and nothing written' '
	snapshot "$BENCHMON_HOME" >before &&
	for bad in relative/token "$TEST_DIR/missing" "$TEST_DIR" "/tmp/a\"b" "$(printf "/tmp/a\\nb")"; do
		test_expect_code 2 benchmon service-register --client-id c1 --name x --endpoint http://h:1/m \
			--bearer-token-file "$bad" 2>err || exit 1
		grep -q "bearer-token-file" err || exit 1
	done &&
	test_expect_code 2 benchmon service-register --from-file x.csv --bearer-token-file "$TEST_DIR/token" 2>err &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_done
