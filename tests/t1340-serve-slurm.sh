#!/bin/bash
# benchmon serve as part of Prometheus's Slurm job: 'start --serve-in-job'
# says where the job's API listens, registrations go through it, and 'stop'
# (the job ending) ends it.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"
. "$SRC_DIR/tests/serve.sh"

command -v prometheus >/dev/null || test_skip_all "prometheus is not available"
PROM_PORT=$(free_port 20660)
API_PORT=$((PROM_PORT + 1))
sess="$BENCHMON_HOME/sessions/sj"
export BENCHMON_SESSION=sj
test_cleanup 'BENCHMON_SESSION=sj benchmon delete --force'

test_expect_success 'start --serve-in-job: the job runs the API beside Prometheus, and start says where' '
	benchmon session-create --run-id sj --listen 127.0.0.1 --port "$PROM_PORT" >/dev/null &&
	benchmon start --serve-in-job --no-wait-targets --wait 120 2>err &&
	cat err &&
	grep -q "API of session .sj. listens at http://127.0.0.1:$API_PORT" err &&
	grep -q "started the API server" "$sess"/logs/prometheus-*.out &&
	benchmon status | grep -q "^api  *http://127.0.0.1:$API_PORT"
'

test_expect_success 'registrations and status through the job'"'"'s API' '
	printf "API=http://127.0.0.1:%s\nTOKEN=%s\nSERVE_PID=%s\n" "$API_PORT" "$(cat "$sess/api.token")" \
		"$(json_get "$sess/api.json" "j[\"pid\"]")" >serve.env &&
	serve_env &&
	[ "$(api_json POST /v1/clients "{\"client_id\":\"c1\",\"node\":\"$(hostname)\"}")" = 200 ] &&
	[ "$(api_json POST /v1/services "{\"client_id\":\"c1\",\"name\":\"web\",\"endpoint\":\"http://$(hostname):9/metrics\"}")" = 200 ] &&
	[ "$(api GET /v1/status)" = 200 ] &&
	[ "$(json_get resp "j[\"state\"], j[\"job_id\"] == json.load(open(\"$sess/run.json\"))[\"job_id\"]")" = "running True" ] &&
	test_path_is_file "$sess/targets/client+c1.json"
'

test_expect_success 'stop ends the job and its API' '
	serve_env &&
	benchmon stop &&
	wait_for 30 "! kill -0 $SERVE_PID 2>/dev/null" &&
	test_path_is_missing "$sess/api.json" &&
	grep -q "has ended" "$sess"/logs/serve-*.log
'

test_done
