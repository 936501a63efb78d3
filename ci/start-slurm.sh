#!/usr/bin/env bash
# Start a real single-node SLURM (Debian's slurm-wlm 22.05) for the tests, or reuse the one already running.
#
# Usage:  export SLURM_CONF="$(bash ci/start-slurm.sh)"
#
# * stdout: exactly one line, the path of the slurm.conf to put in SLURM_CONF; progress and errors go to stderr.
# * Everything (slurm.conf, state, spool, pid and log files) lives under one scratch folder, $XLIB_SLURM_DIR
#   (default /tmp/xlib-slurm); nothing is written to /etc/slurm.
# * Idempotent: if the cluster of that folder already answers `sinfo`, it is reused (exit 0, nothing restarted).
# * Installs slurmctld/slurmd/slurm-client with apt when missing (needs root; a policy-rc.d stops the packages'
#   scripts from starting daemons of their own), then starts slurmctld and slurmd itself.
# * Bounded: waits at most $XLIB_SLURM_WAIT seconds (default 30) for the node to be idle; on failure exits 1
#   and prints both daemons' logs.
# * Ports: $XLIB_SLURM_CTLD_PORT (default 6817) and $XLIB_SLURM_SLURMD_PORT (default 6818), so that a second
#   cluster (another XLIB_SLURM_DIR) can run beside the first.
# * Authentication is auth/none + cred/none: no munged to run. Node: CPUs=4 whatever the machine has
#   (SlurmdParameters=config_overrides), MpiDefault=pmi2, batch jobs start at once (batch_sched_delay=0),
#   one default partition `debug`. Stop it with ci/stop-slurm.sh.
set -euo pipefail

dir="${XLIB_SLURM_DIR:-/tmp/xlib-slurm}"
wait_s="${XLIB_SLURM_WAIT:-30}"
ctld_port="${XLIB_SLURM_CTLD_PORT:-6817}"
slurmd_port="${XLIB_SLURM_SLURMD_PORT:-6818}"
conf="$dir/slurm.conf"
log() { echo "start-slurm: $*" >&2; }
die() {
    log "ERROR: $*"
    for f in "$dir/log/slurmctld.log" "$dir/log/slurmd.log"; do
        if [ -f "$f" ]; then echo "----- $f (last 40 lines) -----" >&2; tail -n 40 "$f" >&2; fi
    done
    exit 1
}
node_state() { SLURM_CONF="$conf" timeout 5 sinfo --noheader --Node --format=%t 2>/dev/null | head -n1 | tr -cd 'a-z'; }

# The controller that answers is this folder's (not another cluster on the same port).
ours_answers() {
    [ "$(SLURM_CONF="$conf" timeout 5 scontrol show config 2>/dev/null \
        | sed -n 's/^StateSaveLocation *= *//p')" = "$dir/state" ]
}
running() { [ -f "$dir/run/$1.pid" ] && [ "$(cat "/proc/$(cat "$dir/run/$1.pid")/comm" 2>/dev/null)" = "$1" ]; }

# 1. Reuse the cluster of this folder if its daemons run and it answers.
if [ -f "$conf" ] && command -v sinfo >/dev/null && running slurmctld && running slurmd; then
    state="$(node_state || true)"
    case "$state" in
        ""|down|drain|drng|fail|failg|inval|unk|futr|npc|maint|resv) ;;  # no answer or a node that cannot run jobs
        *)  # idle, mix, alloc, comp, plnd (a job planned by backfill)...: others may be using it, keep it
            if ours_answers; then log "reusing the running SLURM of $dir (node $state)"; echo "$conf"; exit 0; fi ;;
    esac
fi

# 2. Install the packages when missing.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sinfo >/dev/null; then
    [ "$(id -u)" = 0 ] || die "SLURM is not installed and installing it needs root: apt-get install slurmctld slurmd slurm-client"
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

# 3. A cluster that does not answer: stop what is left of it, write a fresh config, start the daemons.
bash "$(dirname "$0")/stop-slurm.sh" >&2 || true
host="$(hostname -s)"
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
rm -f "$dir/log/slurmctld.log" "$dir/log/slurmd.log"
cat > "$conf" <<EOF
# Written by ci/start-slurm.sh: a single-node test cluster, all files under $dir.
ClusterName=xlib
# Job ids start from the clock, not from 1: MPICH names its /dev/shm segments after the PMI key-value space,
# "<job>.<step>", and a rank killed by a signal leaves its segment behind; a fresh cluster reusing old job ids
# would meet such a segment and fail MPI_Init ("Message truncated").
FirstJobId=$(( $(date +%s) % 50000000 + 1000 ))
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=pmi2
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"
log "starting slurmctld and slurmd (config $conf)"
slurmctld -c >&2 || die "slurmctld did not start"
slurmd >&2 || die "slurmd did not start"

# Our daemons, not another cluster answering on the same ports: a pid file naming a dead process, or no pid file
# 5 s after the start, is a failed start.
daemon_gone() {
    if [ -f "$dir/run/$1.pid" ]; then ! running "$1"; else [ "$SECONDS" -ge "$2" ]; fi
}
started=$SECONDS
deadline=$((SECONDS + wait_s))
state=""
while [ "$SECONDS" -lt "$deadline" ]; do
    for daemon in slurmctld slurmd; do
        if daemon_gone "$daemon" $((started + 5)); then die "$daemon exited or never wrote $dir/run/$daemon.pid"; fi
    done
    state="$(node_state || true)"
    case "$state" in
        idle)
            ours_answers || die "another SLURM answers on port $ctld_port (set XLIB_SLURM_CTLD_PORT/XLIB_SLURM_SLURMD_PORT)"
            log "SLURM is up: node $host idle"; echo "$conf"; exit 0 ;;
        down|drain|drng|inval) SLURM_CONF="$conf" scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
done
die "the node did not become idle within ${wait_s}s (last sinfo state: '${state:-no answer}')"
