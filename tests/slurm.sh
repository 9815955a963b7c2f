# Start a private Slurm cluster for this test script, stopped at exit.
# Sets SLURM_CONF. Skips the script when Slurm is not installed.
# One node named after this machine by default; SLURM_NODES=N before sourcing
# gives nodes n1..nN at 127.0.1.1..N (scripts/slurm-cluster.sh --nodes).
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null ||
	test_skip_all "Slurm (slurmctld, slurmd, munge) is not installed"
[ "$(id -u)" = 0 ] || test_skip_all "the test cluster runs as root"

SLURM_NODES=${SLURM_NODES:-1}
# ports of our own: the first free run of 1 + SLURM_NODES above 16817
slurm_port=$(free_port 16817)
slurm_k=1
while [ "$slurm_k" -le "$SLURM_NODES" ]; do
	if [ "$(free_port $((slurm_port + slurm_k)))" != $((slurm_port + slurm_k)) ]; then
		slurm_port=$(free_port $((slurm_port + slurm_k + 1)))
		slurm_k=1
	else
		slurm_k=$((slurm_k + 1))
	fi
done
slurm_opts=
[ "$SLURM_NODES" -eq 1 ] || slurm_opts="--nodes $SLURM_NODES"
SLURM_DIR="$TEST_DIR/slurm"
test_cleanup "'$SRC_DIR/scripts/slurm-cluster.sh' stop '$SLURM_DIR'"
if ! cluster_env=$(BENCHMON_SLURM_PORT_BASE=$slurm_port "$SRC_DIR/scripts/slurm-cluster.sh" start "$SLURM_DIR" $slurm_opts 2>"$TEST_DIR/slurm-start.log"); then
	cat "$TEST_DIR/slurm-start.log"
	say "not ok - the test Slurm cluster did not start"
	say "# 0 passed, 1 failed"
	exit 1
fi
eval "$cluster_env"
export SLURM_CONF

# on_login_node CMD...: run CMD where the cluster's node names resolve, as on a
# login node: the cluster's hosts file is bound over /etc/hosts in a mount
# namespace of CMD's own, which ends with it.
on_login_node() {
	unshare --mount -- bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$SLURM_DIR/hosts" "$@"
}
