#!/bin/bash
# Registration benchmarks for benchmon: what one registration costs, and how
# the target registry copes with many of them.
#
#   1. latency of one session-create / client-connect / service-register
#      process, against /bin/true and 'benchmon --version' (target <= 2 ms)
#   2. 10,000 sequential service-register calls into one session (< 30 s),
#      then 'start --dry-run' and 'promtool check config' on the result
#   3. service-register --from-file with 100,000 rows (< 5 s), peak RSS
#   4. 32 concurrent client-connect processes: none may be lost
#
# Usage: bench/registration.sh  or  BENCH_QUICK=1 bench/registration.sh
# Runs from anywhere; times a copy of the repo's ./benchmon (build it with make).
#
# BENCH_QUICK=1 scales the counts (and the time targets with them) down
# about 10x for a smoke run. Timing targets inform and never fail the script;
# correctness checks (promtool, file counts, lost clients) do.
# BENCH_NO_HYPERFINE=1 forces the plain bash timing loop used when hyperfine
# is not installed.

set -eu
export LC_ALL=C    # '.' as the decimal point, in EPOCHREALTIME and awk

repo=$(cd "$(dirname "$0")/.." && pwd)
benchmon=$repo/benchmon
[ -x "$benchmon" ] || { echo "registration.sh: '$benchmon' not found; run make first" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench.XXXXXX")
cleanup() {
	# Only our own children, if we were interrupted during section 4.
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a private copy of the binary: a 'make' elsewhere in the tree would
# otherwise replace it halfway through the run.
cp "$benchmon" "$scratch/benchmon"
built="$(date -r "$benchmon" '+%F %T')"
benchmon=$scratch/benchmon

# A private state directory; templates come from the repo.
export HOME=$scratch
export BENCHMON_HOME=$scratch/home
export BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF
sessions=$BENCHMON_HOME/sessions

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	mode=quick runs=20 nseq=1000 nfile=10000 nconc=32
else
	mode=full runs=200 nseq=10000 nfile=100000 nconc=32
fi
# Time targets scale with the counts.
latency_target_ms=2
seq_target_s=$(awk -v n="$nseq" 'BEGIN { print 30 * n / 10000 }')
file_target_s=$(awk -v n="$nfile" 'BEGIN { print 5 * n / 100000 }')

use_hyperfine=0
if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
	use_hyperfine=1
fi

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# Microseconds since the epoch, without forking.
now_us() {
	local t=$EPOCHREALTIME
	echo "${t/./}"
}

# Seconds (3 decimals) between two now_us readings.
seconds_since() {
	awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'
}

# PASS when $1 <= $2 (both numbers), MISS otherwise.
verdict() {
	awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'
}

# measure NAME PREPARE COMMAND: run COMMAND $runs times, PREPARE (or "")
# before each run, and write one duration in seconds per line to
# $scratch/times.NAME. COMMAND and PREPARE are split on blanks, no shell.
measure() {
	local name=$1 prepare=$2 cmd=$3 out=$scratch/times.$1 i t0 t1
	if [ "$use_hyperfine" = 1 ]; then
		local json=$scratch/hyperfine.$name.json
		local args=(-N --style none --warmup 5 --runs "$runs" --export-json "$json")
		[ -z "$prepare" ] || args+=(--prepare "$prepare")
		# Its warnings (outliers, short commands) would break up the report.
		hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$scratch/hyperfine.$name.err" ||
			{ cat "$scratch/hyperfine.$name.err" >&2; fail "hyperfine: '$cmd' failed"; }
		# The "times" array, one number per line in hyperfine's JSON.
		awk '/"times": \[/ { on = 1; next }
		     on && /\]/    { exit }
		     on            { gsub(/[ ,]/, ""); print }' "$json" >"$out"
	else
		# EPOCHREALTIME is read in place: a $(...) would add a fork per reading.
		for ((i = 0; i < runs; i++)); do
			[ -z "$prepare" ] || $prepare
			t0=$EPOCHREALTIME
			$cmd >/dev/null
			t1=$EPOCHREALTIME
			echo "$t0 $t1"
		done | awk '{ printf "%.6f\n", $2 - $1 }' >"$out"
	fi
	[ "$(wc -l <"$out")" -eq "$runs" ] || fail "measuring $name: expected $runs times"
}

# "median p90" in milliseconds of a file of durations in seconds
# (nearest-rank p90).
stats_ms() {
	sort -g "$1" | awk '
		{ t[NR] = $1 * 1000 }
		END {
			med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			k = int(0.9 * NR); if (k < 0.9 * NR) k++
			printf "%.3f %.3f\n", med, t[k]
		}'
}

echo "benchmon registration benchmark ($mode mode)"
printf '  %-10s %s\n' \
	binary "$repo/benchmon ($("$benchmon" --version), built $built)" \
	tree "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)" \
	host "$(uname -sr), $(nproc) cpus" \
	scratch "$scratch ($(stat -f -c %T "$scratch"))" \
	timing "$([ "$use_hyperfine" = 1 ] && echo "hyperfine -N (no shell), 5 warmup runs" || echo "bash loop, EPOCHREALTIME")"

# --- 1. per-process latency ------------------------------------------------

"$benchmon" session-create --run-id lat --launcher local >/dev/null
"$benchmon" client-connect --session lat --client-id c1 --node n1 --node-exporter n1:9100 >/dev/null

measure true "" /bin/true
measure version "" "$benchmon --version"
# A new session every run: the prepare step removes the previous one.
measure session-create "rm -rf $sessions/sc" \
	"$benchmon session-create --run-id sc --launcher local"
# Re-connecting / re-registering the same id replaces one file, the same
# work as a first registration (each writes exactly one file).
measure client-connect "" \
	"$benchmon client-connect --session lat --client-id c2 --node n2 --node-exporter n2:9100 --dcgm-exporter n2:9400"
measure service-register "" \
	"$benchmon service-register --session lat --client-id c1 --name svc --endpoint http://n1:8000/metrics"

read -r true_med true_p90 < <(stats_ms "$scratch/times.true")
read -r ver_med ver_p90 < <(stats_ms "$scratch/times.version")

echo
echo "1. per-process latency ($runs runs each; ratios are of medians; target <= $latency_target_ms ms)"
printf '  %-20s %9s %9s %8s %12s  %s\n' command median p90 "x true" "x --version" verdict
printf '  %-20s %6.2f ms %6.2f ms\n' /bin/true "$true_med" "$true_p90"
printf '  %-20s %6.2f ms %6.2f ms %7.1fx\n' "benchmon --version" "$ver_med" "$ver_p90" \
	"$(awk -v a="$ver_med" -v b="$true_med" 'BEGIN { print a / b }')"
for name in session-create client-connect service-register; do
	read -r med p90 < <(stats_ms "$scratch/times.$name")
	printf '  %-20s %6.2f ms %6.2f ms %7.1fx %11.1fx  %s\n' "$name" "$med" "$p90" \
		"$(awk -v a="$med" -v b="$true_med" 'BEGIN { print a / b }')" \
		"$(awk -v a="$med" -v b="$ver_med" 'BEGIN { print a / b }')" \
		"$(verdict "$med" "$latency_target_ms")"
done

# --- 2. sequential registrations into one session --------------------------

"$benchmon" session-create --run-id seq --launcher local >/dev/null
"$benchmon" client-connect --session seq --client-id c1 --node n1 >/dev/null

t0=$(now_us)
for ((i = 1; i <= nseq; i++)); do
	"$benchmon" service-register --session seq --client-id c1 --name "svc$i" \
		--endpoint "http://n$((i % 64)):$((8000 + i % 1000))/metrics" >/dev/null
done
seq_s=$(seconds_since "$t0")

"$benchmon" start --session seq --dry-run >/dev/null
t0=$(now_us)
promtool check config "$sessions/seq/prometheus.yml" >"$scratch/promtool.seq" 2>&1 ||
	{ cat "$scratch/promtool.seq" >&2; fail "promtool rejects the rendered prometheus.yml of session 'seq'"; }
promtool_s=$(seconds_since "$t0")

nservice=$(find "$sessions/seq/targets" -name 'service+*.json' | wc -l)
nclient=$(find "$sessions/seq/targets" -name 'client+*.json' | wc -l)
nall=$(find "$sessions/seq/targets" -type f | wc -l)

echo
echo "2. $nseq sequential service-register calls, one session, one client"
printf '  %-28s %9s s   target < %s s  %s\n' "wall time" "$seq_s" "$seq_target_s" "$(verdict "$seq_s" "$seq_target_s")"
printf '  %-28s %9s ms\n' "per call (incl. bash fork)" "$(awk -v s="$seq_s" -v n="$nseq" 'BEGIN { printf "%.2f", s * 1000 / n }')"
printf '  %-28s %9s s   ok\n' "promtool check config" "$promtool_s"
printf '  %-28s %9s     (service %s, client %s)\n' "registry files" "$nall" "$nservice" "$nclient"
[ "$nservice" -eq "$nseq" ] || fail "expected $nseq service files, found $nservice"
[ "$nclient" -eq 1 ] || fail "expected 1 client file, found $nclient"
[ "$nall" -eq $((nseq + 1)) ] || fail "expected $((nseq + 1)) registry files, found $nall"

# --- 3. one --from-file registration ---------------------------------------

"$benchmon" session-create --run-id file --launcher local >/dev/null
for c in 1 2 3 4; do
	"$benchmon" client-connect --session file --client-id "c$c" --node "n$c" >/dev/null
done
csv=$scratch/services.csv
awk -v n="$nfile" 'BEGIN {
	print "client_id,name,endpoint"
	for (i = 1; i <= n; i++)
		printf "c%d,svc%d,http://n%d:%d/metrics?id=%d\n", i % 4 + 1, i, i % 64, 8000 + i % 1000, i
}' >"$csv"

