#!/bin/bash
# Sessions: creation, settings, privacy, listing and deletion.
. "$(dirname "$0")/lib.sh"

test_expect_success 'session-create makes a private session directory' '
	benchmon session-create --run-id bench01 --port 9091 --scrape-interval 1s --retention 6 --launcher local >out &&
	grep -q "session .bench01. created" out &&
	test_path_is_file "$BENCHMON_HOME/sessions/bench01/session.json" &&
	[ "$(stat -c %a "$BENCHMON_HOME/sessions/bench01")" = 700 ] &&
	[ "$(stat -c %a "$BENCHMON_HOME/sessions/bench01/session.json")" = 600 ] &&
	[ "$(stat -c %a "$BENCHMON_HOME/sessions")" = 700 ]
'

test_expect_success 'settings are stored: a bare retention is hours' '
	grep -q "\"retention_ms\":[[:space:]]*21600000" "$BENCHMON_HOME/sessions/bench01/session.json" &&
	grep -q "\"scrape_interval_ms\":[[:space:]]*1000" "$BENCHMON_HOME/sessions/bench01/session.json" &&
	grep -q "\"port\":[[:space:]]*9091" "$BENCHMON_HOME/sessions/bench01/session.json"
'

test_expect_success 'the MVP flags --prom-host, --port and --retention 6h are accepted' '
	benchmon session-create --run-id mvp --prom-host localhost --port 9090 --retention 6h --launcher local
'

test_expect_success 'without a Slurm configuration the launcher defaults to local' '
	SLURM_CONF=/nonexistent benchmon session-create --run-id auto >/dev/null &&
	grep -q "\"launcher\":[[:space:]]*\"local\"" "$BENCHMON_HOME/sessions/auto/session.json"
'

test_expect_success 'creating an existing session fails and changes nothing' '
	snapshot "$BENCHMON_HOME" >before &&
	test_expect_code 1 benchmon session-create --run-id bench01 --port 1 2>err &&
	grep -q "already exists" err &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

bad_values='"" "../x" "a/b" ".hidden" "-x" "a b" "a\"b" "a'"'"'b" "\$(id)" "\`id\`" "a;b" "a
b" "é"'
test_expect_success 'hostile run ids are refused with exit 2 and nothing on disk' '
	snapshot "$BENCHMON_HOME" >before &&
	eval "set -- $bad_values" &&
	for v in "$@" "$(head -c 10000 /dev/zero | tr "\0" a)"; do
		test_expect_code 2 benchmon session-create --run-id "$v" 2>err || return 1
		grep -q "invalid run id" err || grep -q "missing" err || return 1
	done &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success 'bad settings are refused with a message naming the flag' '
	test_expect_code 2 benchmon session-create --run-id x1 --port 0 2>err && grep -q -- "--port" err &&
	test_expect_code 2 benchmon session-create --run-id x1 --port 70000 2>err &&
	test_expect_code 2 benchmon session-create --run-id x1 --scrape-interval 0s 2>err &&
	test_expect_code 2 benchmon session-create --run-id x1 --scrape-interval 10ms 2>err && grep -q "100ms" err &&
	test_expect_code 2 benchmon session-create --run-id x1 --retention abc 2>err && grep -q "invalid duration" err &&
	test_expect_code 2 benchmon session-create --run-id x1 --launcher k8s 2>err && grep -q "slurm or local" err &&
	test_expect_code 2 benchmon session-create --run-id x1 --prom-host "a b" 2>err &&
	test_path_is_missing "$BENCHMON_HOME/sessions/x1"
'

test_expect_success 'sessions lists each session with state and age' '
	benchmon sessions >out &&
	grep -q "^bench01 *local *created" out &&
	benchmon sessions --json >out.json &&
	python3 -c "import json,sys; d=json.load(open(\"out.json\")); assert {s[\"session\"] for s in d} >= {\"bench01\",\"mvp\",\"auto\"}, d"
'

test_expect_success 'session-create --json prints the new session' '
	benchmon session-create --run-id js1 --launcher local --json >out.json &&
	python3 -c "import json; d = json.load(open(\"out.json\")); assert d[\"session\"] == \"js1\" and d[\"state\"] == \"created\", d"
'

test_expect_success 'another user cannot read a session' '
	if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then echo "needs root and a nobody user"; exit 0; fi
	benchmon client-connect --session js1 --client-id c1 --node n1 >/dev/null &&
	! runuser -u nobody -- cat "$BENCHMON_HOME/sessions/js1/session.json" 2>err &&
	! runuser -u nobody -- ls "$BENCHMON_HOME/sessions/js1/targets" 2>>err &&
	! runuser -u nobody -- ls "$BENCHMON_HOME/sessions" 2>>err &&
	grep -q "Permission denied" err &&
	[ -z "$(find "$BENCHMON_HOME" -perm /077 -print)" ]
'

test_expect_success 'delete removes a stopped session' '
	benchmon delete --session mvp >out &&
	test_path_is_missing "$BENCHMON_HOME/sessions/mvp"
'

test_expect_success 'delete of an unknown session fails' '
	test_expect_code 1 benchmon delete --session mvp 2>err && grep -q "no session" err
'

test_expect_success 'delete refuses a running session without --force' '
	printf "{\"state\":\"running\",\"job_id\":\"999999\"}\n" >"$BENCHMON_HOME/sessions/bench01/run.json" &&
	test_expect_code 1 benchmon delete --session bench01 2>err &&
	grep -q -- "--force" err &&
	test_path_is_dir "$BENCHMON_HOME/sessions/bench01" &&
	benchmon delete --session bench01 --force &&
	test_path_is_missing "$BENCHMON_HOME/sessions/bench01"
'

test_expect_success 'a corrupted session file is named, with a way out' '
	benchmon session-create --run-id broken --launcher local >/dev/null &&
	printf "{\"session\": \"bro" >"$BENCHMON_HOME/sessions/broken/session.json" &&
	test_expect_code 1 benchmon status --session broken 2>err &&
	grep -q "sessions/broken/session.json" err && grep -q "delete --session broken --force" err
'

test_done
