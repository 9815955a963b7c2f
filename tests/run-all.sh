#!/bin/sh
# Run the unit test binaries given as arguments, then every tests/t*.sh, and
# print one closing line "N passed, N failed". Exits non-zero on any failure.
# TESTS="t0100 t0200" limits the shell tests to those prefixes.
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
log_dir=tests/out
mkdir -p "$log_dir"

tally() { # output file, exit status
	p=$(sed -n 's/^#* *\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$1" | tail -1)
	f=$(sed -n 's/^#* *\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$1" | tail -1)
	if [ -z "$p" ]; then
		# no tally line: the script died; count it as one failure
		p=0 f=1
	elif [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

for t in "$@"; do
	name=$(basename "$t")
	"./$t" >"$log_dir/$name.out" 2>&1
	status=$?
	# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log_dir/$name.out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log_dir/$name.out" | tail -1)
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	printf '%-40s %s passed, %s failed\n' "$name" "$p" "$f"
	[ "$f" -eq 0 ] || sed 's/^/    /' "$log_dir/$name.out" | tail -30
	passed=$((passed + p))
	failed=$((failed + f))
done

# the fuzz corpora, replayed through plain builds of the fuzz targets
if [ -n "${FUZZ_TARGETS:-}" ]; then
	# shellcheck disable=SC2086 # a list of names
	sh tests/fuzz/smoke.sh $FUZZ_TARGETS >"$log_dir/fuzz-smoke.out" 2>&1
	status=$?
	tally "$log_dir/fuzz-smoke.out" "$status"
	printf '%-40s %s\n' "fuzz-smoke" "$(tail -1 "$log_dir/fuzz-smoke.out")"
fi

for t in ${TEST_SCRIPTS:-tests/t[0-9]*.sh}; do
	name=$(basename "$t" .sh)
	if [ -n "${TESTS:-}" ]; then
		case " $TESTS " in *" ${name%%-*} "*) ;; *) continue ;; esac
	fi
	start=$(date +%s)
	bash "$t" >"$log_dir/$name.out" 2>&1
	status=$?
	tally "$log_dir/$name.out" "$status"
	printf '%-40s %s (%ss)\n' "$name" "$(tail -1 "$log_dir/$name.out" | sed 's/^# //')" "$(($(date +%s) - start))"
	grep -A40 '^not ok' "$log_dir/$name.out" | head -60 | sed 's/^/    /'
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
