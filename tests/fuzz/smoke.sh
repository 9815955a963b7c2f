#!/bin/sh
# Replay each fuzz target's corpus through its plain-C build, as CI does
# without clang: tests/fuzz/replay-<name> runs every file of
# tests/fuzz/corpus/<name>/. Arguments name the targets (default: every
# tests/fuzz/fuzz-*.c). Prints one line per target and a closing
# "N passed, N failed"; exits non-zero on any failure.
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
log_dir=tests/out
mkdir -p "$log_dir"

if [ $# -eq 0 ]; then
	for f in tests/fuzz/fuzz-*.c; do
		f=${f#tests/fuzz/fuzz-}
		set -- "$@" "${f%.c}"
	done
fi

for name in "$@"; do
	replay=tests/fuzz/replay-$name
	corpus=tests/fuzz/corpus/$name
	log=$log_dir/fuzz-$name.out
	if [ ! -x "$replay" ]; then
		echo "fuzz-$name: no '$replay' (run 'make fuzz-smoke')" >"$log"
		status=1
	elif [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "fuzz-$name: empty or missing corpus '$corpus'" >"$log"
		status=1
	else
		# find -exec + exits non-zero when any replay batch does
		find "$corpus" -type f -exec "./$replay" {} + >"$log" 2>&1
		status=$?
	fi
	n=$(find "$corpus" -type f 2>/dev/null | wc -l)
	if [ "$status" -eq 0 ]; then
		printf '%-40s ok (%s inputs)\n' "fuzz-$name" "$n"
		passed=$((passed + 1))
	else
		printf '%-40s FAILED (exit %s)\n' "fuzz-$name" "$status"
		tail -30 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
