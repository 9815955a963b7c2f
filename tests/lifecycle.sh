# The lifecycle every launcher must pass, sourced by t0400 (local) and t0500 (Slurm)
# after they set LAUNCHER and, for Slurm, SLURM_CONF.
#
# Uses a real prometheus and a real prometheus-node-exporter on loopback.

command -v prometheus >/dev/null || test_skip_all "prometheus is not installed"
command -v prometheus-node-exporter >/dev/null || test_skip_all "prometheus-node-exporter is not installed"

NE_PORT=$(free_port 19300)
PROM_PORT=$(free_port 19400)
sess="$BENCHMON_HOME/sessions/life"

# prometheus_pids: pids of Prometheus processes serving this session
prometheus_pids() {
	pgrep -f -- "--config.file=$sess/prometheus.yml" || :
}
test_cleanup 'BENCHMON_SESSION=life benchmon delete --force >/dev/null 2>&1; pkill -9 -f -- "--config.file=$sess/prometheus.yml"'

# target_health KIND NAME: the health status --json reports for that target
target_health() {
	benchmon status --session life --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(' '.join(t['health'] for t in d['targets'] if t['kind'] == '$1' and (t['name'] or '') == '$2'))"
}

test_expect_success "setup: node_exporter and a $LAUNCHER session" '
	start_node_exporter "$NE_PORT" &&
	benchmon session-create --run-id life --launcher "$LAUNCHER" --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session life --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT"
'

test_expect_success 'start waits until Prometheus is ready and says where' '
	benchmon start --session life --wait 120 2>err &&
	cat err &&
	grep -q "submitted Prometheus as $LAUNCHER job" err &&
	grep -q "running on" err &&
	grep -q "Prometheus ready at http://127.0.0.1:$PROM_PORT" err &&
	prom_curl "$BENCHMON_HOME/sessions/life" -sf "http://127.0.0.1:$PROM_PORT/-/ready"
'

test_expect_success 'status --json reports job, node, URL and readiness' '
	benchmon status --session life --json >st.json &&
	python3 - <<-PY
	import json
	d = json.load(open("st.json"))
	for key in ("session", "launcher", "job_id", "job_state", "node", "prometheus_url", "ready", "targets"):
	    assert key in d, key
	assert d["launcher"] == "$LAUNCHER" and d["state"] == "running", d
	assert d["job_state"] == "RUNNING" and d["ready"] is True, d
	assert d["prometheus_url"] == "http://127.0.0.1:$PROM_PORT", d
	for t in d["targets"]:
	    assert set(t) >= {"client_id", "kind", "name", "address", "health", "last_error"}, t
	PY
'

test_expect_success 'the node exporter target becomes up' '
	wait_for 30 "[ \"\$(target_health node \"\")\" = up ]" ||
	{ benchmon status --session life; false; }
'

test_expect_success 'node_exporter metrics carry the session labels' '
	wait_for 20 "prom_curl \"$BENCHMON_HOME/sessions/life\" -sf \"http://127.0.0.1:$PROM_PORT/api/v1/query?query=node_load1\" | grep -q client_id" &&
	prom_curl "$BENCHMON_HOME/sessions/life" -sf "http://127.0.0.1:$PROM_PORT/api/v1/query?query=node_load1" >q.json &&
	grep -q "\"session\":\"life\"" q.json && grep -q "\"job\":\"node\"" q.json && grep -q "\"kind\":\"node\"" q.json
'

test_expect_success 'a service registered during the run becomes active without a restart' '
	benchmon service-register --session life --client-id c1 --name late \
		--endpoint "http://127.0.0.1:$NE_PORT/metrics" &&
	wait_for 40 "[ \"\$(target_health service late)\" = up ]" &&
	[ "$(prometheus_pids | wc -l)" = 1 ]
'

test_expect_success 'a down target is reported down with its error' '
	benchmon service-register --session life --client-id c1 --name dead --endpoint "http://127.0.0.1:9/metrics" &&
	wait_for 40 "[ \"\$(target_health service dead)\" = down ]" &&
	benchmon status --session life >st.txt &&
	grep -E "dead .* down .*refused" st.txt
'

test_expect_success 'starting a running session is refused' '
	test_expect_code 1 benchmon start --session life 2>err &&
	grep -q "already running" err
'

test_expect_success 'reload re-renders and reloads the configuration' '
	benchmon reload --session life 2>err && grep -q "reloaded" err
'

test_expect_success 'delete refuses the running session' '
	test_expect_code 1 benchmon delete --session life 2>err && grep -q -- "--force" err
'

test_expect_success 'stop saves the TSDB, ends the job and leaves no process' '
	benchmon stop --session life 2>err &&
	cat err &&
	grep -q "TSDB saved in $sess/tsdb/" err &&
	first_save=$(sed -n "s|.*TSDB saved in ||p" err) &&
	echo "$first_save" >first-save &&
	test_path_is_dir "$first_save/wal" &&
	test_path_is_file "$first_save/benchmon-save.json" &&
	[ -z "$(prometheus_pids)" ] &&
	benchmon status --session life --json >st.json &&
	grep -q "\"state\":[[:space:]]*\"stopped\"" st.json &&
	grep -q "\"tsdb_copy\":[[:space:]]*\"$first_save\"" st.json &&
	[ "$(stat -c %a "$sess/tsdb")" = 700 ] &&
	[ "$(stat -c %a "$first_save")" = 700 ]
