#!/bin/bash
# Alert rules: rendered from templates/rules/ into the session, checked by
# promtool, unit-tested rule by rule (tests/rules/), overridden with --rules.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || test_skip_all "promtool not installed"

rules_of() { echo "$BENCHMON_HOME/sessions/$1/rules.yml"; }

test_expect_success 'session-create renders every rule, and promtool accepts them' '
	benchmon session-create --run-id r15 --scrape-interval 15s --launcher local >/dev/null &&
	promtool check rules "$(rules_of r15)" >out &&
	grep -q "SUCCESS: 14 rules found" out &&
	[ "$(stat -c %a "$(rules_of r15)")" = 600 ]
'

test_expect_success 'every rule has a promtool unit test' '
	for t in "$SRC_DIR"/templates/rules/*.yml.in; do
		name=$(basename "$t" .yml.in) &&
		grep -q "alertname: $name\$" "$SRC_DIR"/tests/rules/*.test.yml || { say "no test for $name"; return 1; }
	done
'

test_expect_success 'each rule fires exactly when it should (promtool test rules)' '
	mkdir unit && cp "$SRC_DIR"/tests/rules/*.test.yml unit/ && cp "$(rules_of r15)" unit/rules.yml &&
	(cd unit && promtool test rules *.test.yml) >out 2>&1 || { cat out; return 1; }
'

test_expect_success 'the unit tests notice a rule that fires a scrape early' '
	printf "{\"THERMAL_WARNING\": {\"for\": \"45s\"}}\n" >early.json &&
	benchmon session-create --run-id early --scrape-interval 15s --launcher local --rules early.json >/dev/null &&
	mkdir mutant && cp "$SRC_DIR"/tests/rules/gpu.test.yml mutant/ && cp "$(rules_of early)" mutant/rules.yml &&
	! (cd mutant && promtool test rules gpu.test.yml) >out 2>&1 &&
	grep -q THERMAL_WARNING out
'

test_expect_success '--rules overrides thresholds and durations and disables rules' '
	cat >h100.json <<-\EOS &&
	{ "THERMAL_WARNING": { "threshold": 75.5, "for": "2m" },
	  "POWER_CRITICAL": { "threshold": 700 },
	  "XID_ERROR": { "enabled": false },
	  "TARGET_STALE": { "threshold": 5 } }
	EOS
	benchmon session-create --run-id h100 --scrape-interval 2s --launcher local --rules h100.json >/dev/null &&
	promtool check rules "$(rules_of h100)" >out &&
	grep -q "SUCCESS: 13 rules found" out &&
	! grep -q XID_ERROR "$(rules_of h100)" &&
	grep -A2 "alert: THERMAL_WARNING" "$(rules_of h100)" >tw &&
	grep -q "DCGM_FI_DEV_GPU_TEMP >= 75.5\$" tw && grep -q "for: 2m\$" tw &&
	grep -q "DCGM_FI_DEV_POWER_USAGE >= 700\$" "$(rules_of h100)" &&
	grep -q "timestamp(up) > 5 \* 2\$" "$(rules_of h100)" &&
	grep -q "\"rules\"" "$BENCHMON_HOME/sessions/h100/session.json"
'

test_expect_success 'every rule can be disabled' '
	printf "{" >none.json && sep= &&
	for t in "$SRC_DIR"/templates/rules/*.yml.in; do
		printf "%s\"%s\": {\"enabled\": false}" "$sep" "$(basename "$t" .yml.in)" >>none.json && sep=, || return 1
	done &&
	printf "}\n" >>none.json &&
	benchmon session-create --run-id none --launcher local --rules none.json >/dev/null &&
	promtool check rules "$(rules_of none)" >out &&
	grep -q "SUCCESS: 0 rules found" out
'

test_expect_success 'bad --rules files are refused with exit 2, naming the problem, and change nothing' '
	snapshot "$BENCHMON_HOME" >before &&
	while IFS="|" read -r body expect; do
		printf "%s\n" "$body" >bad.json &&
		test_expect_code 2 benchmon session-create --run-id bad --launcher local --rules bad.json 2>err &&
		grep -q -- "$expect" err || { say "for $body:"; cat err; return 1; }
	done <<-\EOS &&
	{"THERMAL_WARNIN": {}}|unknown rule .THERMAL_WARNIN.
	{"THERMAL_WARNING": {"threshold": "80"}}|threshold must be a number from 0 to 150
	{"THERMAL_WARNING": {"threshold": 151}}|threshold must be a number from 0 to 150
	{"MEMORY_PRESSURE": {"threshold": -1}}|threshold must be a number from 0 to 100
	{"THROTTLING": {"threshold": 8}}|takes no threshold
	{"POWER_SPIKE": {"for": "soon"}}|invalid "for"
	{"POWER_SPIKE": {"for": "1500ms"}}|whole seconds
	{"POWER_SPIKE": {"for": "25h"}}|whole seconds
	{"ECC_ERRORS_SPIKE": {"for": "0s"}}|from 1s
	{"POWER_SPIKE": {"enabled": "no"}}|must be true or false
	{"POWER_SPIKE": {"severity": "info"}}|unknown key .severity.
	{"POWER_SPIKE": 1}|expected an object
	{"POWER_SPIKE": {}, "POWER_SPIKE": {}}|given twice
	["POWER_SPIKE"]|expected a JSON object
	{"POWER_SPIKE": {|expected a JSON object
	EOS
	test_expect_code 2 benchmon session-create --run-id bad --launcher local --rules missing.json 2>err &&
	grep -q "missing.json" err &&
	snapshot "$BENCHMON_HOME" >after && test_cmp before after
'

test_expect_success 'start puts the rules into the rendered Prometheus configuration' '
	port=$(free_port 20300) &&
	benchmon session-create --run-id live --port "$port" --launcher local >/dev/null &&
	benchmon start --session live --no-wait-targets >/dev/null 2>&1 &&
	test_cleanup "benchmon stop --session live >/dev/null 2>&1" &&
	promtool check config --syntax-only "$BENCHMON_HOME/sessions/live/prometheus.yml" >out 2>&1 &&
	grep -q "rules.yml" "$BENCHMON_HOME/sessions/live/prometheus.yml" &&
	wait_for 30 "prom_curl \"$BENCHMON_HOME/sessions/live\" -sf http://127.0.0.1:$port/api/v1/rules | grep -q THERMAL_CRITICAL" &&
	benchmon stop --session live >/dev/null 2>&1
'

test_done
