#!/bin/bash
# make install puts the binary and templates where the installed binary finds them.
. "$(dirname "$0")/lib.sh"

test_expect_success 'make install honours PREFIX and DESTDIR' '
	make -C "$SRC_DIR" --no-print-directory install PREFIX=/opt/bm DESTDIR="$TEST_DIR/root" >/dev/null &&
	test -x "$TEST_DIR/root/opt/bm/bin/benchmon" &&
	test_path_is_file "$TEST_DIR/root/opt/bm/share/benchmon/templates/prometheus.yml.in" &&
	test_path_is_file "$TEST_DIR/root/opt/bm/share/benchmon/templates/prometheus-job.sh.in" &&
	test_path_is_file "$TEST_DIR/root/opt/bm/share/benchmon/templates/profiles/default.json" &&
	test_path_is_file "$TEST_DIR/root/opt/bm/share/benchmon/templates/profiles/vllm.json"
'

test_expect_success 'the installed binary renders from the installed templates' '
	unset BENCHMON_DATADIR &&
	"$TEST_DIR/root/opt/bm/bin/benchmon" --version &&
	BENCHMON_DATADIR="$TEST_DIR/root/opt/bm/share/benchmon" "$TEST_DIR/root/opt/bm/bin/benchmon" \
		session-create --run-id inst --launcher local >/dev/null &&
	BENCHMON_DATADIR="$TEST_DIR/root/opt/bm/share/benchmon" "$TEST_DIR/root/opt/bm/bin/benchmon" \
		start --session inst --dry-run >/dev/null &&
	test_path_is_file "$BENCHMON_HOME/sessions/inst/prometheus.yml"
'

test_expect_success 'without templates the error names where it looked' '
	test_expect_code 1 env BENCHMON_DATADIR="$TEST_DIR/nowhere" benchmon start --session inst --dry-run 2>err &&
	grep -q "nowhere/templates/prometheus.yml.in" err
'

test_done