t0=$(now_us)
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v -o "$scratch/time.file" \
		"$benchmon" service-register --session file --from-file "$csv" >/dev/null
	rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$scratch/time.file")
	rss="$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
else
	TIMEFORMAT=%R
	time "$benchmon" service-register --session file --from-file "$csv" >/dev/null
	rss="n/a (no /usr/bin/time)"
fi
file_s=$(seconds_since "$t0")

batches=("$sessions"/file/targets/batch+*.json)
[ -f "${batches[0]}" ] || fail "no batch file in session 'file'"
[ "${#batches[@]}" -eq 1 ] || fail "expected one batch file, found ${#batches[@]}"
ngroups=$(grep -o '"targets"' "${batches[0]}" | wc -l)
batch_mib=$(du -m "${batches[0]}" | cut -f1)

"$benchmon" start --session file --dry-run >/dev/null
t0=$(now_us)
promtool check config "$sessions/file/prometheus.yml" >"$scratch/promtool.file" 2>&1 ||
	{ cat "$scratch/promtool.file" >&2; fail "promtool rejects the rendered prometheus.yml of session 'file'"; }
promtool_file_s=$(seconds_since "$t0")

echo
echo "3. service-register --from-file, $nfile rows (header row, 4 clients)"
printf '  %-28s %9s s   target < %s s  %s\n' "wall time" "$file_s" "$file_target_s" "$(verdict "$file_s" "$file_target_s")"
printf '  %-28s %9s\n' "peak RSS" "$rss"
printf '  %-28s %9s     in 1 batch file of %s MiB\n' "target groups" "$ngroups" "$batch_mib"
printf '  %-28s %9s s   ok\n' "promtool check config" "$promtool_file_s"
[ "$ngroups" -eq "$nfile" ] || fail "expected $nfile target groups in the batch file, found $ngroups"

# --- 4. concurrent client-connect ------------------------------------------

"$benchmon" session-create --run-id conc --launcher local >/dev/null
pids=()
t0=$(now_us)
for ((i = 1; i <= nconc; i++)); do
	"$benchmon" client-connect --session conc --client-id "c$i" --node "n$i" \
		--node-exporter "n$i:9100" >/dev/null 2>"$scratch/conc.$i.err" &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
conc_s=$(seconds_since "$t0")
found=$(find "$sessions/conc/targets" -name 'client+*.json' | wc -l)
lost=$((nconc - found))

echo
echo "4. $nconc concurrent client-connect processes"
printf '  %-28s %9s s\n' "wall time (all)" "$conc_s"
printf '  %-28s %9s\n' "failed processes" "$failed" "client files" "$found/$nconc" "lost:" "$lost"
[ "$failed" -eq 0 ] || { cat "$scratch"/conc.*.err >&2; fail "$failed client-connect processes failed"; }
[ "$lost" -eq 0 ] || fail "$lost of $nconc concurrent clients lost"

echo
echo "all correctness checks passed"
