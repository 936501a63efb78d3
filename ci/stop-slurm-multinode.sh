#!/usr/bin/env bash
# Stop the multi-node SLURM started by ci/start-slurm-multinode.sh (same $XLIB_SLURM_MULTI_DIR, default
# /tmp/xlib-slurm-multi); the single-node cluster of ci/start-slurm.sh is not touched.
#
# Cancels its jobs, stops every slurmd and slurmctld by the pids in their pid files (SIGTERM, then SIGKILL after
# 15 s), and leaves the folder in place (logs stay readable); `--purge` also removes the folder. Exit 0 when
# nothing runs.
set -uo pipefail

dir="${XLIB_SLURM_MULTI_DIR:-/tmp/xlib-slurm-multi}"
log() { echo "stop-slurm-multinode: $*" >&2; }
alive() { [ -f "$1" ] && [ "$(cat "/proc/$(cat "$1")/comm" 2>/dev/null)" = "$2" ]; }
if [ -f "$dir/slurm.conf" ] && alive "$dir/run/slurmctld.pid" slurmctld && command -v scancel >/dev/null; then
    SLURM_CONF="$dir/slurm.conf" timeout 5 scancel --user="$(id -un)" >/dev/null 2>&1 || true
fi
stop() {  # pid file, daemon name
    local pid
    [ -f "$1" ] || return 0
    pid="$(cat "$1")"
    # Only a process that is this daemon (not a recycled pid) is signalled.
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
        log "stopping $2 (pid $pid, $(basename "$1" .pid))"
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
        if [ -d "/proc/$pid" ]; then log "$2 (pid $pid) ignored SIGTERM for 15 s: SIGKILL"; kill -KILL "$pid"; fi
    fi
    rm -f "$1"
}
for pidfile in "$dir"/run/slurmd-*.pid; do [ -e "$pidfile" ] && stop "$pidfile" slurmd; done
stop "$dir/run/slurmctld.pid" slurmctld
if [ "${1:-}" = "--purge" ]; then rm -rf "$dir"; log "removed $dir"; fi
exit 0
