# Helpers for the tests of benchmon serve; source after lib.sh.
#
#   start_serve SESSION PORT [ARGS...]   run 'benchmon serve' in the background (killed at exit),
#                                        wait until it listens; records API (its URL), TOKEN and
#                                        SERVE_PID in serve.env, which 'serve_env' loads (test
#                                        bodies run in subshells)
#   api METHOD PATH [CURL ARGS...]       call it with the token: the body goes to ./resp,
#                                        the status is printed
#   api_json METHOD PATH JSON            the same with a JSON body

command -v curl >/dev/null || test_skip_all "curl is not available"
command -v python3 >/dev/null || test_skip_all "python3 is not available"

start_serve() {
	local session=$1 port=$2
	shift 2
	rm -f "$BENCHMON_HOME/sessions/$session/api.json"
	benchmon serve --session "$session" --listen "127.0.0.1:$port" "$@" >"$TEST_DIR/serve-$port.out" 2>"$TEST_DIR/serve-$port.err" &
	SERVE_PID=$!
	test_cleanup "kill $SERVE_PID; sleep 0.2; kill -9 $SERVE_PID"
	wait_for 20 "[ -f '$BENCHMON_HOME/sessions/$session/api.json' ]" || { cat "$TEST_DIR/serve-$port.err"; return 1; }
	API="http://127.0.0.1:$port"
	TOKEN=$(cat "${SERVE_TOKEN_FILE:-$BENCHMON_HOME/sessions/$session/api.token}")
	printf 'API=%s\nTOKEN=%s\nSERVE_PID=%s\n' "$API" "$TOKEN" "$SERVE_PID" >"$TEST_DIR/serve.env"
}

serve_env() {
	. "$TEST_DIR/serve.env"
}

api() {
	local method=$1 path=$2
	shift 2
	serve_env
	printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" |
		curl -sS -K - -o resp -w '%{http_code}\n' -X "$method" "$@" "$API$path"
}

api_json() {
	api "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"
}

# json_get FILE EXPR: a value of the JSON in FILE, by a Python expression on j; a tuple,
# or a list when EXPR starts with '*', prints its items joined by spaces
json_get() {
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
e = sys.argv[2]
v = eval(e.lstrip("*"))
print(*v) if e.startswith("*") or isinstance(v, tuple) else print(v)' "$1" "$2"
}
