#!/bin/bash
# benchmon run inside a batch job that is scancel'ed: the benchmark gets
# Slurm's SIGTERM once, and what ran is collected before KillWait is over.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"

for bin in prometheus load-target python3; do
	command -v "$bin" >/dev/null || test_skip_all "$bin is not available"
done
LT_PORT=$(free_port 19700)
PROM_PORT=$(free_port 19710)
sess="$BENCHMON_HOME/sessions/sc"
test_cleanup 'BENCHMON_SESSION=sc benchmon delete --force; pkill -f -- "--config.file=$sess/prometheus.yml"'
export BENCHMON_SESSION=sc

test_expect_success 'setup: a load target, a running session, a benchmark that counts its SIGTERMs' '
	load-target --listen "127.0.0.1:$LT_PORT" --service web 2>lt.log &
	test_cleanup "kill $!"
	wait_for 10 curl -sf "http://127.0.0.1:$LT_PORT/metrics" -o /dev/null &&
	benchmon session-create --run-id sc --launcher local --listen 127.0.0.1 --port "$PROM_PORT" --scrape-interval 500ms &&
	benchmon client-connect --client-id c1 --node "$(hostname)" &&
	benchmon service-register --client-id c1 --name web --endpoint "http://127.0.0.1:$LT_PORT/metrics" &&
	benchmon start --wait 60 &&
	cat >count-sigterm <<-\PY &&
	#!/usr/bin/env python3
	import os, signal, time
	got = []
	def on_term(sig, frame):
	    got.append(1)
	    open("sigterm-count.tmp", "w").write("%d\n" % len(got))
	    os.rename("sigterm-count.tmp", "sigterm-count")
	signal.signal(signal.SIGTERM, on_term)
	open("child-pid", "w").write("%d\n" % os.getpid())
	while not got:
	    time.sleep(0.05)
	time.sleep(1)
	PY
	chmod +x count-sigterm
'

test_expect_success 'scancel: the benchmark gets SIGTERM once, and its window is collected' '
	sbatch --export=ALL --output="$TEST_DIR/job.out" --chdir="$TEST_DIR" \
		--wrap="exec benchmon run --run-id w1 --out out -- ./count-sigterm" >submit.out &&
	job=$(sed -n "s/^Submitted batch job //p" submit.out) &&
	wait_for 60 test -s child-pid && sleep 3 &&
	scancel "$job" &&
	wait_for 60 "[ -z \"\$(squeue --noheader --jobs $job 2>/dev/null)\" ]" &&
	cat job.out &&
	echo 1 >expect &&
	test_cmp expect sigterm-count &&
	grep -q "interrupted by SIGTERM: collecting the" job.out &&
	grep -q "\"interrupted_by\":[[:space:]]*\"SIGTERM\"" out/window.json &&
	test_path_is_file out/MANIFEST.json
'

test_done
