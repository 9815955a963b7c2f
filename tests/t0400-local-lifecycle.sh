#!/bin/bash
# The local launcher: the whole lifecycle with a real Prometheus and node_exporter.
. "$(dirname "$0")/lib.sh"
LAUNCHER=local
. "$SRC_DIR/tests/lifecycle.sh"
test_done
