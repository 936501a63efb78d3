#!/usr/bin/env bash
# Start a real N-node SLURM (Debian's slurm-wlm 22.05) on this one machine, beside ci/start-slurm.sh's
# single-node cluster, or reuse the one already running.
#
# Usage:  export XLIB_SLURM_MULTINODE_CONF="$(bash ci/start-slurm-multinode.sh)"   # then SLURM_CONF=... per command
#
# * stdout: exactly one line, the path of this cluster's slurm.conf; progress and errors go to stderr.
# * N nodes ($XLIB_SLURM_NODES, default 3) named n1..nN: one slurmd per node (`slurmd -N nX`, Debian's build has
#   MULTIPLE_SLURMD), each started in its own UTS + mount namespace (`unshare --uts --mount`) with host name nX and
#   a hosts file bind-mounted over /etc/hosts that names n1..nN -> 127.0.0.2..; so a task sees `hostname` = nX and
#   `SLURMD_NODENAME` = nX, and `gethostbyname(gethostname())` works in it. NodeAddr=127.0.0.(X+1), own Port= per
#   node: everything stays on loopback. Root is needed (unshare, mount); without it the script fails with a clear
#   message.
# * Beside the single-node cluster: its own ClusterName (xlibmulti), scratch folder $XLIB_SLURM_MULTI_DIR
#   (default /tmp/xlib-slurm-multi: slurm.conf, state, spool, pid and log files, hosts), SlurmctldPort
#   $XLIB_SLURM_MULTI_CTLD_PORT (default 6917) and node ports from $XLIB_SLURM_MULTI_NODE_PORT (default 6921,
#   6922, ...). Nothing is written to /etc/slurm; the machine's /etc/hosts is untouched (the overlay only exists
#   inside the nodes' mount namespaces).
# * Idempotent: a running cluster of that folder whose N nodes all answer in a usable state is reused.
# * Bounded: waits at most $XLIB_SLURM_WAIT seconds (default 30) for every node to be idle; on failure exits 1
#   and prints the controller's and the nodes' logs.
# * CPUs=2 per node whatever the machine has (SlurmdParameters=config_overrides), MpiDefault=pmi2,
#   ReturnToService=1 (a node set down stays down until `scontrol update nodename=nX state=resume`),
#   SlurmdTimeout=10, batch jobs start at once. Installs the packages like ci/start-slurm.sh when missing.
#   Stop it with ci/stop-slurm-multinode.sh.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
dir="${XLIB_SLURM_MULTI_DIR:-/tmp/xlib-slurm-multi}"
nodes="${XLIB_SLURM_NODES:-3}"
wait_s="${XLIB_SLURM_WAIT:-30}"
ctld_port="${XLIB_SLURM_MULTI_CTLD_PORT:-6917}"
node_port="${XLIB_SLURM_MULTI_NODE_PORT:-6921}"
cpus="${XLIB_SLURM_MULTI_CPUS:-2}"
conf="$dir/slurm.conf"
log() { echo "start-slurm-multinode: $*" >&2; }
die() {
    log "ERROR: $*"
    for f in "$dir/log/slurmctld.log" "$dir"/log/slurmd-n*.log; do
        if [ -f "$f" ]; then echo "----- $f (last 30 lines) -----" >&2; tail -n 30 "$f" >&2; fi
    done
    exit 1
}
case "$nodes" in ''|*[!0-9]*) die "XLIB_SLURM_NODES must be a number of nodes 1..200, got '$nodes'";; esac
[ "$nodes" -ge 1 ] && [ "$nodes" -le 200 ] || die "XLIB_SLURM_NODES must be 1..200, got $nodes"
names() { local i; for i in $(seq 1 "$nodes"); do echo "n$i"; done; }
last="n$nodes"
nodelist="n[1-$nodes]"
[ "$nodes" = 1 ] && nodelist=n1
# "n1 idle" lines of every node that answers.
node_states() { SLURM_CONF="$conf" timeout 5 sinfo --noheader --Node --format='%N %t' 2>/dev/null | sort -u; }
ours_answers() {
    [ "$(SLURM_CONF="$conf" timeout 5 scontrol show config 2>/dev/null \
        | sed -n 's/^StateSaveLocation *= *//p')" = "$dir/state" ]
}
running() { [ -f "$dir/run/$1.pid" ] && [ "$(cat "/proc/$(cat "$dir/run/$1.pid")/comm" 2>/dev/null)" = "$2" ]; }
usable() {  # every node answers in a state that runs jobs (idle, mix, alloc, comp, plnd...)
    local states n
    states="$(node_states || true)"
    [ "$(printf '%s\n' "$states" | grep -c .)" = "$nodes" ] || return 1
    for n in $(names); do
        case "$(printf '%s\n' "$states" | awk -v n="$n" '$1 == n {print $2}' | tr -cd 'a-z')" in
            ""|down|drain|drng|fail|failg|inval|unk|futr|npc|maint|resv) return 1 ;;
        esac
    done
}

