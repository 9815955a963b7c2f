#!/bin/bash
# Installs benchmon's build, test and demo dependencies from Debian 12.
# Safe to run repeatedly; does nothing (and never calls apt) when everything
# is already installed. Must run as root.
set -eu

packages="
build-essential pkg-config
slurm-wlm slurmctld slurmd munge libslurm-dev
prometheus prometheus-node-exporter
libcjson-dev libcsv-dev libcurl4-openssl-dev libcmocka-dev libcrypt-dev libmicrohttpd-dev
wrk curl hyperfine procps iproute2 util-linux python3 python3-yaml openssl time
chromium
lmod bash-completion man-db groff-base
"

log() { echo "install-deps: $*" >&2; }

missing=
for pkg in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $pkg"
done
missing=${missing# }
total=$(echo "$packages" | wc -w)

if [ -z "$missing" ]; then
    echo "install-deps: all $total packages already installed, nothing to do"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "must run as root to install: $missing"; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt_opts="-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

no_candidate() {
    local pkg
    for pkg in $missing; do
        case $(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}') in
            '' | '(none)') return 0 ;;
        esac
    done
    return 1
}

updated=no
if no_candidate; then
    log "refreshing package lists"
    # shellcheck disable=SC2086
    apt-get $apt_opts update >&2
    updated=yes
    if no_candidate; then
        log "no installation candidate for some of: $missing"
        exit 1
    fi
fi

# Package postinsts start the system daemons on their standard ports; a
# policy-rc.d answering 101 tells invoke-rc.d not to. Any existing policy is
# put back afterwards.
policy=/usr/sbin/policy-rc.d
policy_backup=
if [ -e "$policy" ]; then
    policy_backup=$(mktemp)
    cp -p "$policy" "$policy_backup"
fi
restore_policy() {
    if [ -n "$policy_backup" ]; then mv -f "$policy_backup" "$policy"; else rm -f "$policy"; fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

# Safety net in case a daemon got started anyway. Only the system instances,
# found through the pid files of Debian's init scripts: private instances
# (scripts/slurm-cluster.sh, test prometheus) are left alone.
system_pidfiles="
/run/munge/munged.pid
/run/slurmctld.pid
/run/slurmd.pid
/run/prometheus/prometheus.pid
/run/prometheus/prometheus-node-exporter.pid
"
running_system_pids() {
    local f pid
    for f in $system_pidfiles; do
        [ -r "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        case $pid in '' | *[!0-9]*) continue ;; esac
        if kill -0 "$pid" 2>/dev/null; then echo "$pid:$f"; fi
    done
}
before=$(running_system_pids)

log "installing:$([ "$updated" = yes ] && echo ' (after apt-get update)') $missing"
# shellcheck disable=SC2086
apt-get $apt_opts install --no-install-recommends $missing >&2

stopped=
for entry in $(running_system_pids); do
    if printf '%s\n' "$before" | grep -qxF -- "$entry"; then continue; fi
    pid=${entry%%:*}
    log "stopping system daemon started by apt: pid $pid (${entry#*:})"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    stopped="$stopped $pid"
done

echo "install-deps: installed $(echo "$missing" | wc -w) of $total packages ($missing); apt-get update: $updated; system daemons stopped:${stopped:- none}"
