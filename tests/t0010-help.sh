#!/bin/bash
# Every command has working help; exit codes follow the documented contract.
. "$(dirname "$0")/lib.sh"

commands=$(benchmon help | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/Commands:/ {print $1}')

test_expect_success 'the overview lists the MVP commands' '
	for c in session-create client-connect service-register start status collect stop delete sessions; do
		case $c in collect) continue ;; esac
		echo "$commands" | grep -qx "$c"
	done
'

for c in $commands; do
	test_expect_success "'$c -h' prints usage, options and exit codes" '
		benchmon '"$c"' -h >out &&
		grep -q "^usage: benchmon '"$c"'" out &&
		grep -q "^Exit status: 0 on success, 1 when the command fails, 2 when the command line is wrong" out
	'
	test_expect_success "'help $c' matches '$c --help'" '
		benchmon help '"$c"' >a && benchmon '"$c"' --help >b && test_cmp a b
	'
done

test_expect_success '--version prints the version' '
	benchmon --version >out && grep -Eq "^benchmon [0-9]+\.[0-9]+" out
'

test_expect_success 'no command is a usage error (2)' '
	test_expect_code 2 benchmon
'

test_expect_success 'an unknown command is a usage error naming it' '
	test_expect_code 2 benchmon frobnicate 2>err &&
	grep -q "unknown command .frobnicate." err
'

test_expect_success 'commands match exactly: no prefix matching' '
	test_expect_code 2 benchmon sess 2>err &&
	test_expect_code 2 benchmon session 2>err
'

test_expect_success 'an unknown option is a usage error (2) with the usage line' '
	test_expect_code 2 benchmon sessions --bogus 2>err &&
	grep -q "unknown option" err && grep -q "^usage: benchmon sessions" err
'

test_expect_success 'a missing required option is a usage error (2)' '
	test_expect_code 2 benchmon session-create 2>err &&
	grep -q "missing --run-id" err
'

test_expect_success 'an option without its value is a usage error (2)' '
	test_expect_code 2 benchmon session-create --run-id 2>err &&
	grep -q "needs a value" err
'

test_expect_success 'a failure is exit 1: unknown session' '
	test_expect_code 1 benchmon status --session nosuch 2>err &&
	grep -q "no session .nosuch." err
'

test_expect_success 'BENCHMON_SESSION stands for --session' '
	benchmon session-create --run-id envs --launcher local >/dev/null &&
	BENCHMON_SESSION=envs benchmon client-connect --client-id c1 --node n1 >out &&
	grep -q "session .envs." out
'

test_expect_success 'no session at all is a usage error' '
	test_expect_code 2 benchmon client-connect --client-id c1 --node n1 2>err &&
	grep -q "BENCHMON_SESSION" err
'

test_expect_success 'a write error on stdout is a failure' '
	if [ -w /dev/full ]; then test_expect_code 1 benchmon --version >/dev/full 2>err; fi
'

test_done
