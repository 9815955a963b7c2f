#!/bin/bash
# Private Slurm cluster (own munged, slurmctld, slurmd) for tests and the
# demo. Everything lives under DIR but munged's socket, key, pid and seed
# files, which sit in /run/benchmon-slurm.<hash of DIR>, removed by stop:
# munged refuses them below a directory that is not searchable by all or is
# group-writable, and DIR may be in a 0700 home or a group-writable checkout.
# /etc/slurm and the system munge are never used.
#
#   scripts/slurm-cluster.sh start DIR [--nodes N]
#                                         prints: export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm-cluster.sh stop DIR
#   scripts/slurm-cluster.sh status DIR
#
# One node (the default): a slurmd named after this machine, on 127.0.0.1.
# --nodes N (2..64): nodes n1..nN, each a slurmd (Debian builds Slurm with
# MULTIPLE_SLURMD) at 127.0.1.K, in namespaces of its own: UTS (its host name
# is nK), mount (DIR/hosts, naming every node, is bound over /etc/hosts; the
# machine's /etc/hosts is never edited) and pid (pids repeat across nodes, as
# on a real cluster). The network is the machine's loopback: no link or
# network namespace is made. Every node sees the same files, as compute nodes
# see a shared home.
#
# Ports: slurmctld on $BENCHMON_SLURM_PORT_BASE (default 16817), slurmd on the
# next one (node nK on base+K). Must run as root (SlurmUser=root, jobs run as
# root).
set -eu

usage() {
    echo "usage: $0 start DIR [--nodes N] | stop DIR | status DIR" >&2
    exit 2
}

