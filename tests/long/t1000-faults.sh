#!/bin/bash
# Faults: each must give a clear message, exit 1, and leave a state from which
# a retry works. Prometheus killed, a taken port, slurmctld gone, a job that
# can never start, a full --out, a read-only state directory, corrupted state.
#
# Needs root (tmpfs mounts, the Slurm cluster). Every mount is undone and every
# daemon stopped at exit. Times of the Slurm faults go to $TEST_DIR/timings.
. "$(dirname "$0")/../lib.sh"

for bin in prometheus prometheus-node-exporter python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
[ "$(id -u)" = 0 ] || test_skip_all "tmpfs mounts need root"

. "$SRC_DIR/tests/slurm.sh"

NE_PORT=$(free_port 19850)
LOC_PORT=$(free_port $((NE_PORT + 5)))
SL_PORT=$(free_port $((LOC_PORT + 5)))
K_PORT=$(free_port $((SL_PORT + 5)))
loc="$BENCHMON_HOME/sessions/loc"
sl="$BENCHMON_HOME/sessions/sl"
: >"$TEST_DIR/timings"

# prom_pids DIR: pids of the Prometheus serving the session in DIR
prom_pids() {
	pgrep -f -- "--config.file=$1/prometheus.yml" || :
}
for s in loc sl kr; do
	test_cleanup "BENCHMON_SESSION=$s benchmon delete --force; pkill -9 -f -- '--config.file=$BENCHMON_HOME/sessions/$s/prometheus.yml'"
done

# run_state DIR: the state recorded in DIR/run.json, read without benchmon
run_state() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"])' "$1/run.json"
}
run_job() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["job_id"])' "$1/run.json"
}

