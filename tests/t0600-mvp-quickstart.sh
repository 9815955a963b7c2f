#!/bin/bash
# The MVP's quick-start steps 1-5 and 7, verbatim but for 'benchmon' in place of
# 'python -m services.monitoring.cli', on the one-node cluster.
. "$(dirname "$0")/lib.sh"
. "$SRC_DIR/tests/slurm.sh"

command -v prometheus >/dev/null || test_skip_all "prometheus is not installed"
# the quick start names port 9090 and partition "login"
port=9090
[ "$(free_port 9090)" = 9090 ] || port=$(free_port 19090)
scontrol create PartitionName=login Nodes=ALL State=UP MaxTime=INFINITE 2>/dev/null || :
test_cleanup "BENCHMON_SESSION=bench01 benchmon delete --force; pkill -f -- '--config.file=$BENCHMON_HOME/sessions/bench01/prometheus.yml'"

test_expect_success '1) create session' '
	benchmon session-create --run-id bench01 --prom-host localhost --port '"$port"'
'

test_expect_success '2) register a client (exporters optional)' '
	benchmon client-connect \
	  --session bench01 --client-id c1 --node nodeA \
	  --node-exporter nodeA:9100 --dcgm-exporter nodeA:9400
'

test_expect_success '3) register a service endpoint (/metrics)' '
	benchmon service-register \
	  --session bench01 --client-id c1 --name triton --endpoint http://nodeA:8000/metrics
'

test_expect_success '4) start Prometheus on Slurm (choose a partition reachable from you)' '
	benchmon start --session bench01 --partition login &&
	squeue --noheader --partition login --format "%T %j" | grep -q "^RUNNING benchmon-bench01"
'

test_expect_success '5) check status' '
	benchmon status --session bench01 >out &&
	cat out &&
	grep -q "^state  *running" out &&
	grep -q "http://localhost:'"$port"' (ready)" out &&
	grep -q "c1  *service  *triton  *nodeA:8000" out
'

test_expect_success '7) stop and clean' '
	benchmon stop --session bench01 &&
	benchmon delete --session bench01 &&
	test_path_is_missing "$BENCHMON_HOME/sessions/bench01" &&
	[ -z "$(squeue --noheader --states PENDING,RUNNING)" ]
'

test_done