log() { echo "slurm-cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 2 ] || usage
action=$1
nodes=1
if [ "$action" = start ] && [ $# -eq 4 ] && [ "$3" = --nodes ]; then
    nodes=$4
elif [ $# -ne 2 ]; then
    usage
fi
case $nodes in
    '' | *[!0-9]*) die "--nodes must be a number: $nodes" ;;
esac
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 64 ]; then die "--nodes must be between 1 and 64: $nodes"; fi
case $2 in
    /*) dir=$2 ;;
    *) dir=$PWD/$2 ;;
esac
dir=$(realpath -m -- "$dir")
# The export line is meant for eval, so refuse anything that would need quoting.
case $dir in
    *[!A-Za-z0-9._/+@%,:=-]*) die "DIR must not contain spaces or shell metacharacters: $dir" ;;
esac

conf=$dir/slurm.conf
mdir=$dir/munge
# munged's files, outside DIR: see the top of this file
sockdir=/run/benchmon-slurm.$(printf '%s' "$dir" | sha1sum | cut -c1-16)
socket=$sockdir/munge.socket
munge_key=$sockdir/munge.key
munge_pid=$sockdir/munged.pid
munge_log=$mdir/munged.log
munge_seed=$sockdir/munged.seed
ctld_pid=$dir/run/slurmctld.pid
ctld_log=$dir/log/slurmctld.log
slurmd_pid=$dir/run/slurmd.pid
slurmd_log=$dir/log/slurmd.log

port_base=${BENCHMON_SLURM_PORT_BASE:-16817}
case $port_base in
    '' | *[!0-9]*) die "BENCHMON_SLURM_PORT_BASE must be a number" ;;
esac
ctld_port=$port_base
slurmd_port=$((port_base + 1))

node=$(hostname -s)
hosts=$dir/hosts
# the nodes of the cluster in DIR, one a line, written at start
nodes_file=$dir/nodes
export SLURM_CONF=$conf

# want_nodes: the node names --nodes asks for
want_nodes() {
    local k
    if [ "$nodes" -eq 1 ]; then
        echo "$node"
    else
        for k in $(seq 1 "$nodes"); do echo "n$k"; done
    fi
}

# node_names: the nodes of the cluster that was started in DIR
node_names() {
    if [ -f "$nodes_file" ]; then cat "$nodes_file"; else echo "$node"; fi
}

# munged and slurm* are identified by process name plus an exact argument
# naming a private path, so a system-wide instance or a cluster in another
# DIR is never touched.
pids_of() { # name argument
    local pid
    for pid in $(pgrep -x "$1" || true); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$2"; then
            echo "$pid"
        fi
    done
}

# (a cluster started before the socket moved to /run had it in DIR/munge)
munged_pids() { pids_of munged "--socket=$socket"; pids_of munged "--socket=$mdir/munge.socket"; }
slurmctld_pids() { pids_of slurmctld "$conf"; }
slurmd_pids() { pids_of slurmd "$conf"; }

# slurmstepd outlives slurmd by design; its command line does not name DIR,
# but it inherits slurmd's environment, which does.
slurmstepd_pids() {
    local pid
    for pid in $(pgrep -x slurmstepd || true); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF -- "SLURM_CONF=$conf"; then
            echo "$pid"
        fi
    done
}

# A multi-node cluster's unshare and the shell that is pid 1 of each node's
# namespaces: both have DIR's slurm.conf as an argument.
node_init_pids() { pids_of unshare "$conf"; pids_of bash "$conf"; }

all_pids() { munged_pids; slurmctld_pids; slurmd_pids; slurmstepd_pids; node_init_pids; }

# TERM, wait up to 10 s, then KILL.
stop_pids() { # label pid...
    local label=$1 pid alive
    shift
    [ $# -gt 0 ] || return 0
    log "stopping $label ($*)"
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive=
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null; then alive=1; fi
        done
        [ -n "$alive" ] || return 0
        sleep 0.2
    done
    log "$label did not exit after TERM, sending KILL"
    kill -KILL "$@" 2>/dev/null || true
    sleep 0.5
}

is_up() {
    [ -n "$(munged_pids)" ] && [ -n "$(slurmctld_pids)" ] && [ -n "$(slurmd_pids)" ] || return 1
    scontrol ping 2>/dev/null | grep -q 'is UP' || return 1
    nodes_in_state '^(idle|mixed|allocated|completing)'
}

# nodes_in_state ERE: every node of the cluster is in a state (sinfo's %T)
# that matches ERE
nodes_in_state() {
    local have
    have=$(sinfo -h -N -o '%N %T' 2>/dev/null | awk -v re="$1" '$2 ~ re {print $1}' | sort -u) || return 1
    [ "$have" = "$(node_names | sort -u)" ]
}

show_log() { # label file
    log "last lines of $2 ($1):"
    if [ -f "$2" ]; then tail -n 25 "$2" >&2; else log "(no log file)"; fi
}

do_stop() {
    local jobs
    if [ -f "$conf" ] && [ -n "$(slurmctld_pids)" ]; then
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            log "cancelling jobs: $(echo "$jobs" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 1 50); do
                [ -n "$(squeue -h -o %i 2>/dev/null || true)" ] || break
                sleep 0.2
            done
        fi
    fi
    # Slurm daemons together (each takes ~1-2 s to exit), munged last since
    # they authenticate through it until they are gone.
    # shellcheck disable=SC2046
    stop_pids "slurmd/slurmctld" $(slurmd_pids) $(slurmstepd_pids) $(slurmctld_pids)
    # Each node's pid 1 exits with its slurmd, and the kernel then ends
    # whatever is left in the node's namespaces; this only waits for that.
    # shellcheck disable=SC2046
    stop_pids "node namespaces" $(node_init_pids)
    # shellcheck disable=SC2046
    stop_pids munged $(munged_pids)

    local left
    left=$(all_pids)
    if [ -n "$left" ]; then
        log "still running after stop:"
        ps -o pid,args -p "$(echo "$left" | paste -sd,)" >&2 || true
        return 1
    fi
    rm -f "$ctld_pid" "$slurmd_pid" "$dir/run/slurmd-"*.pid "$munge_pid" "$socket" "$socket.lock"
    rm -rf "$sockdir"
    return 0
}

port_in_use() {
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

write_conf() {
    local cpus mem_avail_kb real_mem
    cpus=$(nproc)
    mem_avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    # Below what slurmd measures, or the node is drained for low memory.
    real_mem=$((mem_avail_kb * 9 / 10 / 1024))
    local comm spool d_pid d_log node_lines part_nodes k
    if [ "$nodes" -eq 1 ]; then
        comm=NoCtldInAddrAny,NoInAddrAny
        spool=$dir/spool d_pid=$slurmd_pid d_log=$slurmd_log
        node_lines="NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN"
        part_nodes=$node
    else
        # Not NoInAddrAny: srun would then listen on 127.0.1.K while
        # slurmstepd answers to 127.0.0.1, and task launch is refused.
        comm=NoCtldInAddrAny
        # %n is the node's name: slurmds that share a host need their own
        spool=$dir/spool/%n d_pid=$dir/run/slurmd-%n.pid d_log=$dir/log/slurmd-%n.log
        node_lines=
        for k in $(seq 1 "$nodes"); do
            node_lines="${node_lines}NodeName=n$k NodeAddr=127.0.1.$k Port=$((port_base + k)) CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
"
        done
        part_nodes="n[1-$nodes]"
    fi
    want_nodes >"$nodes_file"
    # what the nodes resolve: each other, and the controller's host name
    {
        echo "127.0.0.1 localhost $node"
        echo "::1 localhost ip6-localhost ip6-loopback"
        if [ "$nodes" -gt 1 ]; then
            for k in $(seq 1 "$nodes"); do echo "127.0.1.$k n$k"; done
        fi
    } >"$hosts"
    cat >"$conf" <<EOF
# Generated by scripts/slurm-cluster.sh; rewritten on every start.
ClusterName=benchmon-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
CommunicationParameters=$comm

StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$d_pid
SlurmctldLogFile=$ctld_log
SlurmdLogFile=$d_log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/plugstack.conf
TmpFS=$dir/tmp
MailProg=/bin/true

# No cgroups: there is no systemd or cgroup management in the sandbox.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none

SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Start submitted batch jobs right away instead of after up to 3 s.
SchedulerParameters=batch_sched_delay=0

# Finished jobs stay visible for a while; a node that comes back is usable.
MinJobAge=300
ReturnToService=2
SlurmdTimeout=30
SlurmctldTimeout=30
InactiveLimit=0
KillWait=15

${node_lines%
}
PartitionName=debug Nodes=$part_nodes Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$dir/plugstack.conf"
}

rotate_log() {
    if [ -f "$1" ]; then mv -f "$1" "$1.prev"; fi
}

# wait_for label timeout-seconds pid-function log test-command...
wait_for() {
    local label=$1 timeout=$2 pidfn=$3 logfile=$4 start dots=
    shift 4
    start=$(date +%s)
    while ! "$@"; do
        if [ -z "$($pidfn)" ]; then
            [ -z "$dots" ] || echo >&2
            log "$label died during startup"
            show_log "$label" "$logfile"
            return 1
        fi
        if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
            [ -z "$dots" ] || echo >&2
            log "timed out after ${timeout}s waiting for $label"
            show_log "$label" "$logfile"
            return 1
        fi
        printf '.' >&2
        dots=1
        sleep 0.5
    done
    [ -z "$dots" ] || echo >&2
}

munge_works() {
    munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1
}

ctld_up() {
    scontrol ping 2>/dev/null | grep -q 'is UP'
}

node_idle() {
    nodes_in_state '^idle'
}

# pid 1 of a node's namespaces: takes the node's name, binds the cluster's
# hosts file over /etc/hosts and runs slurmd in the foreground. As init, it
# reaps orphans (bash waits for any child) and handles TERM, which the kernel
# would not deliver to a pid 1 without a handler.
# shellcheck disable=SC2016
node_init='
node=$1 conf=$2 hosts=$3
hostname "$node" || exit 1
mount --bind "$hosts" /etc/hosts || exit 1
slurmd -D -f "$conf" -N "$node" &
pid=$!
trap "kill -TERM $pid" TERM
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
'

# start_nodes: nodes n1..nN, each in UTS, mount and pid namespaces of its own
start_nodes() {
    local k
    for k in $(seq 1 "$nodes"); do
        mkdir -p "$dir/spool/n$k"
        rotate_log "$dir/log/slurmd-n$k.log"
        rotate_log "$dir/log/node-n$k.out"
        setsid unshare --uts --mount --pid --fork --mount-proc --kill-child \
            bash -c "$node_init" bash "n$k" "$conf" "$hosts" \
            </dev/null >>"$dir/log/node-n$k.out" 2>&1 &
    done
}

fail_start() {
    log "start failed; stopping what was started"
    do_stop >/dev/null 2>&1 || true
    exit 1
}

do_start() {
    local t0
    t0=$(date +%s)
    [ "$(id -u)" -eq 0 ] || die "must run as root"
    [ ${#socket} -lt 100 ] || die "DIR is too long for a unix socket path: $dir"

    if [ -f "$conf" ] && [ "$(node_names)" = "$(want_nodes)" ] && is_up; then
        log "cluster in $dir is already up, reusing it"
        echo "export SLURM_CONF=$conf"
        return 0
    fi
    # Half-started or stale leftovers from this DIR: restart from scratch.
    if [ -n "$(all_pids)" ]; then
        log "cleaning up a partial cluster in $dir"
        do_stop || die "could not stop the old cluster in $dir"
    fi
    for port in $(seq "$ctld_port" $((ctld_port + nodes))); do
        if port_in_use "$port"; then
            die "port $port is already in use (set BENCHMON_SLURM_PORT_BASE to pick other ports)"
        fi
    done

    mkdir -p "$dir"
    # munged insists the socket directory is searchable by everyone and
    # writable only by its owner; the key itself stays 0600.
    mkdir -p "$mdir" "$sockdir"
    chmod 755 "$mdir" "$sockdir"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/tmp"
    # Jobs from a previous run of this DIR must not come back.
    rm -rf "${dir:?}/state/"* "${dir:?}/spool/"*
    rotate_log "$ctld_log"
    rotate_log "$slurmd_log"
    rotate_log "$munge_log"
    if [ ! -s "$munge_key" ]; then
        (umask 077 && dd if=/dev/urandom of="$munge_key" bs=1024 count=1 status=none)
    fi
    chmod 600 "$munge_key"
    write_conf

    log "starting munged (socket $socket)"
    munged --socket="$socket" --key-file="$munge_key" --pid-file="$munge_pid" \
        --log-file="$munge_log" --seed-file="$munge_seed" \
        </dev/null >>"$munge_log" 2>&1 || { show_log munged "$munge_log"; fail_start; }
    wait_for munged 10 munged_pids "$munge_log" munge_works || fail_start

    log "starting slurmctld (port $ctld_port)"
    slurmctld -c -f "$conf" </dev/null >>"$ctld_log" 2>&1 || { show_log slurmctld "$ctld_log"; fail_start; }
    wait_for slurmctld 20 slurmctld_pids "$ctld_log" ctld_up || fail_start

    if [ "$nodes" -eq 1 ]; then
        log "starting slurmd (node $node, port $slurmd_port)"
        slurmd -f "$conf" -N "$node" </dev/null >>"$slurmd_log" 2>&1 || { show_log slurmd "$slurmd_log"; fail_start; }
    else
        log "starting $nodes slurmds (nodes n1..n$nodes at 127.0.1.1.., ports $slurmd_port..)"
        start_nodes
        slurmd_log=$dir/log/slurmd-n1.log
    fi
    log "waiting for $(node_names | paste -sd, -) to become idle"
    wait_for "slurmd (node idle)" 30 slurmd_pids "$slurmd_log" node_idle || {
        sinfo -N -l >&2 || true
        fail_start
    }

    log "cluster up in $(($(date +%s) - t0))s: $conf"
    echo "export SLURM_CONF=$conf"
}

case $action in
    start)
        do_start
        ;;
    stop)
        [ "$(id -u)" -eq 0 ] || die "must run as root"
        if [ ! -d "$dir" ] && [ -z "$(all_pids)" ]; then
            exit 0
        fi
        do_stop
        log "stopped cluster in $dir"
        ;;
    status)
        if [ -f "$conf" ] && is_up; then
            log "up: $conf"
            exit 0
        fi
        log "down: $dir"
        exit 1
        ;;
    *)
        usage
        ;;
esac
