#!/bin/bash
# The KPI test fixtures: load-target's histogram against wrk, dcgm-exporter's synthetic GPUs.
. "$(dirname "$0")/lib.sh"

for f in load-target dcgm-exporter; do
	[ -x "$SRC_DIR/tests/fixtures/$f" ] ||
		test_skip_all "tests/fixtures/$f is not built (make tests/fixtures/load-target tests/fixtures/dcgm-exporter)"
done
for tool in wrk curl promtool; do
	command -v "$tool" >/dev/null || test_skip_all "$tool is not installed"
done

LT_PORT=$(free_port 19700)
LT2_PORT=$(free_port 19710)
LT3_PORT=$(free_port 19720)
DCGM_PORT=$(free_port 19730)
DCGM_FILE_PORT=$(free_port 19740)
DCGM_MIG_PORT=$(free_port 19750)
SIG_PORT=$(free_port 19760)

# The text format 0.0.4, line by line (grep -Ex).
NAME_RE='[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL_RE='[a-zA-Z_][a-zA-Z0-9_]*="([^"\]|\\.)*"'
VALUE_RE='[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?|NaN|Inf)'
SAMPLE_RE="$NAME_RE(\{($LABEL_RE(,$LABEL_RE)*,?)?\})? $VALUE_RE( -?[0-9]+)?"
HELP_RE="# HELP $NAME_RE .*"
TYPE_RE="# TYPE $NAME_RE (counter|gauge|histogram|summary|untyped)"

# start_fixture LOG CMD...: run a fixture in the background, stopped at exit, and wait for its banner.
start_fixture() {
	local log=$1
	shift
	"$@" 2>"$log" &
	test_cleanup "kill $!"
	wait_for 10 "grep -q 'listening on' '$log'"
}

# prom_valid FILE: not empty, and every line a HELP, TYPE or sample line.
prom_valid() {
	[ -s "$1" ] && ! grep -Evx "$HELP_RE|$TYPE_RE|$SAMPLE_RE" "$1"
}

# promtool_parses FILE: promtool check metrics exits 0 when clean, 3 when it only
# has lint advice (naming, units), and 1 with "error while linting" when the text does not parse.
promtool_parses() {
	local rc=0
	promtool check metrics <"$1" 2>"$1.lint" || rc=$?
	{ [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; } && ! grep -q "error while linting" "$1.lint" ||
		{ echo "promtool check metrics exited $rc:"; cat "$1.lint"; return 1; }
}

# sample FILE SERIES: the value of the one sample written exactly as SERIES.
sample() {
	awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $NF; n++ } END { exit n != 1 }' "$1"
}

# lt_bucket FILE LE: the cumulative count of bucket LE of service "web".
lt_bucket() {
	sample "$1" "http_server_request_duration_seconds_bucket{service=\"web\",le=\"$2\"}"
}

# lt_series FILE NAME: the value of NAME{service="web"}.
lt_series() {
	sample "$1" "$2{service=\"web\"}"
}

# gpu FILE METRIC I: the value of METRIC for GPU I.
gpu() {
	awk -v p="$2{gpu=\"$3\"," 'index($0, p) == 1 { print $NF; n++ } END { exit n != 1 }' "$1"
}

# is EXPR: an awk arithmetic condition holds, e.g. is "$a >= 0.9 * $b".
is() {
	awk "BEGIN { exit !($1) }" || { echo "false: $1"; return 1; }
}

# wrk_pct FILE PCT: wrk's latency percentile PCT (50, 75, 90 or 99) in ms.
wrk_pct() {
	awk -v p="$2%" '$1 == p { v = $2; u = $2; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		print v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1); n++ } END { exit n != 1 }' "$1"
}

# now_s: monotonic enough wall time in seconds, with nanoseconds.
now_s() {
	date +%s.%N
}

test_expect_success 'load-target starts, says where it listens and answers ok' '
	start_fixture lt.log load-target --listen 127.0.0.1:$LT_PORT --latency-ms 5:0.5,20:0.5 --service web &&
	grep -qx "load-target: listening on 127.0.0.1:$LT_PORT" lt.log &&
	curl -sf http://127.0.0.1:$LT_PORT/anything >body &&
	printf "ok\n" >expect && test_cmp expect body &&
	curl -sfi http://127.0.0.1:$LT_PORT/metrics >head &&
	grep -qi "^content-type: text/plain; version=0.0.4" head
