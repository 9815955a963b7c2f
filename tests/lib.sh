# Test library for benchmon's shell tests, in the spirit of git's test-lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'what it checks' '
#       benchmon session-create --run-id s1 &&
#       test_path_is_dir "$BENCHMON_HOME/sessions/s1"
#   '
#   test_done
#
# Each script gets a scratch directory ($TEST_DIR, also $HOME), a private
# BENCHMON_HOME, no inherited BENCHMON_* variables, and ./benchmon on PATH.
# Commands registered with test_cleanup run on exit, however the script
# ends, so no daemon outlives a test. Output is TAP-like; the last line is
# "# N passed, N failed" and the exit status is non-zero on any failure.

set -u
TEST_NAME=$(basename "$0" .sh)
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_ROOT=${TEST_ROOT:-$SRC_DIR/tests/out}
TEST_DIR=$TEST_ROOT/$TEST_NAME
rm -rf "$TEST_DIR"
mkdir -p "$TEST_DIR"
TEST_DIR=$(cd "$TEST_DIR" && pwd)

for var in $(env | sed -n 's/^\(BENCHMON_[A-Z_]*\)=.*/\1/p'); do
	unset "$var"
done
export HOME="$TEST_DIR"
export BENCHMON_HOME="$TEST_DIR/home"
export BENCHMON_DATADIR="$SRC_DIR"
export PATH="$SRC_DIR:$SRC_DIR/tests/fixtures:$PATH"
# VALGRIND=1: every benchmon the tests run goes through valgrind, and a
# definitely-lost block or a memory error fails that command (exit 99)
if [ "${VALGRIND:-}" = 1 ]; then
	mkdir -p "$TEST_DIR/valgrind-bin"
	cat >"$TEST_DIR/valgrind-bin/benchmon" <<-EOF
	#!/bin/sh
	GLIBC_TUNABLES=glibc.malloc.hugetlb=0 exec valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --child-silent-after-fork=yes \\
		--suppressions="$SRC_DIR/tests/valgrind.supp" --log-file="$TEST_DIR/valgrind.%p.log" "$SRC_DIR/benchmon" "\$@"
	EOF
	chmod +x "$TEST_DIR/valgrind-bin/benchmon"
	export PATH="$TEST_DIR/valgrind-bin:$PATH"
fi
export NO_COLOR=1
# under SANITIZE=1: leaks inside libslurm itself are not benchmon's
export LSAN_OPTIONS="suppressions=$SRC_DIR/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
unset SLURM_CONF SLURM_JOB_ID

test_count=0
test_passed=0
test_failed=0
# kept in a file: test bodies run in subshells, where a variable would be lost
test_cleanup_file="$TEST_DIR/.cleanup"
: >"$test_cleanup_file"

# test_cleanup CMD: run CMD (a string, eval'd) when the script exits, latest first.
test_cleanup() {
	printf '%s\n' "$1" >>"$test_cleanup_file"
}

run_cleanups() {
	[ -f "$test_cleanup_file" ] || return 0
	tac "$test_cleanup_file" >"$test_cleanup_file.run"
	: >"$test_cleanup_file"
	while IFS= read -r c; do
		eval "$c" >/dev/null 2>&1 || :
	done <"$test_cleanup_file.run"
}
trap 'run_cleanups' EXIT
trap 'run_cleanups; exit 130' INT TERM

say() { printf '%s\n' "$*"; }

# test_expect_success DESCRIPTION BODY
test_expect_success() {
	test_count=$((test_count + 1))
	if (cd "$TEST_DIR" && eval "set -e; $2") >"$TEST_DIR/test-$test_count.log" 2>&1; then
		test_passed=$((test_passed + 1))
		say "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		say "not ok $test_count - $1"
		sed 's/^/#   /' "$TEST_DIR/test-$test_count.log" | tail -40
	fi
}

# test_done: print the tally and exit with the verdict.
test_done() {
	say "# $test_passed passed, $test_failed failed"
	run_cleanups
	[ "$test_failed" -eq 0 ]
	exit $?
}

# test_skip_all REASON: nothing here can run on this machine.
test_skip_all() {
	say "# skipped: $1"
	say "# 0 passed, 0 failed"
	exit 0
}

test_cmp() {
	diff -u "$1" "$2"
}

test_path_is_file() { [ -f "$1" ] || { say "missing file $1"; return 1; }; }
test_path_is_dir() { [ -d "$1" ] || { say "missing directory $1"; return 1; }; }
test_path_is_missing() { [ ! -e "$1" ] || { say "unexpected path $1"; return 1; }; }

# test_expect_code CODE CMD...: CMD must exit with CODE.
test_expect_code() {
	local want=$1 got=0
	shift
	"$@" || got=$?
	[ "$got" -eq "$want" ] || { say "expected exit $want, got $got: $*"; return 1; }
}

# snapshot DIR: a listing with file contents' checksums, to show nothing changed.
snapshot() {
	if [ -d "$1" ]; then
		(cd "$1" && find . -print0 | sort -z | xargs -0 stat -c '%n %s %a' && find . -type f -print0 | sort -z | xargs -0 -r sha1sum)
	else
		echo "absent"
	fi
}

# free_port BASE: the first free TCP port at or above BASE on loopback.
free_port() {
	local p=$1
	while ss -Htln "sport = :$p" 2>/dev/null | grep -q .; do
		p=$((p + 1))
	done
	echo "$p"
}

# wait_for SECONDS CMD...: retry CMD (eval'd, so shell functions work) every
# 0.2 s until it succeeds or time runs out.
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until eval "$*"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# start_node_exporter PORT: a real node_exporter on loopback, stopped at exit.
start_node_exporter() {
	prometheus-node-exporter --web.listen-address="127.0.0.1:$1" >"$TEST_DIR/node-exporter-$1.log" 2>&1 &
	local pid=$!
	test_cleanup "kill $pid"
	wait_for 10 curl -sf "http://127.0.0.1:$1/metrics" -o /dev/null
}

# prom_curl SESSION_DIR CURL_ARGS...: curl with the session's Prometheus password, passed
# as a curl config on stdin so that it shows in no process listing.
prom_curl() {
	local dir=$1
	shift
	printf 'user = "benchmon:%s"\n' "$(cat "$dir/prometheus.password")" | curl -K - "$@"
}
