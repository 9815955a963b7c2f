#!/bin/bash
# Nobody else on the cluster can read or delete a session's data: Prometheus's HTTP API
# wants the session's password, its admin API is off, the password shows nowhere, and
# results follow the user's umask while the state stays private.
. "$(dirname "$0")/lib.sh"

for bin in prometheus promtool prometheus-node-exporter curl; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not installed"
done
NE_PORT=$(free_port 19780)
PROM_PORT=$(free_port 19790)
sess="$BENCHMON_HOME/sessions/priv"
url="http://127.0.0.1:$PROM_PORT"
test_cleanup 'BENCHMON_SESSION=priv benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=priv

# code [CURL_ARGS...] URL: the HTTP status of a request without credentials
code() { curl -s -o /dev/null -w "%{http_code}" "$@"; }
# code_auth [CURL_ARGS...] URL: the same with the session's password
code_auth() { prom_curl "$sess" -s -o /dev/null -w "%{http_code}" "$@"; }

test_expect_success 'session-create makes a private random password and prints none of it' '
	start_node_exporter "$NE_PORT" &&
	benchmon session-create --run-id priv --launcher local --listen 127.0.0.1 --port "$PROM_PORT" \
		--scrape-interval 1s >create.out 2>&1 &&
	test_path_is_file "$sess/prometheus.password" &&
	[ "$(stat -c %a "$sess/prometheus.password")" = 600 ] &&
	grep -Eqx "[0-9a-f]{64}" "$sess/prometheus.password" &&
	benchmon session-create --run-id other --launcher local >/dev/null &&
	! cmp -s "$sess/prometheus.password" "$BENCHMON_HOME/sessions/other/prometheus.password" &&
	benchmon delete --session other &&
	benchmon client-connect --client-id c1 --node n1 --node-exporter "127.0.0.1:$NE_PORT" >cc.out 2>&1 &&
	benchmon start --wait 60 >start.out 2>&1 && cat start.out &&
	wait_for 30 "benchmon status --json 2>/dev/null | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" &&
	# --last ends on a whole second: a collect in the same second as the first scrape would end before it
	sleep 2
'

test_expect_success 'promtool accepts the web config; it holds a bcrypt hash, not the password' '
	promtool check web-config "$sess/web.yml" &&
	grep -Eq "^  \"benchmon\": \"\\\$2b\\\$[0-9]{2}\\\$" "$sess/web.yml" &&
	! grep -qF "$(cat "$sess/prometheus.password")" "$sess/web.yml" &&
	[ "$(stat -c %a "$sess/web.yml")" = 600 ] &&
	grep -q -- "--web.config.file=" "$sess/job.sh"
'

test_expect_success 'without the password every endpoint answers 401' '
	for path in /-/ready /api/v1/query?query=up /api/v1/targets /api/v1/status/buildinfo /metrics; do
		[ "$(code "$url$path")" = 401 ] || { echo "$path"; exit 1; }
	done &&
	[ "$(code -X POST "$url/-/reload")" = 401 ] &&
	[ "$(curl -s -o /dev/null -w "%{http_code}" -u benchmon:wrong "$url/api/v1/query?query=up")" = 401 ]
'

test_expect_success 'with the password queries work' '
	[ "$(code_auth "$url/-/ready")" = 200 ] &&
	prom_curl "$sess" -sf "$url/api/v1/query?query=up" >q.json &&
	grep -q "\"session\":\"priv\"" q.json
'

test_expect_success 'the admin API is off, even with the password' '
	! grep -q "admin-api" "$sess/job.sh" &&
	code_auth -X POST "$url/api/v1/admin/tsdb/delete_series?match[]=up" >del.code &&
	code_auth -X POST "$url/api/v1/admin/tsdb/snapshot" >snap.code &&
	cat del.code snap.code && ! grep -q "^2" del.code && ! grep -q "^2" snap.code &&
	prom_curl "$sess" -sf "$url/api/v1/query?query=up" | grep -q "\"session\":\"priv\""
'

test_expect_success 'status, reload, collect and run use the password' '
	benchmon status >status.out 2>&1 && grep -q "(ready)" status.out &&
	benchmon status --json >status.json &&
	benchmon reload >reload.out 2>&1 && grep -q "reloaded" reload.out &&
	benchmon collect --last 5s --out live >collect.out 2>&1 && test_path_is_file live/MANIFEST.json &&
	benchmon run --run-id r1 --out run1 -- sleep 3 >run.out 2>&1 && test_path_is_file run1/MANIFEST.json
'