'

test_expect_success 'the TSDB copy holds the scraped data' '
	copy_port=$(free_port 19500)
	cp -a "$(cat first-save)" "$TEST_DIR/copy"
	prometheus --config.file=/dev/null --storage.tsdb.path="$TEST_DIR/copy" \
		--web.listen-address="127.0.0.1:$copy_port" >copy.log 2>&1 &
	copy_pid=$!
	test_cleanup "kill $copy_pid"
	wait_for 30 curl -sf "http://127.0.0.1:$copy_port/-/ready" -o /dev/null &&
	curl -sf "http://127.0.0.1:$copy_port/api/v1/query?query=count(node_load1)&time=$(date +%s)" >q.json &&
	kill "$copy_pid" && wait "$copy_pid" 2>/dev/null;
	grep -q "\"result\":\[{" q.json
'

test_expect_success 'stopping again is a harmless no-op' '
	benchmon stop --session life 2>err && grep -q "not running" err
'

test_expect_success 'a stopped session starts again; --json gives its state' '
	benchmon start --session life --wait 120 --json >start.json 2>err &&
	grep -q "\"state\":[[:space:]]*\"running\"" start.json &&
	benchmon stop --session life 2>err &&
	[ -z "$(prometheus_pids)" ]
'

test_expect_success 'a taken port fails the start with the real reason, and leaves no job' '
	python3 -c "
import socket, time, os, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", $PROM_PORT)); s.listen(1)
open(\"squatter.pid\", \"w\").write(str(os.getpid()))
time.sleep(120)" &
	test_cleanup "kill $!" &&
	wait_for 5 test -s squatter.pid &&
	test_expect_code 1 benchmon start --session life --wait 60 2>err &&
	cat err &&
	grep -q "port $PROM_PORT on .* is already in use" err &&
	grep -q "address already in use" err &&
	benchmon status --session life --json >st.json &&
	grep -q "\"state\":[[:space:]]*\"failed\"" st.json &&
	kill "$(cat squatter.pid)" && sleep 0.5 &&
	benchmon start --session life --wait 120 &&
	benchmon stop --session life
'

test_expect_success 'a Prometheus that never gets ready fails at --wait, leaving nothing behind' '
	printf "#!/bin/sh\necho \$\$ >\"$TEST_DIR/never-ready.pid\"\nexec sleep 300\n" >"$TEST_DIR/never-ready" &&
	chmod +x "$TEST_DIR/never-ready" &&
	test_expect_code 1 env BENCHMON_PROMETHEUS="$TEST_DIR/never-ready" benchmon start --session life --wait 4 2>err &&
	cat err &&
	grep -q "not ready when --wait expired after 4s" err &&
	test -s "$TEST_DIR/never-ready.pid" &&
	wait_for 10 "! kill -0 $(cat "$TEST_DIR/never-ready.pid") 2>/dev/null"
'

test_expect_success 'a missing Prometheus binary is named' '
	test_expect_code 1 env BENCHMON_PROMETHEUS=/nonexistent/prometheus benchmon start --session life --wait 60 2>err &&
	grep -q "could not find Prometheus" err
'

test_expect_success 'a Prometheus killed behind our back still leaves its data, and status says where' '
	benchmon start --session life --wait 120 &&
	pkill -9 -f -- "--config.file=$sess/prometheus.yml" &&
	wait_for 20 "benchmon status --session life 2>&1 | grep -q \"its TSDB was saved in $sess/tsdb/\"" &&
	benchmon status --session life --json >st.json &&
	grep -q "\"state\":[[:space:]]*\"stopped\"" st.json &&
	cp "$sess/run.json" run-before &&
	benchmon status --session life >/dev/null &&
	test_cmp run-before "$sess/run.json" &&
	benchmon stop --session life 2>err &&
	grep -q "its TSDB was saved" err &&
	grep -q "\"state\":[[:space:]]*\"stopped\"" "$sess/run.json"
'

test_expect_success 'a job killed with its script leaves no copy: status names where the data stays' '
	benchmon start --session life --wait 120 &&
	local_tsdb=$(sed -n "s/.*\"tsdb\":\"\([^\"]*\)\".*/\1/p" "$sess/prometheus.json") &&
	kill -9 $(sed -n "s/.*\"script_pid\":\([0-9]*\).*\"prometheus_pid\":\([0-9]*\).*/\1 \2/p" "$sess/prometheus.json") &&
	wait_for 20 "benchmon status --session life 2>&1 | grep -q \"no copy of its TSDB was made\"" &&
	test_expect_code 1 benchmon status --session life >st.txt 2>&1 &&
	grep -q "the data stays on .* in $local_tsdb" st.txt &&
	benchmon status --session life --json | grep -q "\"state\":[[:space:]]*\"failed\"" &&
	test_expect_code 1 benchmon stop --session life 2>err &&
	grep -q "no copy of its TSDB was made" err &&
	benchmon stop --session life 2>err && grep -q "not running" err &&
	rm -rf "$local_tsdb" &&
	benchmon start --session life --wait 120 &&
	benchmon delete --session life --force &&
	wait_for 20 "[ -z \"\$(prometheus_pids)\" ]"
'
