#!/bin/bash
# collect when Prometheus misbehaves: 503 while starting, 400/422 errors, a
# "warnings" field, a body that is not JSON, no answer, a refused connection,
# to PromQL queries and to remote reads. A real Prometheus serves a backfilled
# TSDB; a small proxy in front of it injects each fault.
. "$(dirname "$0")/lib.sh"

for tool in prometheus promtool cc python3; do
	command -v "$tool" >/dev/null || test_skip_all "$tool is not installed"
done
PROM_PORT=$(free_port 19800)
PROXY_PORT=$(free_port 19810)
DEAD_PORT=$(free_port 19820)
end=$(($(date +%s) - 120))
from=$(date -u -d "@$((end - 599))" +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ)
# the generator's series belong to session "bench"
export BENCHMON_SESSION=bench
sess=$BENCHMON_HOME/sessions/bench

# use_prometheus URL: point the session at URL, as a running session would be
use_prometheus() {
	printf '{"state":"running","job_id":"0","url":"%s"}\n' "$1" >"$sess/run.json"
}

# inject MODE: what the proxy does to the next requests (see proxy.py)
inject() {
	printf '%s\n' "$*" >"$TEST_DIR/mode"
}

collect() {
	benchmon collect --from-iso "$from" --to-iso "$to" --run-id r1 "$@"
}