test_expect_success 'a wrong password file is reported as such' '
	mv "$sess/prometheus.password" pw.saved &&
	echo 0000 >"$sess/prometheus.password" &&
	test_expect_code 1 benchmon status >bad.out 2>&1; cat bad.out &&
	mv pw.saved "$sess/prometheus.password" &&
	grep -q "401" bad.out && grep -q "prometheus.password" bad.out
'

test_expect_success 'results follow the umask; the session state stays private' '
	( umask 022 && benchmon collect --last 5s --out u022 >/dev/null 2>&1 &&
	  benchmon run --run-id r22 --out r022 -- sleep 2 >/dev/null 2>&1 &&
	  benchmon client-connect --client-id c22 --node n22 >/dev/null 2>&1 ) &&
	( umask 077 && benchmon collect --last 5s --out u077 >/dev/null 2>&1 &&
	  benchmon run --run-id r77 --out r077 -- sleep 2 >/dev/null 2>&1 ) &&
	for d in u022 r022; do
		[ "$(stat -c %a $d)" = 755 ] || { stat -c "%a %n" $d; exit 1; }
		for f in $d/*; do [ "$(stat -c %a "$f")" = 644 ] || { stat -c "%a %n" "$f"; exit 1; }; done
	done &&
	for d in u077 r077; do
		[ "$(stat -c %a $d)" = 700 ] || { stat -c "%a %n" $d; exit 1; }
		for f in $d/*; do [ "$(stat -c %a "$f")" = 600 ] || { stat -c "%a %n" "$f"; exit 1; }; done
	done &&
	test_path_is_file r022/window.json && test_path_is_file u022/kpis.csv &&
	find "$BENCHMON_HOME" -perm /077 >open.txt && test_cmp /dev/null open.txt
'

test_expect_success 'after stop, collect serves the saved TSDB behind a password of its own' '
	cat >tmp-prom <<-EOF &&
	#!/bin/bash
	# a temporary Prometheus that, when collect stops it, first asks it without a password
	printf "%s\n" "\$@" >"$TEST_DIR/tmp-prom.args"
	addr=\$(printf "%s\n" "\$@" | sed -n "s/^--web.listen-address=//p")
	prometheus "\$@" &
	pid=\$!
	trap "curl -s -o /dev/null -w %{http_code} http://\$addr/api/v1/query?query=up >\"$TEST_DIR/tmp-prom.code\"; kill \$pid; wait \$pid; exit 0" TERM
	wait \$pid
	EOF
	chmod +x tmp-prom &&
	benchmon stop >stop.out 2>&1 &&
	BENCHMON_PROMETHEUS="$TEST_DIR/tmp-prom" benchmon collect --last 60s --out copy >copy.out 2>&1 && cat copy.out &&
	grep -q "temporary Prometheus" copy.out && test_path_is_file copy/MANIFEST.json &&
	grep -q "^--web.listen-address=127.0.0.1:" tmp-prom.args && grep -q "^--web.config.file=" tmp-prom.args &&
	[ "$(cat tmp-prom.code)" = 401 ]
'

test_expect_success 'the password appears in no artifact, log or output' '
	secret=$(cat "$sess/prometheus.password") && [ ${#secret} = 64 ] &&
	! grep -rlF --exclude=prometheus.password "$secret" "$BENCHMON_HOME" live run1 u022 r022 u077 r077 copy \
		./*.out status.json &&
	ls "$sess"/logs/prometheus-*.out >/dev/null
'

test_expect_success 'a session from an older benchmon (no password) gets one at start' '
	rm "$sess/prometheus.password" &&
	benchmon status >old.out 2>&1 &&
	benchmon start --wait 60 >restart.out 2>&1 &&
	test_path_is_file "$sess/prometheus.password" &&
	[ "$(stat -c %a "$sess/prometheus.password")" = 600 ] &&
	[ "$(code "$url/-/ready")" = 401 ] && [ "$(code_auth "$url/-/ready")" = 200 ] &&
	benchmon status >new.out 2>&1 && grep -q "(ready)" new.out &&
	benchmon stop >/dev/null 2>&1
'

test_expect_success 'the listen address defaults: loopback for local, the node own address under Slurm' '
	benchmon session-create --run-id l1 --launcher local >/dev/null &&
	benchmon session-create --run-id s1 --launcher slurm >/dev/null &&
	grep -q "\"listen\":[[:space:]]*\"127.0.0.1\"" "$BENCHMON_HOME/sessions/l1/session.json" &&
	grep -q "\"listen\":[[:space:]]*\"auto\"" "$BENCHMON_HOME/sessions/s1/session.json" &&
	benchmon start --session s1 --dry-run >/dev/null && grep -qx "listen=.auto." "$BENCHMON_HOME/sessions/s1/job.sh"
'

test_done