'

test_expect_success 'wrk against load-target: a clean run' '
	wrk -t2 -c16 -d3s --latency http://127.0.0.1:$LT_PORT/ >wrk.out &&
	cat wrk.out &&
	! grep -q "Socket errors\|Non-2xx" wrk.out &&
	sleep 0.1 &&
	curl -sf http://127.0.0.1:$LT_PORT/metrics >lt.prom
'

test_expect_success 'load-target exposition parses, by regex and by promtool' '
	prom_valid lt.prom && promtool_parses lt.prom
'

test_expect_success 'requests_total == +Inf bucket == _count, within 1% of wrk (+16 in flight)' '
	total=$(lt_series lt.prom http_requests_total) &&
	inf=$(lt_bucket lt.prom +Inf) &&
	count=$(lt_series lt.prom http_server_request_duration_seconds_count) &&
	wrk_n=$(sed -n "s/^ *\([0-9][0-9]*\) requests in .*/\1/p" wrk.out) &&
	echo "load-target $total (+Inf $inf, _count $count), wrk $wrk_n" &&
	[ "$total" -eq "$inf" ] && [ "$total" -eq "$count" ] && [ "$wrk_n" -gt 1000 ] &&
	is "$total - $wrk_n <= $wrk_n / 100 + 16 && $wrk_n - $total <= $wrk_n / 100 + 16"
'

test_expect_success 'the histogram holds the configured 5 ms / 20 ms split' '
	total=$(lt_series lt.prom http_requests_total) &&
	n5=$(lt_bucket lt.prom 0.005) && n15=$(lt_bucket lt.prom 0.015) && n20=$(lt_bucket lt.prom 0.02) &&
	sum=$(lt_series lt.prom http_server_request_duration_seconds_sum) &&
	echo "le=0.005 $n5, le=0.015 $n15, le=0.02 $n20 of $total, sum $sum" &&
	[ "$(lt_bucket lt.prom 0.0025)" -eq 0 ] &&
	is "$n5 >= 0.47 * $total && $n5 <= 0.53 * $total" &&
	[ "$n15" -eq "$n5" ] && [ "$n20" -eq "$total" ] &&
	is "$sum - (0.005 * $n5 + 0.02 * ($total - $n5)) < 1e-6 && (0.005 * $n5 + 0.02 * ($total - $n5)) - $sum < 1e-6"
'

test_expect_success 'wrk sees the configured delays' '
	p50=$(wrk_pct wrk.out 50) && p99=$(wrk_pct wrk.out 99) &&
	echo "wrk p50 ${p50} ms, p99 ${p99} ms" &&
	is "$p50 >= 4.9 && $p50 <= 21" && is "$p99 >= 19.9 && $p99 < 35"
'

test_expect_success 'load-target serves 128 connections at once, each with its own delay' '
	start_fixture lt2.log load-target --listen 127.0.0.1:$LT2_PORT --latency-ms 50:1 --service web &&
	wrk -t2 -c128 -d2s --latency http://127.0.0.1:$LT2_PORT/ >wrk2.out &&
	cat wrk2.out &&
	n=$(sed -n "s/^ *\([0-9][0-9]*\) requests in .*/\1/p" wrk2.out) &&
	p99=$(wrk_pct wrk2.out 99) &&
	is "$n >= 2000 && $p99 >= 49.9 && $p99 < 100" &&
	curl -sf http://127.0.0.1:$LT2_PORT/metrics >lt2.prom &&
	[ "$(lt_bucket lt2.prom 0.03)" -eq 0 ] &&
	[ "$(lt_bucket lt2.prom 0.05)" -eq "$(lt_series lt2.prom http_requests_total)" ]
'

test_expect_success 'keep-alive, pipelining, HTTP/1.0 close and a bad request' '
	python3 - $LT_PORT <<-\PY
	import socket, sys
	port = int(sys.argv[1])
	def talk(data):
	    s = socket.create_connection(("127.0.0.1", port), timeout=5)
	    s.sendall(data)
	    out = b""
	    while True:
	        b = s.recv(65536)
	        if not b:
	            break
	        out += b
	    s.close()
	    return out
	# two pipelined requests, then one asking to close: three answers in order
	out = talk(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
	           b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	assert out.count(b"HTTP/1.1 200 OK") == 3 and out.endswith(b"\r\n\r\nok\n"), out
	out = talk(b"GET / HTTP/1.0\r\n\r\n")
	assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"ok\n"), out
	out = talk(b"garbage\r\n\r\n")
	assert out.startswith(b"HTTP/1.1 400 "), out
	PY