# 1. Reuse the cluster of this folder if its daemons run and every node answers (others may be using it).
if [ -f "$conf" ] && command -v sinfo >/dev/null && running slurmctld slurmctld \
    && grep -q "^NodeName=$last " "$conf" && ! grep -q "^NodeName=n$((nodes + 1)) " "$conf"; then
    all=1
    for n in $(names); do running "slurmd-$n" slurmd || all=""; done
    if [ -n "$all" ] && usable && ours_answers; then
        log "reusing the running $nodes-node SLURM of $dir"; echo "$conf"; exit 0
    fi
fi

[ "$(id -u)" = 0 ] || die "a multi-node SLURM on one machine needs root (unshare --uts --mount for the nodes' host names)"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"

# 2. Install the packages when missing (same as ci/start-slurm.sh).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sinfo >/dev/null; then
    command -v apt-get >/dev/null || die "SLURM is not installed and apt-get is missing (Debian/Ubuntu expected)"
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
    fi
    log "installing slurmctld slurmd slurm-client with apt"
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$dir/log"
    apt_ok=1
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client; } \
        > "$dir/log/apt.log" 2>&1 || apt_ok=""
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
    if [ -z "$apt_ok" ]; then tail -n 30 "$dir/log/apt.log" >&2; die "apt-get could not install slurmctld slurmd slurm-client"; fi
fi

# 3. Stop what is left of an old cluster of this folder, write a fresh config, start the daemons.
bash "$here/stop-slurm-multinode.sh" >&2 || true
host="$(hostname -s)"
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
rm -f "$dir"/log/*.log
{
    echo "127.0.0.1 localhost $host"
    for i in $(seq 1 "$nodes"); do echo "127.0.0.$((i + 1)) n$i"; done
} > "$dir/hosts"
{
    cat <<EOF
# Written by ci/start-slurm-multinode.sh: a $nodes-node test cluster on one machine, all files under $dir.
ClusterName=xlibmulti
# Job ids start from the clock, not from 1: MPICH names its /dev/shm segments after the PMI key-value space,
# "<job>.<step>", and a rank killed by a signal leaves its segment behind; a fresh cluster reusing old job ids
# would meet such a segment and fail MPI_Init ("Message truncated").
FirstJobId=$(( $(date +%s) % 50000000 + 1000 ))
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=pmi2
ReturnToService=1
SlurmdTimeout=10
SchedulerParameters=batch_sched_delay=0
EOF
    for i in $(seq 1 "$nodes"); do
        echo "NodeName=n$i NodeHostname=n$i NodeAddr=127.0.0.$((i + 1)) Port=$((node_port + i - 1)) CPUs=$cpus State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=$nodelist Default=YES MaxTime=INFINITE State=UP"
} > "$conf"
export SLURM_CONF="$conf"
log "starting slurmctld and $nodes slurmd (config $conf)"
slurmctld -c >&2 || die "slurmctld did not start"
for n in $(names); do
    mkdir -p "$dir/spool/$n"
    # The node's own host name and hosts file exist only in its namespaces; slurmd daemonizes inside them.
    unshare --uts --mount --propagation slave sh -c \
        "hostname $n && mount --bind '$dir/hosts' /etc/hosts && exec slurmd -N $n" >&2 \
        || die "slurmd -N $n did not start"
done

started=$SECONDS
deadline=$((SECONDS + wait_s))
states=""
while [ "$SECONDS" -lt "$deadline" ]; do
    if ! running slurmctld slurmctld && [ "$SECONDS" -ge $((started + 5)) ]; then die "slurmctld exited or never wrote its pid file"; fi
    for n in $(names); do
        if [ -f "$dir/run/slurmd-$n.pid" ] && ! running "slurmd-$n" slurmd; then die "slurmd -N $n exited"; fi
    done
    states="$(node_states || true)"
    if [ "$(printf '%s\n' "$states" | awk '$2 == "idle"' | wc -l)" = "$nodes" ]; then
        ours_answers || die "another SLURM answers on port $ctld_port (set XLIB_SLURM_MULTI_CTLD_PORT/XLIB_SLURM_MULTI_NODE_PORT)"
        log "SLURM is up: $nodes nodes idle ($nodelist)"; echo "$conf"; exit 0
    fi
    printf '%s\n' "$states" | awk '$2 ~ /^(down|drain|drng|inval)/ {print $1}' | while read -r n; do
        scontrol update nodename="$n" state=resume >/dev/null 2>&1 || true
    done
    sleep 0.2
done
die "the nodes did not all become idle within ${wait_s}s (last sinfo: '$(echo ${states:-no answer})')"