# timed NAME CMD...: run CMD, record its exit code in $TEST_DIR/rc and its
# duration (seconds) in $TEST_DIR/secs and the timings file
timed() {
	local name=$1 t0 t1 rc=0
	shift
	t0=$(date +%s.%N)
	"$@" || rc=$?
	t1=$(date +%s.%N)
	echo "$rc" >"$TEST_DIR/rc"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$TEST_DIR/secs"
	echo "$name: exit $rc in $(cat "$TEST_DIR/secs")s" >>"$TEST_DIR/timings"
}
under() { # SECS LIMIT
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# no_tmp_files DIR: no temporary file left behind in DIR
no_tmp_files() {
	[ -z "$(find "$1" -name "*.tmp.*" 2>/dev/null)" ] || { find "$1" -name "*.tmp.*"; return 1; }
}

# manifest_matches DIR: every file MANIFEST.json lists has the size and sha256 it claims
manifest_matches() {
	python3 - "$1" <<-'PY'
	import hashlib, json, os, sys
	d = sys.argv[1]
	m = json.load(open(os.path.join(d, "MANIFEST.json")))
	files = m["files"]
	items = files.items() if isinstance(files, dict) else [(f.get("name") or f.get("path"), f) for f in files]
	assert items, m
	for name, f in items:
	    data = open(os.path.join(d, os.path.basename(name)), "rb").read()
	    assert len(data) == f["size"], (name, len(data), f)
	    assert hashlib.sha256(data).hexdigest() == f["sha256"], name
	PY
}

# --- 1. Prometheus killed -------------------------------------------------

test_expect_success 'setup: node_exporter and a local session, running' '
	start_node_exporter "$NE_PORT" &&
	benchmon session-create --run-id loc --launcher local --listen 127.0.0.1 --port "$LOC_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session loc --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT" &&
	benchmon start --session loc --wait 60 &&
	wait_for 30 "benchmon status --session loc --json | grep -q \"\\\"health\\\":[[:space:]]*\\\"up\\\"\"" &&
	sleep 3 &&
	benchmon collect --session loc --last 1m --out ok1 >/dev/null &&
	test_path_is_file ok1/MANIFEST.json
'

test_expect_success 'Prometheus killed while collect waits on it: exit 1 naming it, no MANIFEST' '
	pid=$(prom_pids "$loc") && [ -n "$pid" ] && kill -STOP $pid || exit 1
	# stopped, Prometheus accepts the connection and never answers: the
	# kill below lands while collect waits on its request
	(timed collect-inflight benchmon collect --session loc --last 1m --out inflight >out 2>err) &
	bg=$!
	sleep 1.5 &&
	kill -9 $pid &&
	wait $bg &&
	cat err && cat "$TEST_DIR/timings" &&
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -q "Prometheus at http://127.0.0.1:$LOC_PORT is not answering" err &&
	grep -q "benchmon status --session loc" err &&
	test_path_is_missing inflight/MANIFEST.json &&
	no_tmp_files inflight
'

test_expect_success 'status reports the death and where its job saved the TSDB; start again, then collect works' '
	wait_for 20 "benchmon status --session loc >st 2>&1; grep -q \"its TSDB was saved in\" st" &&
	cat st && grep -q "state .*stopped" st &&
	benchmon start --session loc --wait 60 &&
	wait_for 30 "benchmon collect --session loc --last 30s --out inflight >/dev/null 2>&1" &&
	test_path_is_file inflight/MANIFEST.json && manifest_matches inflight
'

test_expect_success 'Prometheus killed just before collect: the TSDB its job saved is collected' '
	kill -9 $(prom_pids "$loc") &&
	wait_for 10 "[ -z \"\$(prom_pids \"$loc\")\" ]" &&
	wait_for 20 "benchmon status --session loc 2>&1 | grep -q \"its TSDB was saved in\"" &&
	benchmon collect --session loc --last 1m --out before 2>err &&
	cat err &&
	grep -q "\"source\":[[:space:]]*\"tsdb_copy\"" before/MANIFEST.json &&
	manifest_matches before &&
	benchmon start --session loc --wait 60 2>err || { cat err; false; }
'

# --- 2. The port already taken --------------------------------------------

test_expect_success 'a taken port fails start with exit 1 naming the port; freed, start works' '
	benchmon stop --session loc &&
	python3 -c "
import socket, time, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", $LOC_PORT)); s.listen(1)
open(\"squatter.pid\", \"w\").write(str(os.getpid()))
time.sleep(120)" &
	test_cleanup "kill $!" &&
	wait_for 5 test -s squatter.pid &&
	test_expect_code 1 benchmon start --session loc --wait 30 2>err &&
	cat err &&
	grep -q "port $LOC_PORT" err && grep -qi "already in use" err &&
	[ -z "$(prom_pids "$loc")" ] &&
	kill "$(cat squatter.pid)" && wait_for 5 "! ss -Htln \"sport = :$LOC_PORT\" | grep -q ." &&
	benchmon start --session loc --wait 60
'

# --- 6. --out on a full filesystem ----------------------------------------

full="$TEST_DIR/full"
test_expect_success 'collect into a tmpfs with too little room: exit 1, No space left, no MANIFEST, no temp files' '
	mkdir -p "$full" &&
	mount -t tmpfs -o size=64k tmpfs "$full" &&
	test_cleanup "umount \"$full\"" &&
	fallocate -l $((56 * 1024)) "$full/filler" &&
	df -k "$full" &&
	wait_for 30 "benchmon collect --session loc --last 1m --out has-data >/dev/null 2>&1" &&
	test_expect_code 1 benchmon collect --session loc --last 1m --step 1s --out "$full/o" 2>err &&
	cat err &&
	grep -q "cannot write .*No space left on device" err &&
	test_path_is_missing "$full/o/MANIFEST.json" &&
	no_tmp_files "$full"
'

test_expect_success 'a re-collect into a full --out never leaves a MANIFEST that does not match' '
	rm -f "$full/filler" && rm -rf "$full/o" &&
	benchmon collect --session loc --last 10s --out "$full/o" >/dev/null &&
	manifest_matches "$full/o" &&
	fallocate -l $(($(df --output=avail -k "$full" | tail -1) * 1024)) "$full/filler" &&
	df -k "$full" &&
	rc=0 && benchmon collect --session loc --last 2m --step 1s --out "$full/o" >/dev/null 2>err || rc=$? &&
	cat err && echo "exit $rc" &&
	if [ $rc = 0 ]; then manifest_matches "$full/o"; else
		[ $rc = 1 ] && grep -q "No space left on device" err && test_path_is_missing "$full/o/MANIFEST.json"; fi &&
	no_tmp_files "$full"
'

test_expect_success 'with room again, the same collect works' '
	rm -f "$full/filler" &&
	benchmon collect --session loc --last 1m --step 1s --out "$full/o" >/dev/null &&
	manifest_matches "$full/o" &&
	no_tmp_files "$full" &&
	umount "$full"
'

# --- 7. The state directory read-only -------------------------------------

ro="$TEST_DIR/ro"
test_expect_success 'read-only state: writers exit 1 naming the path and the reason' '
	mkdir -p "$ro" &&
	mount -t tmpfs -o size=1m tmpfs "$ro" &&
	test_cleanup "umount \"$ro\"" &&
	export BENCHMON_HOME="$ro/home" &&
	benchmon session-create --run-id r1 --launcher local --port "$K_PORT" >/dev/null &&
	benchmon client-connect --session r1 --client-id c1 --node n1 --node-exporter "127.0.0.1:$NE_PORT" &&
	mount -o remount,ro "$ro" &&
	test_expect_code 1 benchmon client-connect --session r1 --client-id c2 --node n1 --node-exporter 127.0.0.1:1 2>err1 &&
	test_expect_code 1 benchmon service-register --session r1 --client-id c1 --name svc \
		--endpoint http://127.0.0.1:9/metrics 2>err2 &&
	test_expect_code 1 benchmon session-create --run-id r2 --launcher local --port "$K_PORT" 2>err3 &&
	test_expect_code 1 benchmon start --session r1 --wait 10 2>err4 &&
	test_expect_code 1 benchmon delete --session r1 2>err5 &&
	for f in err1 err2 err3 err4 err5; do
		cat $f && grep -q "$ro/home/sessions/.*Read-only file system" $f || exit 1
	done &&
	no_tmp_files "$ro"
'

test_expect_success 'read-only state: status and sessions still work' '
	export BENCHMON_HOME="$ro/home" &&
	benchmon status --session r1 >st &&
	grep -q "state .*created" st && grep -q "127.0.0.1:$NE_PORT" st &&
	benchmon sessions >ls && grep -q "^r1 " ls
'

test_expect_success 'read-only state: writable again, the same commands work' '
	export BENCHMON_HOME="$ro/home" &&
	mount -o remount,rw "$ro" &&
	benchmon client-connect --session r1 --client-id c2 --node n1 --node-exporter 127.0.0.1:1 &&
	benchmon session-create --run-id r2 --launcher local --port "$K_PORT" >/dev/null &&
	benchmon delete --session r1 && benchmon delete --session r2 &&
	umount "$ro"
'

# --- 8. Corrupted files ---------------------------------------------------

test_expect_success 'a truncated session.json: every command exits 1 naming the file and a way out' '
	benchmon session-create --run-id ks --launcher local --port "$K_PORT" >/dev/null &&
	truncate -s 20 "$BENCHMON_HOME/sessions/ks/session.json" &&
	for c in "status" "client-connect --client-id c2 --node n1 --node-exporter 127.0.0.1:1" \
		"service-register --client-id c1 --name s --endpoint http://127.0.0.1:9/metrics" \
		"start --wait 5" "stop" "reload" "collect --last 1m --out ks-out" "delete"; do
		echo "== $c" &&
		test_expect_code 1 benchmon $c --session ks 2>err &&
		cat err &&
		grep -q "$BENCHMON_HOME/sessions/ks/session.json. is not valid JSON" err &&
		grep -q "benchmon delete --session ks --force" err || exit 1
	done
'

test_expect_success 'sessions lists the others and names the corrupt session.json on stderr' '
	benchmon sessions >ls 2>err && cat ls err &&
	grep -q "^loc " ls &&
	grep -q "sessions/ks/session.json. is not valid JSON" err
'

# BUG: the way out the message gives does not work: delete --force stops on the
# same parse error, so a corrupt session.json can only be removed with rm -rf.
test_expect_success 'delete --force removes a session whose session.json is corrupt' '
	benchmon delete --session ks --force 2>err || :; cat err &&
	test_path_is_missing "$BENCHMON_HOME/sessions/ks" &&
	benchmon session-create --run-id ks --launcher local --port "$K_PORT" >/dev/null
'
rm -rf "$BENCHMON_HOME/sessions/ks"

test_expect_success 'a truncated run.json of a running session: readers exit 1 naming it' '
	benchmon session-create --run-id kr --launcher local --listen 127.0.0.1 --port "$K_PORT" >/dev/null &&
	benchmon start --session kr --wait 60 &&
	kr="$BENCHMON_HOME/sessions/kr" && cp "$kr/run.json" run.json.good &&
	truncate -s 30 "$kr/run.json" &&
	for c in "status" "start --wait 5" "reload" "collect --last 1m --out kr-out"; do
		echo "== $c" &&
		test_expect_code 1 benchmon $c --session kr 2>err &&
		cat err &&
		grep -q "$kr/run.json. is not valid JSON" err || exit 1
	done &&
	[ -n "$(prom_pids "$kr")" ]
'

# BUG: the message says "run 'benchmon stop --session kr' or remove that file",
# but stop fails on the same parse error: the suggested way out does not exist.
test_expect_success 'the way out run.json names works: stop ends the Prometheus' '
	kr="$BENCHMON_HOME/sessions/kr" &&
	benchmon stop --session kr 2>err || :; cat err &&
	[ -z "$(prom_pids "$kr")" ]
'

# BUG: delete --force only warns "could not cancel the session's job" and
# leaves that Prometheus running, holding the port, with nothing left to stop
# it: a session created again on that port cannot start.
test_expect_success 'delete --force with a corrupt run.json leaves no Prometheus behind' '
	kr="$BENCHMON_HOME/sessions/kr" &&
	if [ -n "$(prom_pids "$kr")" ]; then truncate -s 30 "$kr/run.json"; fi &&
	benchmon delete --session kr --force 2>err || :; cat err &&
	test_path_is_missing "$kr" &&
	wait_for 10 "[ -z \"\$(prom_pids \"$kr\")\" ]"
'
pkill -9 -f -- "--config.file=$BENCHMON_HOME/sessions/kr/prometheus.yml"

test_expect_success 'a truncated targets file: status exits 1 naming it; registering again repairs it' '
	truncate -s 10 "$loc/targets/client+c1.json" &&
	test_expect_code 1 benchmon status --session loc 2>err &&
	cat err &&
	grep -q "$loc/targets/client+c1.json. is not valid JSON" err &&
	grep -q "register its targets again" err &&
	benchmon client-connect --session loc --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT" &&
	benchmon status --session loc >/dev/null &&
	benchmon stop --session loc
'

# --- 3. slurmctld gone ----------------------------------------------------

ctld_pid() { cat "$SLURM_DIR/run/slurmctld.pid"; }
restart_cluster() {
	BENCHMON_SLURM_PORT_BASE=$slurm_port "$SRC_DIR/scripts/slurm-cluster.sh" start "$SLURM_DIR" >/dev/null
}
kill_ctld() {
	local p
	p=$(ctld_pid) && kill "$p" && wait_for 20 "! kill -0 $p 2>/dev/null"
}

test_expect_success 'setup: a Slurm session, running' '
	benchmon session-create --run-id sl --launcher slurm --listen 127.0.0.1 --port "$SL_PORT" \
		--scrape-interval 1s >/dev/null &&
	benchmon client-connect --session sl --client-id c1 --node "$(hostname)" --node-exporter "127.0.0.1:$NE_PORT" &&
	benchmon start --session sl --wait 120 &&
	[ "$(run_state "$sl")" = running ]
'

test_expect_success 'slurmctld gone: status exits 1 about Slurm within 60 s' '
	run_job "$sl" >job.before &&
	kill_ctld &&
	timed status-no-ctld benchmon status --session sl >out 2>err;
	cat out err; cat "$TEST_DIR/timings";
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -qi "slurm" err &&
	under "$(cat "$TEST_DIR/secs")" 60
'

# BUG: with slurmctld down, status prints "prometheus URL (not ready)" though
# Prometheus answers /-/ready: the job query failing should not be reported as
# Prometheus not being ready.
test_expect_success 'slurmctld gone: status does not call a ready Prometheus "not ready"' '
	prom_curl "$BENCHMON_HOME/sessions/sl" -sf "http://127.0.0.1:$SL_PORT/-/ready" &&
	benchmon status --session sl >out 2>err || :; cat out err &&
	! grep -q "^prometheus .*(not ready)" out
'

test_expect_success 'slurmctld gone: stop exits 1 and the session stays running' '
	timed stop-no-ctld benchmon stop --session sl >out 2>err;
	cat out err; cat "$TEST_DIR/timings";
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -qi "slurm" err &&
	under "$(cat "$TEST_DIR/secs")" 90 &&
	[ "$(run_state "$sl")" = running ] &&
	[ -n "$(prom_pids "$sl")" ]
'

# The fresh cluster has forgotten the job, and its job ids start again: job 1
# now is somebody else's, which benchmon must neither claim nor cancel.
# BUG: benchmon knows its job by id alone: status reports the other job as
# its own ("running (job 1 PENDING)"), stop would act on it, and start is
# refused as "already running". Checking the job name (benchmon-<session>)
# would tell them apart.
test_expect_success 'slurmctld back (fresh state, the job unknown): status and stop say the job is gone' '
	restart_cluster &&
	other=$(sbatch --parsable --job-name other --output /dev/null --wrap "sleep 300") &&
	echo $other >other.job &&
	test_cleanup "scancel $other" &&
	echo "old job $(cat job.before), new job $other" &&
	timed status-job-gone benchmon status --session sl >out1 2>err1 &&
	cp "$TEST_DIR/rc" status.rc &&
	timed stop-job-gone benchmon stop --session sl --wait 20 >out2 2>err2 &&
	cat out1 err1 out2 err2 "$TEST_DIR/timings" &&
	squeue --noheader --jobs "$other" --format "%i %j %T" >sq; cat sq;
	[ "$(cat status.rc)" = 1 ] &&
	grep -qi "job $(cat job.before).*\(gone\|no longer\|not known\|unknown\|ended\|invalid\)" out1 err1 &&
	[ "$(run_state "$sl")" != running ] &&
	grep -q "^$other other \(RUNNING\|PENDING\)" sq
'
scancel "$(cat "$TEST_DIR/other.job" 2>/dev/null)" 2>/dev/null

# Not benchmon's doing: the cluster restart killed slurmstepd with TERM, and
# with proctrack/linuxproc the job's Prometheus outlives it, still holding
# the port. A real slurmctld restart keeps its jobs. Kill that orphan here.
test_expect_success 'the job lost with the cluster left its Prometheus running (harness artefact)' '
	prom_pids "$sl" >orphan && cat orphan &&
	benchmon status --session sl >st 2>&1 || :; cat st &&
	if [ -s orphan ]; then kill $(cat orphan); fi &&
	wait_for 20 "[ -z \"\$(prom_pids \"$sl\")\" ]"
'

test_expect_success 'after the lost job, start and delete proceed' '
	wait_for 20 "[ -z \"\$(prom_pids \"$sl\")\" ]" &&
	benchmon start --session sl --wait 120 &&
	[ "$(run_state "$sl")" = running ] &&
	benchmon stop --session sl
'

test_expect_success 'slurmctld gone before start: start exits 1 quickly with the reason' '
	kill_ctld &&
	timed start-no-ctld benchmon start --session sl --wait 60 >out 2>err;
	cat out err; cat "$TEST_DIR/timings";
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -qi "slurm" err &&
	grep -qi "unable to contact\|connect\|connection\|not responding\|refused" err &&
	under "$(cat "$TEST_DIR/secs")" 60 &&
	[ "$(run_state "$sl" 2>/dev/null || echo none)" != running ]
'

test_expect_success 'slurmctld back: start works' '
	restart_cluster &&
	benchmon start --session sl --wait 120 &&
	benchmon stop --session sl
'

# --- 5. A job that can never start ----------------------------------------

test_expect_success 'a time limit beyond the partition MaxTime: exit 1 with the reason, no job left' '
	scontrol create PartitionName=short Nodes=ALL MaxTime=1 State=UP &&
	test_cleanup "scontrol delete PartitionName=short" &&
	timed start-maxtime benchmon start --session sl --partition short --time-limit 01:00:00 --wait 5 >out 2>err;
	cat out err; cat "$TEST_DIR/timings";
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -qi "PartitionTimeLimit\|time limit" err &&
	[ -z "$(squeue --noheader --name benchmon-sl --states PENDING,RUNNING)" ] &&
	[ "$(run_state "$sl")" != running ] &&
	benchmon start --session sl --partition short --time-limit 1 --wait 120 &&
	benchmon stop --session sl
'

test_expect_success 'a DOWN partition: exit 1 at --wait with the reason, job cancelled' '
	scontrol update PartitionName=short State=DOWN &&
	timed start-down benchmon start --session sl --partition short --time-limit 1 --wait 5 >out 2>err;
	cat out err;
	[ "$(cat "$TEST_DIR/rc")" = 1 ] &&
	grep -q "PartitionDown" err &&
	[ -z "$(squeue --noheader --name benchmon-sl --states PENDING,RUNNING)" ] &&
	benchmon delete --session sl
'

test_done