'

# measured time is the delay plus wake-up latency, which on a busy VM can reach a few ms
test_expect_success '--record measured: CLOCK_MONOTONIC time, always above the delay' '
	start_fixture lt3.log load-target --listen 127.0.0.1:$LT3_PORT --latency-ms 5:1 --service web --record measured &&
	for i in $(seq 1 20); do curl -sf http://127.0.0.1:$LT3_PORT/ >/dev/null; done &&
	curl -sf http://127.0.0.1:$LT3_PORT/metrics >lt3.prom &&
	sum=$(lt_series lt3.prom http_server_request_duration_seconds_sum) &&
	echo "sum of 20: $sum" &&
	[ "$(lt_series lt3.prom http_requests_total)" -eq 20 ] &&
	[ "$(lt_bucket lt3.prom 0.005)" -eq 0 ] && [ "$(lt_bucket lt3.prom 0.03)" -eq 20 ] &&
	is "$sum > 0.1 && $sum < 0.2"
'

test_expect_success 'load-target refuses a bad --latency-ms' '
	for spec in "" "5" "5:" ":1" "5:0" "5:-1" "x:1" "5:1," "5:1,,20:1" "5:0.0001,20:1"; do
		test_expect_code 2 load-target --listen 127.0.0.1:0 --latency-ms "$spec" 2>err ||
			{ echo "accepted: $spec"; exit 1; }
		grep -q "latency\|weight" err || { cat err; exit 1; }
	done
'

