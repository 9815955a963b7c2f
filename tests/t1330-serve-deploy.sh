#!/bin/bash
# What a deployment script does with benchmon serve: 'start --serve' runs
# Prometheus and the API and says where it listens; the script registers its
# node exporter and service with curl and the token, and watches them come
# up in GET /v1/events as Prometheus scrapes them (health events), sees one
# go down when it dies, and 'stop' ends Prometheus and the API together.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve.sh"

for bin in prometheus prometheus-node-exporter load-target; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 20620)
NE_PORT=$(free_port $((LT_PORT + 1)))
PROM_PORT=$(free_port 20630)
API_PORT=$(free_port 20560)
sess="$BENCHMON_HOME/sessions/deploy"
export BENCHMON_SESSION=deploy
test_cleanup 'BENCHMON_SESSION=deploy benchmon stop; pkill -f -- "--config.file=$sess/prometheus.yml"'
test_cleanup '[ -f "$sess/api.json" ] && kill "$(sed -n "s/.*\"pid\":[[:space:]]*\([0-9]*\).*/\1/p" "$sess/api.json")"'

test_expect_success 'setup: a load target and node_exporter' '
	load-target --listen "127.0.0.1:$LT_PORT" --service web 2>lt.log &
	echo $! >lt.pid
	test_cleanup "kill $(cat lt.pid)"
	start_node_exporter "$NE_PORT" &&
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null
'

test_expect_success 'start --serve runs Prometheus and the API, and says where the API listens' '
	benchmon session-create --run-id deploy --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon start --wait 60 --serve --serve-listen "127.0.0.1:$API_PORT" 2>start.err &&
	cat start.err &&
	grep -q "API of session .deploy. listens at http://127.0.0.1:$API_PORT" start.err &&
	benchmon status | grep -q "^api  *http://127.0.0.1:$API_PORT" &&
	printf "API=http://127.0.0.1:%s\nTOKEN=%s\nSERVE_PID=%s\n" "$API_PORT" "$(cat "$sess/api.token")" \
		"$(json_get "$sess/api.json" "j[\"pid\"]")" >serve.env
'

test_expect_success 'the script registers with curl and the token, and watches its targets come up' '
	serve_env &&
	(curl -sN -H "Authorization: Bearer $TOKEN" "$API/v1/events" >events.txt 2>/dev/null &
	 echo $! >events.pid) &&
	test_cleanup "kill $(cat events.pid)" &&
	wait_for 10 "grep -q \"benchmon events\" events.txt" &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c1\",\"node\":\"$(hostname)\",\"node_exporter\":\"127.0.0.1:$NE_PORT\",\"heartbeat_timeout_s\":600}")" = 200 ] &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"web\",\"endpoint\":\"http://127.0.0.1:$LT_PORT/metrics\"}")" = 200 ] &&
	wait_for 60 "grep -A1 \"^event: health\" events.txt | grep -q \"\\\"name\\\":\\\"web\\\".*\\\"health\\\":\\\"up\\\"\"" &&
	wait_for 60 "grep -A1 \"^event: health\" events.txt | grep -q \"\\\"kind\\\":\\\"node\\\".*\\\"health\\\":\\\"up\\\"\"" &&
	grep -A1 "^event: registered" events.txt | grep -q "\"name\":\"web\"" &&
	[ "$(api GET /v1/status)" = 200 ] &&
	[ "$(json_get resp "*sorted(t[\"health\"] for t in j[\"targets\"])")" = "up up" ] &&
	benchmon status --json >st.json &&
	[ "$(json_get st.json "*sorted(t[\"health\"] for t in j[\"targets\"])")" = "up up" ]
'

test_expect_success 'a target that dies is a health event "down"' '
	serve_env &&
	kill "$(cat lt.pid)" &&
	wait_for 60 "grep -A1 \"^event: health\" events.txt | grep -q \"\\\"name\\\":\\\"web\\\".*\\\"health\\\":\\\"down\\\"\"" &&
	grep -A1 "^event: health" events.txt | grep "\"name\":\"web\"" | grep "\"health\":\"down\"" | grep -q "\"previous\":\"up\""
'

test_expect_success 'the session rule TARGET_DOWN firing is an "alert" event' '
	wait_for 60 "grep -A1 \"^event: alert\" events.txt | grep \"TARGET_DOWN\" | grep -q \"\\\"state\\\":\\\"firing\\\"\"" &&
	grep -A1 "^event: alert" events.txt | grep "TARGET_DOWN" | grep -q "\"severity\":\"critical\""
'

test_expect_success 'the target back up resolves the alert: a "resolved" event' '
	load-target --listen "127.0.0.1:$LT_PORT" --service web 2>lt2.log &
	echo $! >lt.pid
	test_cleanup "kill $(cat lt.pid)"
	wait_for 60 "grep -A1 \"^event: resolved\" events.txt | grep -q \"TARGET_DOWN\""
'

test_expect_success 'a window a client was stale in gets a stale_client finding from collect' '
	serve_env &&
	date -u +%Y-%m-%dT%H:%M:%S.%NZ >from &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"quiet\",\"node\":\"nodeQ\",\"heartbeat_timeout_s\":1}")" = 200 ] &&
	wait_for 30 "grep -A1 \"^event: stale\" events.txt | grep -q \"\\\"client_id\\\":\\\"quiet\\\"\"" &&
	[ "$(api_json PUT /v1/clients/quiet/heartbeat "{\"timeout_s\":600}")" = 200 ] &&
	wait_for 30 "grep -q \"^event: fresh\" events.txt" &&
	sleep 1 && date -u +%Y-%m-%dT%H:%M:%S.%NZ >to &&
	{ benchmon collect --from-iso "$(cat from)" --to-iso "$(cat to)" --out out --json >collect.json || [ $? = 1 ]; } &&
	python3 - <<-\PY
	import json
	c = json.load(open("collect.json"))
	f = [x for x in c["findings"] if x["kind"] == "stale_client"]
	assert len(f) == 1 and f[0]["subject"] == "client quiet", c["findings"]
	assert "no heartbeat" in f[0]["message"], f
	m = json.load(open("out/MANIFEST.json"))
	assert any(x["kind"] == "stale_client" for x in m["findings"]), m["findings"]
	PY
'

test_expect_success 'stop ends Prometheus and the API' '
	serve_env &&
	benchmon stop 2>stop.err &&
	grep -q "ending the API server" stop.err &&
	wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null" &&
	test_path_is_missing "$sess/api.json" &&
	! benchmon status | grep -q "^api"
'

test_expect_success 'start --serve-in-job runs the API in the job, at the port after Prometheus; stop ends both' '
	benchmon start --wait 60 --no-wait-targets --serve-in-job 2>start.err &&
	grep -q "API of session .deploy. listens at http://127.0.0.1:$((PROM_PORT + 1))" start.err &&
	printf "API=http://127.0.0.1:%s\nTOKEN=%s\nSERVE_PID=%s\n" "$((PROM_PORT + 1))" "$(cat "$sess/api.token")" \
		"$(json_get "$sess/api.json" "j[\"pid\"]")" >serve.env &&
	serve_env &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c2\",\"node\":\"nodeB\"}")" = 200 ] &&
	test_path_is_file "$sess/targets/client+c2.json" &&
	benchmon stop &&
	wait_for 20 "! kill -0 $SERVE_PID 2>/dev/null" &&
	test_path_is_missing "$sess/api.json" &&
	grep -q "has ended" "$sess"/logs/serve-*.log
'

test_done
