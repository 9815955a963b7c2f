#!/bin/bash
# benchmon serve against the command line: registrations per second through
# the HTTP API with 1, 8 and 64 concurrent clients (wrk, keep-alive
# connections, each request a new service), beside the CLI's one process per
# registration with as many running at once; then the latency of
# GET /v1/status and GET /v1/targets for a session of 1,000 targets.
# Goal: the API at 64 clients at least 5x the CLI's rate.
#
# Usage: bench/serve.sh  or  BENCH_QUICK=1 bench/serve.sh
# Runs from anywhere; times a copy of the repo's ./benchmon (build it with make).
# Prints figures; fails only when something does not work (a request refused,
# a registration missing).

set -eu
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$repo/benchmon" ] || { echo "serve.sh: '$repo/benchmon' not found; run make first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "serve.sh: wrk is not installed" >&2; exit 1; }
command -v curl >/dev/null || { echo "serve.sh: curl is not installed" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/benchmon-bench-serve.XXXXXX")
server=
cleanup() {
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	[ -z "$server" ] || wait "$server" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$repo/benchmon" "$scratch/benchmon"
benchmon=$scratch/benchmon
export HOME=$scratch BENCHMON_HOME=$scratch/home BENCHMON_DATADIR=$repo
unset BENCHMON_SESSION SLURM_CONF

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	mode=quick seconds=2 ncli=64
else
	mode=full seconds=10 ncli=320
fi

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# a free port on loopback, from 20700 up
port=20700
while ss -Htln "sport = :$port" | grep -q .; do
	port=$((port + 1))
done

"$benchmon" session-create --run-id bench --launcher local >/dev/null
for c in 0 1 2 3 4 5 6 7; do
	"$benchmon" client-connect --session bench --client-id "c$c" --node "node$c" >/dev/null
done
"$benchmon" serve --session bench --listen "127.0.0.1:$port" 2>"$scratch/serve.err" &
server=$!
for _ in $(seq 100); do
	[ -f "$BENCHMON_HOME/sessions/bench/api.json" ] && break
	sleep 0.1
done
[ -f "$BENCHMON_HOME/sessions/bench/api.json" ] || { cat "$scratch/serve.err" >&2; fail "the server did not start"; }
token=$(cat "$BENCHMON_HOME/sessions/bench/api.token")
api=http://127.0.0.1:$port

echo "benchmon serve benchmark ($mode mode)"
printf '  %-8s %s\n' tree "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)" \
	host "$(uname -sr), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" \
	disk "$(stat -f -c %T "$scratch")"

# each wrk connection registers services of its own: "w<prefix>_<thread>_<n>"
cat >"$scratch/register.lua" <<'EOF'
local counter = 0
local id = 0
local threads = {}
function setup(thread)
	id = id + 1
	thread:set("tid", id)
	table.insert(threads, thread)
end
function init(args)
	prefix = args[1]
	token = args[2]
end
function request()
	counter = counter + 1
	local c = counter % 8
	local body = string.format('{"client_id":"c%d","name":"%s_%d_%d","endpoint":"http://node%d:%d/metrics"}',
		c, prefix, tid, counter, c, 10000 + counter % 50000)
	return wrk.format("POST", "/v1/services",
		{ ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
function done(summary, latency, requests)
	local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
	io.write(string.format("RESULT %d %d %.3f %.3f\n", summary.requests, bad, summary.duration / 1e6,
		latency:percentile(50) / 1000))
end
EOF

# api_rate CLIENTS PREFIX: "rate/s requests median_ms" through the API
api_rate() {
	local conns=$1 threads=$(($1 < 2 ? 1 : 2))
	wrk -t"$threads" -c"$conns" -d"${seconds}s" -s "$scratch/register.lua" "$api" -- "$2" "$token" \
		>"$scratch/wrk.$2" 2>&1 || { cat "$scratch/wrk.$2" >&2; fail "wrk failed"; }
	awk '/^RESULT/ { if ($3 != 0) { print "errors", $3 > "/dev/stderr"; exit 1 }
	                 printf "%.0f %d %.2f\n", $2 / $4, $2, $5 }' "$scratch/wrk.$2" ||
		{ cat "$scratch/wrk.$2" >&2; fail "refused or failed requests through the API"; }
}

# cli_rate PARALLEL PREFIX: "rate/s registrations" with one service-register process each
cli_rate() {
	local t0 t1
	seq 1 "$ncli" >"$scratch/ids"
	t0=$EPOCHREALTIME
	xargs -P "$1" -I{} "$benchmon" service-register --session bench --client-id c1 --name "$2_{}" \
		--endpoint "http://node1:{}/metrics" <"$scratch/ids" >/dev/null
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" -v n="$ncli" 'BEGIN { printf "%.0f %d\n", n / (b - a), n }'
}

echo
echo "1. registrations per second (a new service each; wrk for ${seconds} s through the API; $ncli CLI processes)"
printf '  %-8s %12s %14s %12s %10s\n' clients "API reg/s" "API median" "CLI reg/s" "API / CLI"
declare -A apir clir
for n in 1 8 64; do
	read -r rate count median < <(api_rate "$n" "a$n")
	read -r crate ccount < <(cli_rate "$n" "cli$n")
	apir[$n]=$rate clir[$n]=$crate
	printf '  %-8s %12s %11s ms %12s %9.1fx\n' "$n" "$rate" "$median" "$crate" \
		"$(awk -v a="$rate" -v b="$crate" 'BEGIN { print a / b }')"
done
printf '  API with 64 clients vs the CLI one at a time: %.1fx (goal >= 5x)\n' \
	"$(awk -v a="${apir[64]}" -v b="${clir[1]}" 'BEGIN { print a / b }')"

"$benchmon" status --session bench --json >"$scratch/status.json"
nservices=$(grep -c '"kind":[[:space:]]*"service"' "$scratch/status.json")
nfiles=$(find "$BENCHMON_HOME/sessions/bench/targets" -name 'service+*.json' | wc -l)
[ "$nservices" = "$nfiles" ] || fail "status shows $nservices services, the registry holds $nfiles"

# a session of exactly 1,000 targets for the latency of reads
"$benchmon" session-create --run-id thousand --launcher local >/dev/null
for c in 0 1 2 3 4 5 6 7; do
	"$benchmon" client-connect --session thousand --client-id "c$c" --node "node$c" --node-exporter "node$c:9100" >/dev/null
done
awk 'BEGIN { print "client_id,name,endpoint"; for (i = 0; i < 992; i++) printf "c%d,s%d,http://node%d:%d/metrics\n", i % 8, i, i % 8, 10000 + i }' \
	>"$scratch/thousand.csv"
"$benchmon" service-register --session thousand --from-file "$scratch/thousand.csv" >/dev/null
kill "$server" && wait "$server" || true
"$benchmon" serve --session thousand --listen "127.0.0.1:$port" 2>"$scratch/serve.err" &
server=$!
for _ in $(seq 100); do
	[ -f "$BENCHMON_HOME/sessions/thousand/api.json" ] && break
	sleep 0.1
done
token=$(cat "$BENCHMON_HOME/sessions/thousand/api.token")
code=$(curl -s -o "$scratch/status.api" -w '%{http_code}' -H "Authorization: Bearer $token" "$api/v1/status")
[ "$code" = 200 ] || fail "GET /v1/status answered $code"
ntargets=$(grep -c '"health"' "$scratch/status.api")
[ "$ntargets" = 1000 ] || fail "GET /v1/status shows $ntargets targets, not 1000"

echo
echo "2. latency of reads, a session of $ntargets targets (Prometheus not running), one client at a time"
printf '  %-16s %10s %10s %10s %12s\n' route p50 p90 p99 "answer size"
for route in /v1/status /v1/targets; do
	wrk -t1 -c1 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$api$route" >"$scratch/lat" 2>&1 ||
		{ cat "$scratch/lat" >&2; fail "wrk failed on $route"; }
	! grep -q "Non-2xx" "$scratch/lat" || { cat "$scratch/lat" >&2; fail "$route refused"; }
	size=$(curl -s -H "Authorization: Bearer $token" "$api$route" | wc -c)
	awk -v r="$route" -v s="$size" '
		$1 == "50%" { p50 = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
		END { printf "  %-16s %10s %10s %10s %9.0f KiB\n", r, p50, p90, p99, s / 1024 }' "$scratch/lat"
done
t0=$EPOCHREALTIME
for _ in 1 2 3 4 5 6 7 8 9 10; do
	"$benchmon" status --session thousand --json >/dev/null
done
t1=$EPOCHREALTIME
printf '  %-16s %10s ms (the CLI, one process each, mean of 10)\n' "status --json" \
	"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 100 }')"
echo
echo "all checks passed"