test_expect_success 'dcgm-exporter --gpus 2 --queue-depth 3: util 29 and 32, and what follows' '
	start_fixture dcgm.log dcgm-exporter --listen 127.0.0.1:$DCGM_PORT --gpus 2 --queue-depth 3 &&
	grep -qx "dcgm-exporter: listening on 127.0.0.1:$DCGM_PORT" dcgm.log &&
	curl -sf http://127.0.0.1:$DCGM_PORT/metrics >dcgm.prom &&
	prom_valid dcgm.prom && promtool_parses dcgm.prom &&
	grep -q "^DCGM_FI_DEV_GPU_UTIL{gpu=\"1\",UUID=\"GPU-00000000-0000-0000-0000-000000000001\",.*modelName=\"Synthetic GPU\",Hostname=\"$(hostname)\"} 32$" dcgm.prom &&
	[ "$(grep -c "^DCGM_FI_DEV_GPU_UTIL{" dcgm.prom)" -eq 2 ] &&
	for i in 0 1; do
		util=$((29 + 3 * i)) &&
		[ "$(gpu dcgm.prom DCGM_FI_DEV_GPU_UTIL $i)" = "$util" ] &&
		is "$(gpu dcgm.prom DCGM_FI_PROF_GR_ENGINE_ACTIVE $i) == $util / 100" &&
		is "$(gpu dcgm.prom DCGM_FI_DEV_GPU_TEMP $i) == 35 + $util / 2" &&
		is "$(gpu dcgm.prom DCGM_FI_DEV_POWER_USAGE $i) == 3 * $util" &&
		is "$(gpu dcgm.prom DCGM_FI_DEV_FB_USED $i) == 1024 + 100 * $util" &&
		is "$(gpu dcgm.prom DCGM_FI_DEV_FB_FREE $i) == 81920 - 1024 - 100 * $util" || exit 1
	done
'

test_expect_success 'dcgm-exporter --queue-depth-file: 3 then 20 (capped: 95 and 98); energy is power x time' '
	echo 3 >depth &&
	start_fixture dcgm-file.log dcgm-exporter --listen 127.0.0.1:$DCGM_FILE_PORT --queue-depth-file depth &&
	t1=$(now_s) && curl -sf http://127.0.0.1:$DCGM_FILE_PORT/metrics >s1.prom &&
	echo 20 >depth && sleep 1 &&
	t2=$(now_s) && curl -sf http://127.0.0.1:$DCGM_FILE_PORT/metrics >s2.prom &&
	sleep 1 &&
	t3=$(now_s) && curl -sf http://127.0.0.1:$DCGM_FILE_PORT/metrics >s3.prom &&
	prom_valid s2.prom && promtool_parses s2.prom &&
	[ "$(gpu s1.prom DCGM_FI_DEV_GPU_UTIL 0)" = 29 ] && [ "$(gpu s1.prom DCGM_FI_DEV_GPU_UTIL 1)" = 32 ] &&
	[ "$(gpu s2.prom DCGM_FI_DEV_GPU_UTIL 0)" = 95 ] && [ "$(gpu s2.prom DCGM_FI_DEV_GPU_UTIL 1)" = 98 ] &&
	[ "$(gpu s2.prom DCGM_FI_DEV_POWER_USAGE 0)" = 285 ] && [ "$(gpu s2.prom DCGM_FI_DEV_POWER_USAGE 1)" = 294 ] &&
	for i in 0 1; do
		e1=$(gpu s1.prom DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION $i) &&
		e2=$(gpu s2.prom DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION $i) &&
		e3=$(gpu s3.prom DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION $i) &&
		p1=$(gpu s1.prom DCGM_FI_DEV_POWER_USAGE $i) && p2=$(gpu s2.prom DCGM_FI_DEV_POWER_USAGE $i) &&
		echo "gpu $i: $e1 -> $e2 -> $e3 mJ at $p1 W then $p2 W over $t1 $t2 $t3" &&
		is "$e2 - $e1 >= 0.9 * $p1 * ($t2 - $t1) * 1000 && $e2 - $e1 <= 1.1 * $p1 * ($t2 - $t1) * 1000" &&
		is "$e3 - $e2 >= 0.9 * $p2 * ($t3 - $t2) * 1000 && $e3 - $e2 <= 1.1 * $p2 * ($t3 - $t2) * 1000" || exit 1
	done
'

test_expect_success 'dcgm-exporter fails the scrape, not the value, when the depth file is bad' '
	echo "many" >depth &&
	code=$(curl -s -o body -w "%{http_code}" http://127.0.0.1:$DCGM_FILE_PORT/metrics) &&
	[ "$code" = 500 ] && grep -q "invalid queue depth" body &&
	echo 0 >depth &&
	curl -sf http://127.0.0.1:$DCGM_FILE_PORT/metrics >s4.prom &&
	[ "$(gpu s4.prom DCGM_FI_DEV_GPU_UTIL 0)" = 5 ]
'

test_expect_success 'dcgm-exporter --mig: GPU_UTIL is 0, PROF_GR_ENGINE_ACTIVE carries util/100' '
	start_fixture dcgm-mig.log dcgm-exporter --listen 127.0.0.1:$DCGM_MIG_PORT --gpus 2 --queue-depth 3 --mig &&
	curl -sf http://127.0.0.1:$DCGM_MIG_PORT/metrics >mig.prom &&
	prom_valid mig.prom && promtool_parses mig.prom &&
	[ "$(gpu mig.prom DCGM_FI_DEV_GPU_UTIL 0)" = 0 ] && [ "$(gpu mig.prom DCGM_FI_DEV_GPU_UTIL 1)" = 0 ] &&
	is "$(gpu mig.prom DCGM_FI_PROF_GR_ENGINE_ACTIVE 0) == 0.29" &&
	is "$(gpu mig.prom DCGM_FI_PROF_GR_ENGINE_ACTIVE 1) == 0.32" &&
	[ "$(gpu mig.prom DCGM_FI_DEV_POWER_USAGE 1)" = 96 ]
'

test_expect_success 'both fixtures exit 0 on SIGTERM' '
	{ load-target --listen 127.0.0.1:$SIG_PORT 2>sig1.log & } &&
	pid=$! && test_cleanup "kill $pid" &&
	wait_for 10 "grep -q \"listening on\" sig1.log" &&
	kill -TERM $pid && wait $pid &&
	{ dcgm-exporter --listen 127.0.0.1:$SIG_PORT 2>sig2.log & } &&
	pid=$! && test_cleanup "kill $pid" &&
	wait_for 10 "grep -q \"listening on\" sig2.log" &&
	kill -TERM $pid && wait $pid
'

test_done