test_expect_success 'setup: 10 minutes of a session backfilled, Prometheus, the proxy' '
	cc -O2 -o gen "$SRC_DIR/bench/gen-openmetrics.c" -lm &&
	./gen in.om expected.csv 2 1 1 900 "$end" >/dev/null &&
	promtool tsdb create-blocks-from openmetrics in.om tsdb >backfill.log 2>&1 &&
	{ prometheus --config.file=/dev/null --storage.tsdb.path=tsdb --storage.tsdb.retention.time=100y \
		--web.listen-address="127.0.0.1:$PROM_PORT" >prometheus.log 2>&1 & } &&
	test_cleanup "kill $!" &&
	cat >proxy.py <<-\PY &&
	# Forwards to Prometheus; the file "mode" says what to do instead:
	#   pass | 503 N (the next N requests) | 503q N (the next N queries)
	#   and, to queries (PromQL or remote reads) only: 422 TEXT / 400 TEXT
	#   (those whose URL or body holds TEXT), warn (add a "warnings" field to
	#   JSON), text (a 500 with a plain-text body), hang, cut (half the body,
	#   then the connection closes)
	import http.server, json, sys, threading, time, urllib.error, urllib.parse, urllib.request
	port, upstream, mode_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	lock = threading.Lock()
	class Proxy(http.server.BaseHTTPRequestHandler):
	    def reply(self, status, body, ctype="application/json"):
	        self.send_response(status)
	        self.send_header("Content-Type", ctype)
	        self.send_header("Content-Length", str(len(body)))
	        self.end_headers()
	        self.wfile.write(body)
	    def do_GET(self):
	        self.forward(None)
	    def do_POST(self):
	        self.forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))
	    def forward(self, data):
	        # a remote read body is snappy literals: a selector in it is plain bytes
	        query = urllib.parse.unquote_plus(self.path) + (data.decode("latin-1") if data else "")
	        is_query = self.path.startswith("/api/v1/query") or self.path.startswith("/api/v1/read")
	        with lock:
	            mode = open(mode_file).read().split(None, 1) or ["pass"]
	            unavailable = mode[0] in ("503", "503q") and int(mode[1]) > 0 and (mode[0] == "503" or is_query)
	            if unavailable:
	                open(mode_file, "w").write("%s %d\n" % (mode[0], int(mode[1]) - 1))
	        if unavailable:
	            return self.reply(503, b"Service Unavailable", "text/plain")
	        if not is_query:
	            mode = ["pass"]
	        if mode[0] in ("400", "422") and mode[1].strip() in query:
	            err = {"status": "error", "errorType": "execution" if mode[0] == "422" else "bad_data",
	                   "error": "injected failure"}
	            return self.reply(int(mode[0]), json.dumps(err).encode())
	        if mode[0] == "text":
	            return self.reply(500, b"upstream exploded", "text/plain")
	        if mode[0] == "hang":
	            time.sleep(30)
	            return
	        keep = ("content-type", "content-encoding", "x-prometheus-remote-read-version", "authorization")
	        req = urllib.request.Request(upstream + self.path, data=data,
	                                     headers={k: v for k, v in self.headers.items() if k.lower() in keep})
	        try:
	            with urllib.request.urlopen(req) as r:
	                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
	        except urllib.error.HTTPError as e:
	            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
	        if mode[0] == "cut":
	            self.send_response(status)
	            self.send_header("Content-Type", ctype)
	            self.send_header("Content-Length", str(len(body)))
	            self.end_headers()
	            self.wfile.write(body[:len(body) // 2])
	            self.wfile.flush()
	            self.close_connection = True
	            return
	        if mode[0] == "warn" and status == 200 and ctype.startswith("application/json"):
	            doc = json.loads(body)
	            doc["warnings"] = ["injected warning"]
	            body = json.dumps(doc).encode()
	        self.reply(status, body, ctype)
	    def log_message(self, *args):
	        pass
	class Server(http.server.ThreadingHTTPServer):
	    # collect opens a connection per query at once: a backlog of 5 (the default) drops
	    # SYNs, and each connection then waits out the retransmission backoff of TCP
	    request_queue_size = 128
	Server(("127.0.0.1", port), Proxy).serve_forever()
	PY
	inject pass &&
	{ python3 proxy.py "$PROXY_PORT" "http://127.0.0.1:$PROM_PORT" "$TEST_DIR/mode" >proxy.log 2>&1 & } &&
	test_cleanup "pkill -f \"proxy.py $PROXY_PORT\"" &&
	wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" &&
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/-/ready" &&
	benchmon session-create --run-id bench --launcher local --scrape-interval 1s >/dev/null &&
	use_prometheus "http://127.0.0.1:$PROXY_PORT"
'

test_expect_success 'through the proxy, collect works' '
	collect --out ok >out 2>err &&
	test -f ok/MANIFEST.json &&
	grep -q "^throughput_qps,session," ok/kpis.csv
'

test_expect_success 'a 503 while Prometheus starts is waited out with backoff' '
	inject 503 3 &&
	collect --out r503 >out 2>err &&
	[ "$(grep -c "Prometheus is starting (503); waiting for it" err)" = 3 ] &&
	test -f r503/MANIFEST.json &&
	cmp ok/kpis.csv r503/kpis.csv
'

test_expect_success 'a 503 to queries is retried with backoff' '
	inject 503q 74 &&
	BENCHMON_COLLECT_READ=0 collect --out r503q >out 2>err &&
	grep -q "Prometheus is starting (503); retrying 64 queries" err &&
	grep -q "Prometheus is starting (503); retrying 10 queries" err &&
	test -f r503q/MANIFEST.json &&
	cmp ok/kpis.csv r503q/kpis.csv
'

# expect_query_error STATUS KPI TEXT ERROR: a STATUS to the queries holding
# TEXT fails collect naming KPI, the query and Prometheus's ERROR
expect_query_error() {
	inject "$1" "$3" &&
	test_expect_code 1 collect --out "r$1" >out 2>err &&
	grep -q "KPI .$2.: Prometheus answered $1 to query .*$3" err &&
	grep -q "$4: injected failure" err &&
	test ! -e "r$1/MANIFEST.json"
}

test_expect_success 'a 422 or a 400 names the KPI, the query and what Prometheus said; no MANIFEST.json' '
	export BENCHMON_COLLECT_READ=0 &&
	expect_query_error 422 latency http_server_request_duration_seconds_bucket execution &&
	expect_query_error 400 load1_avg node_load1 bad_data &&
	unset BENCHMON_COLLECT_READ &&
	expect_query_error 422 alerts ALERTS execution
'

test_expect_success 'remote reads: a 503 is retried, an error names the KPI, the selector and what came back' '
	inject 503q 3 &&
	collect --out rread503 >out 2>err &&
	grep -q "Prometheus is starting (503); retrying 3 queries" err &&
	cmp ok/kpis.csv rread503/kpis.csv &&
	inject 400 http_server_request_duration_seconds_bucket &&
	test_expect_code 1 collect --out rread400 >out 2>err &&
	grep -q "KPI .latency.: Prometheus answered 400 to remote read http_server_request_duration_seconds_bucket{session=\"bench\"}: .*injected failure" err &&
	test ! -e rread400/MANIFEST.json &&
	inject pass
'

test_expect_success 'remote reads and PromQL give the same kpis.csv through the proxy' '
	BENCHMON_COLLECT_READ=0 collect --out okpromql >out 2>err &&
	cmp okpromql/kpis.csv ok/kpis.csv &&
	grep -q "/api/v1/read" ok/MANIFEST.json &&
	! grep -q "/api/v1/read" okpromql/MANIFEST.json
'

test_expect_success 'a body that is not JSON is quoted' '
	inject text &&
	test_expect_code 1 collect --out rtext >out 2>err &&
	grep -q "Prometheus answered 500 to \(query\|remote read\) .*: upstream exploded" err &&
	test ! -e rtext/MANIFEST.json
'

test_expect_success 'a "warnings" field becomes a finding; --strict fails on it' '
	inject warn &&
	collect --out rwarn --json >out.json 2>err &&
	python3 -c "
import json, sys
m = json.load(open(\"rwarn/MANIFEST.json\"))
w = [f for f in m[\"findings\"] if f[\"kind\"] == \"warning\"]
assert w and all(\"injected warning\" in f[\"message\"] for f in w), m[\"findings\"]
" &&
	test_expect_code 1 collect --out rwarn2 --strict >out 2>err &&
	grep -q "finding" err
'

test_expect_success 'no answer within --timeout names a KPI and its query' '
	inject hang &&
	start=$(date +%s) &&
	test_expect_code 1 collect --out rhang --timeout 2s >out 2>err &&
	[ $(($(date +%s) - start)) -lt 20 ] &&
	grep -q "KPI .*: query .* got no answer: .*[Tt]imeout\|timed out" err &&
	test ! -e rhang/MANIFEST.json &&
	inject pass
'

test_expect_success 'a connection closed mid-body is an error naming the URL and libcurl'"'"'s reason' '
	inject cut &&
	test_expect_code 1 collect --out rcut >out 2>err &&
	grep -q "KPI .*: query .* got no answer: http://127.0.0.1:$PROXY_PORT/api/v1/\(query\|read\).*: .*transfer closed\|[Pp]artial" err &&
	test ! -e rcut/MANIFEST.json &&
	inject pass
'

# libcurl failing to start one transfer cannot be produced for real: a
# libcurl.so.4 in front of the real one refuses the Nth curl_multi_add_handle
test_expect_success 'a transfer libcurl cannot start is an error naming its URL, not no_data' '
	real=$(ldconfig -p | sed -n "s/.*libcurl\.so\.4 .* => //p" | head -n 1) &&
	test -n "$real" &&
	mkdir -p shim &&
	cat >shim/curl-fault.c <<-\EOF &&
	/* libcurl.so.4 for a test: the real one, except that the Nth transfer added to a multi handle fails to start */
	#include <dlfcn.h>
	#include <stdarg.h>
	#include <stdlib.h>

	#define CURL_DISABLE_TYPECHECK
	#include <curl/curl.h>

	static void *real(const char *name)
	{
		static void *lib;

		if (!lib)
			lib = dlopen(getenv("REAL_LIBCURL"), RTLD_NOW | RTLD_LOCAL);
		return dlsym(lib, name);
	}

	#define FORWARD(ret, name, params, args) \
		ret name params { return ((ret(*) params)real(#name)) args; }

	FORWARD(CURLcode, curl_global_init, (long flags), (flags))
	FORWARD(void, curl_global_cleanup, (void), ())
	FORWARD(CURL *, curl_easy_init, (void), ())
	FORWARD(CURLcode, curl_easy_perform, (CURL *h), (h))
	FORWARD(void, curl_easy_cleanup, (CURL *h), (h))
	FORWARD(const char *, curl_easy_strerror, (CURLcode c), (c))
	FORWARD(CURLM *, curl_multi_init, (void), ())
	FORWARD(CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h))
	FORWARD(CURLMcode, curl_multi_perform, (CURLM *m, int *r), (m, r))
	FORWARD(CURLMcode, curl_multi_poll, (CURLM *m, struct curl_waitfd *f, unsigned n, int t, int *r), (m, f, n, t, r))
	FORWARD(CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left))
	FORWARD(CURLMcode, curl_multi_cleanup, (CURLM *m), (m))
	FORWARD(const char *, curl_multi_strerror, (CURLMcode c), (c))
	FORWARD(struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s), (l, s))
	FORWARD(void, curl_slist_free_all, (struct curl_slist *l), (l))

	/* every option and info benchmon passes is one pointer-sized argument */
	CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
	{
		va_list ap;
		void *arg;

		va_start(ap, opt);
		arg = va_arg(ap, void *);
		va_end(ap);
		return ((CURLcode(*)(CURL *, CURLoption, ...))real("curl_easy_setopt"))(h, opt, arg);
	}

	CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
	{
		va_list ap;
		void *arg;

		va_start(ap, info);
		arg = va_arg(ap, void *);
		va_end(ap);
		return ((CURLcode(*)(CURL *, CURLINFO, ...))real("curl_easy_getinfo"))(h, info, arg);
	}

	CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
	{
		static int calls;
		const char *fail = getenv("CURL_FAIL_ADD");

		if (fail && ++calls == atoi(fail))
			return CURLM_OUT_OF_MEMORY;
		return ((CURLMcode(*)(CURLM *, CURL *))real("curl_multi_add_handle"))(m, h);
	}
	EOF
	cc -shared -fPIC -o shim/libcurl.so.4 shim/curl-fault.c -ldl &&
	LD_LIBRARY_PATH="$TEST_DIR/shim" REAL_LIBCURL="$real" CURL_FAIL_ADD=3 \
		test_expect_code 1 collect --out rnostart >out 2>err &&
	grep -q "KPI .*: query .* got no answer: http://127.0.0.1:$PROXY_PORT/api/v1/\(query\|read\).*: cannot start the transfer: " err &&
	test ! -e rnostart/MANIFEST.json
'

test_expect_success 'a refused connection names the address, before any query' '
	use_prometheus "http://127.0.0.1:$DEAD_PORT" &&
	test_expect_code 1 collect --out rdead >out 2>err &&
	grep -q "Prometheus at http://127.0.0.1:$DEAD_PORT is not answering" err &&
	grep -qi "refused\|connect" err &&
	test ! -e rdead/MANIFEST.json &&
	use_prometheus "http://127.0.0.1:$PROXY_PORT"
'

test_expect_success 'a --timeout of hours is kept, not cut to two minutes' '
	collect --out rlong --timeout 3h >out 2>err &&
	grep -q "\"query_timeout_seconds\":[[:space:]]*10800," rlong/MANIFEST.json &&
	collect --out rshort >out 2>err &&
	grep -q "\"query_timeout_seconds\":[[:space:]]*120," rshort/MANIFEST.json
'

test_expect_success 'bad --timeout values are refused' '
	for bad in 0 -1s abc 5x 25h 30d; do
		test_expect_code 2 collect --out rbad --timeout "$bad" 2>err || exit 1
		grep -q "timeout" err || exit 1
	done &&
	test ! -e rbad
'

# kpi_field DIR KPI COLUMN: a session-scope column of kpis.csv (3 value, 5 lower, 6 upper, 8 status)
kpi_field() {
	awk -F, -v k="$2" -v c="$3" '$1 == k && $2 == "session" { print $c }' "$1/kpis.csv"
}

test_expect_success 'a window after the data: gauges are no_data, not the last samples carried forward' '
	after_from=$(date -u -d "@$((end + 20))" +%Y-%m-%dT%H:%M:%SZ) &&
	after_to=$(date -u -d "@$((end + 80))" +%Y-%m-%dT%H:%M:%SZ) &&
	benchmon collect --from-iso "$after_from" --to-iso "$after_to" --run-id r1 --out rafter >out 2>err &&
	cat rafter/kpis.csv &&
	for kpi in mem_used_avg_pct load1_avg gpu_util_avg_pct gpu_temp_max_c throughput_qps; do
		[ "$(kpi_field rafter "$kpi" 8)" = no_data ] || { echo "$kpi is not no_data"; return 1; }
	done &&
	python3 - "$end" <<-\PY
	import datetime, json, sys
	m = json.load(open("rafter/MANIFEST.json"))
	assert all(t["health"] == "unknown" and t["up_ratio"] == 0 for t in m["targets"]), m["targets"]
	out = [f for f in m["findings"] if f["kind"] == "outside_data"]
	assert len(out) == 1 and "has no data of session" in out[0]["message"], m["findings"]
	last = datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%H:%M:%S")
	assert last in out[0]["message"], (last, out[0]["message"])
	PY
'

test_expect_success 'a window partly after the data: gauges use only the samples inside it, with a finding' '
	part_from=$(date -u -d "@$((end - 29))" +%Y-%m-%dT%H:%M:%SZ) &&
	part_to=$(date -u -d "@$((end + 60))" +%Y-%m-%dT%H:%M:%SZ) &&
	inside_to=$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ) &&
	benchmon collect --from-iso "$part_from" --to-iso "$part_to" --run-id r1 --out rpart >out 2>err &&
	benchmon collect --from-iso "$part_from" --to-iso "$inside_to" --run-id r1 --out rinside >out 2>err &&
	for kpi in mem_used_avg_pct load1_avg gpu_temp_max_c; do
		echo "$kpi: $(kpi_field rpart "$kpi" 3) vs $(kpi_field rinside "$kpi" 3)" &&
		[ "$(kpi_field rpart "$kpi" 3)" = "$(kpi_field rinside "$kpi" 3)" ] || return 1
	done &&
	grep -q "after the data of session" rpart/MANIFEST.json
'

test_expect_success 'a window starting before the session says so, not missed scrapes' '
	early_from=$(date -u -d "@$((end - 1500))" +%Y-%m-%dT%H:%M:%SZ) &&
	early_to=$(date -u -d "@$((end - 600))" +%Y-%m-%dT%H:%M:%SZ) &&
	benchmon collect --from-iso "$early_from" --to-iso "$early_to" --run-id r1 --out rearly >out 2>err &&
	python3 - <<-\PY
	import json
	m = json.load(open("rearly/MANIFEST.json"))
	kinds = [f["kind"] for f in m["findings"]]
	assert "missing_scrapes" not in kinds and "late_target" not in kinds, m["findings"]
	out = [f for f in m["findings"] if f["kind"] == "outside_data"]
	assert len(out) == 1 and "before session" in out[0]["message"] and "was created" in out[0]["message"], out
	PY
'

test_done
