#!/bin/bash
# The test cluster with four nodes on this one machine (slurm-cluster.sh --nodes 4):
# own names and addresses, pids that repeat across nodes, one shared test directory,
# and nothing left behind by stop.
. "$(dirname "$0")/lib.sh"
SLURM_NODES=4
. "$SRC_DIR/tests/slurm.sh"

# ns_of_nodes: the pid, uts and mnt namespaces of the cluster's slurmds, as the machine sees them
ns_of_nodes() {
	local pid
	for pid in $(pgrep -x slurmd); do
		if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF "$SLURM_CONF"; then
			readlink "/proc/$pid/ns/pid" "/proc/$pid/ns/uts" "/proc/$pid/ns/mnt"
		fi
	done
}

test_expect_success 'sinfo shows n1..n4 idle' '
	sinfo -h -N -o "%N %T" | sort -u >actual &&
	printf "n1 idle\nn2 idle\nn3 idle\nn4 idle\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'srun -N4 hostname prints n1..n4' '
	srun -N4 hostname | sort >actual &&
	printf "n1\nn2\nn3\nn4\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'every node resolves every node, and no address of the machine changed' '
	srun -N4 -l getent hosts n2 | sort >actual &&
	printf "0: 127.0.1.2       n2\n1: 127.0.1.2       n2\n2: 127.0.1.2       n2\n3: 127.0.1.2       n2\n" >expect &&
	test_cmp expect actual &&
	test_expect_code 2 getent hosts n2
'

LISTEN_PORT=$(free_port 19520)
test_expect_success 'a step on n2 listens on 127.0.1.2 alone and is reached from outside' '
	srun -w n2 python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.1.2\", $LISTEN_PORT))
s.listen()
c, _ = s.accept()
c.sendall(socket.gethostname().encode())
c.close()" &
	step=$! &&
	wait_for 20 "ss -Htln \"sport = :$LISTEN_PORT\" | grep -q ." &&
	ss -Htln "sport = :$LISTEN_PORT" | awk "{print \$4}" >actual &&
	echo "127.0.1.2:$LISTEN_PORT" >expect &&
	test_cmp expect actual &&
	python3 -c "
import socket
print(socket.create_connection((\"127.0.1.2\", $LISTEN_PORT), timeout=10).recv(64).decode())" >actual &&
	echo n2 >expect &&
	test_cmp expect actual &&
	wait $step
'

test_expect_success 'pids repeat across nodes: each has a pid namespace, slurmd has the same pid in each' '
	srun -N4 -l bash -c "echo \$(readlink /proc/self/ns/pid) \$(pgrep -x slurmd)" | sort >steps &&
	cat steps &&
	[ "$(awk "{print \$2}" steps | sort -u | wc -l)" -eq 4 ] &&
	[ "$(awk "{print \$3}" steps | sort -u | wc -l)" -eq 1 ] &&
	! grep -qxF "$(readlink /proc/self/ns/pid)" <(awk "{print \$2}" steps)
'

test_expect_success 'a file a step on n3 writes in the test directory is seen by a step on n1' '
	srun -w n3 bash -c "hostname >\"$TEST_DIR/from-n3\"" &&
	srun -w n1 cat "$TEST_DIR/from-n3" >actual &&
	echo n3 >expect &&
	test_cmp expect actual
'

# Outside the nodes, n1..n4 resolve only on a "login node" (on_login_node): benchmon
# reaches Prometheus at the host name the job reports. --listen auto binds every
# address here, not 127.0.1.K: the job script skips 127.* addresses (Debian maps a
# machine's own name to 127.0.1.1), so the bound address is shown, not checked.
PROM_PORT=$(free_port 19540)
test_expect_success 'benchmon start puts Prometheus on a node nK, and status reaches it at 127.0.1.K' '
	command -v prometheus >/dev/null || { echo "prometheus is not installed: skipped"; exit 0; }
	test_cleanup "BENCHMON_SESSION=mn benchmon delete --force" &&
	benchmon session-create --run-id mn --launcher slurm --port "$PROM_PORT" --scrape-interval 1s >/dev/null &&
	on_login_node benchmon start --session mn --wait 60 2>err &&
	cat err &&
	on_login_node benchmon status --session mn --json >st.json &&
	python3 - <<-PY &&
	import json
	d = json.load(open("st.json"))
	assert d["ready"] is True and d["state"] == "running", d
	assert d["node"] in ("n1", "n2", "n3", "n4"), d
	assert d["prometheus_url"] == "http://%s:$PROM_PORT" % d["node"], d
	PY
	node=$(python3 -c "import json; print(json.load(open(\"st.json\"))[\"node\"])") &&
	ss -Htln "sport = :$PROM_PORT" &&
	prom_curl "$BENCHMON_HOME/sessions/mn" -sf "http://127.0.1.${node#n}:$PROM_PORT/-/ready" &&
	on_login_node benchmon stop --session mn
'

test_expect_success 'stop leaves no process, namespace, mount or socket directory of the cluster' '
	ns_of_nodes | sort -u >ns &&
	[ "$(wc -l <ns)" -eq 12 ] &&
	sockdir=$(sed -n "s/^AuthInfo=socket=\(.*\)\/munge.socket$/\1/p" "$SLURM_CONF") &&
	test_path_is_dir "$sockdir" &&
	"$SRC_DIR/scripts/slurm-cluster.sh" stop "$SLURM_DIR" &&
	for p in /proc/[0-9]*; do
		if tr "\0" "\n" 2>/dev/null <$p/cmdline | grep -qF "$SLURM_DIR" ||
			tr "\0" "\n" 2>/dev/null <$p/environ | grep -qF "$SLURM_DIR"; then
			echo "left: $p $(tr "\0" " " <$p/cmdline)"; exit 1
		fi
		for n in pid uts mnt; do
			if grep -qxF "$(readlink $p/ns/$n 2>/dev/null)" ns; then echo "namespace left: $p $n"; exit 1; fi
		done
		if grep -qF "$SLURM_DIR" $p/mountinfo 2>/dev/null; then echo "mount left in $p"; exit 1; fi
	done &&
	test_path_is_missing "$sockdir"
'

test_expect_success 'a cluster below a 0700 directory and a group-writable one starts, and stop removes its /run directory' '
	mkdir -m 700 private && mkdir -m 775 private/shared &&
	BENCHMON_SLURM_PORT_BASE=$slurm_port "$SRC_DIR/scripts/slurm-cluster.sh" start "$TEST_DIR/private/shared/c" --nodes 2 >env &&
	test_cleanup "\"$SRC_DIR/scripts/slurm-cluster.sh\" stop \"$TEST_DIR/private/shared/c\"" &&
	conf="$TEST_DIR/private/shared/c/slurm.conf" &&
	SLURM_CONF=$conf srun -N2 hostname | sort >actual &&
	printf "n1\nn2\n" >expect &&
	test_cmp expect actual &&
	sockdir=$(sed -n "s/^AuthInfo=socket=\(.*\)\/munge.socket$/\1/p" "$conf") &&
	case $sockdir in /run/benchmon-slurm.*) ;; *) false ;; esac &&
	"$SRC_DIR/scripts/slurm-cluster.sh" stop "$TEST_DIR/private/shared/c" &&
	test_path_is_missing "$sockdir"
'

test_done
