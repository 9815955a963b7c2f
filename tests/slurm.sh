# Start a private one-node Slurm cluster for this test script, stopped at exit.
# Sets SLURM_CONF. Skips the script when Slurm is not installed.
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null ||
	test_skip_all "Slurm (slurmctld, slurmd, munge) is not installed"
[ "$(id -u)" = 0 ] || test_skip_all "the test cluster runs as root"

# ports of our own: the first free pair above 16817
slurm_port=$(free_port 16817)
while [ "$(free_port $((slurm_port + 1)))" != $((slurm_port + 1)) ]; do
	slurm_port=$(free_port $((slurm_port + 2)))
done
SLURM_DIR="$TEST_DIR/slurm"
test_cleanup "'$SRC_DIR/scripts/slurm-cluster.sh' stop '$SLURM_DIR'"
if ! cluster_env=$(BENCHMON_SLURM_PORT_BASE=$slurm_port "$SRC_DIR/scripts/slurm-cluster.sh" start "$SLURM_DIR" 2>"$TEST_DIR/slurm-start.log"); then
	cat "$TEST_DIR/slurm-start.log"
	say "not ok - the test Slurm cluster did not start"
	say "# 0 passed, 1 failed"
	exit 1
fi
eval "$cluster_env"
export SLURM_CONF
