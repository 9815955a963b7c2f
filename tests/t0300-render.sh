#!/bin/bash
# Rendered configuration: promtool accepts it, with many and odd targets.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || test_skip_all "promtool is not installed"
sess="$BENCHMON_HOME/sessions/r1"

test_expect_success 'an empty session renders a valid configuration' '
	benchmon session-create --run-id r1 --launcher local --scrape-interval 500ms >/dev/null &&
	benchmon start --session r1 --dry-run >paths &&
	grep -qx "$sess/prometheus.yml" paths && grep -qx "$sess/job.sh" paths &&
	promtool check config "$sess/prometheus.yml"
'

test_expect_success 'the scrape interval and a timeout no longer than it are rendered' '
	grep -q "scrape_interval: 500ms" "$sess/prometheus.yml" &&
	grep -q "scrape_timeout: 500ms" "$sess/prometheus.yml" &&
	grep -q "refresh_interval: 5s" "$sess/prometheus.yml"
'

test_expect_success 'one target of each kind: promtool accepts config and target files' '
	benchmon client-connect --session r1 --client-id c1 --node n1 --node-exporter n1:9100 --dcgm-exporter n1:9400 &&
	benchmon service-register --session r1 --client-id c1 --name svc --endpoint http://n1:8000/metrics &&
	benchmon start --session r1 --dry-run >/dev/null &&
	promtool check config "$sess/prometheus.yml" >out 2>&1 &&
	cat out && grep -q "SUCCESS" out
'

test_expect_success 'odd but valid targets: IPv6, https, params, dotted ids, long names' '
	long=$(head -c 64 /dev/zero | tr "\0" n) &&
	benchmon client-connect --session r1 --client-id "c.2-x_y" --node "node-7.cluster.local" --node-exporter "[::1]:9100" &&
	benchmon service-register --session r1 --client-id "c.2-x_y" --name "$long" \
		--endpoint "https://[fe80::1]:8443/a/b/c.metrics?match_=up&x=%C3%A9" &&
	benchmon service-register --session r1 --client-id c1 --name "v1.2" --endpoint "HTTP://N1.EXAMPLE:1/" &&
	for i in $(seq 1 300); do echo "c1,s$i,http://n$((i % 17)).x:$((8000 + i))/m?i=$i"; done >many.csv &&
	benchmon service-register --session r1 --from-file many.csv &&
	benchmon start --session r1 --dry-run >/dev/null &&
	promtool check config "$sess/prometheus.yml"
'

test_expect_success 'a session directory with odd characters is quoted in YAML and shell' '
	odd="$TEST_DIR/we\"ird dir \$(x) '"'"'q" &&
	BENCHMON_HOME="$odd" benchmon session-create --run-id r2 --launcher local >/dev/null &&
	BENCHMON_HOME="$odd" benchmon client-connect --session r2 --client-id c1 --node n1 --node-exporter n1:9100 &&
	BENCHMON_HOME="$odd" benchmon start --session r2 --dry-run >/dev/null &&
	promtool check config "$odd/sessions/r2/prometheus.yml" &&
	bash -n "$odd/sessions/r2/job.sh" &&
	grep -q "^session_dir=" "$odd/sessions/r2/job.sh" &&
	( eval "$(grep "^session_dir=" "$odd/sessions/r2/job.sh")" && [ "$session_dir" = "$odd/sessions/r2" ] )
'

test_expect_success 'the job script passes bash -n and keeps the TSDB off the session directory' '
	bash -n "$sess/job.sh" &&
	grep -q "TMPDIR:-/tmp" "$sess/job.sh" &&
	grep -q -- "--web.enable-lifecycle" "$sess/job.sh"
'

test_expect_success 'a broken template is reported, not rendered' '
	mkdir -p tmpl/templates &&
	cp -r "$SRC_DIR/templates/"*.in "$SRC_DIR/templates/rules" tmpl/templates/ &&
	echo "x: @NOSUCH@" >>tmpl/templates/prometheus.yml.in &&
	test_expect_code 1 env BENCHMON_DATADIR="$TEST_DIR/tmpl" benchmon start --session r1 --dry-run 2>err &&
	grep -q "unknown placeholder" err
'

test_done
