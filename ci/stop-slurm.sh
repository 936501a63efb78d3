#!/usr/bin/env bash
# Stop the single-node SLURM started by ci/start-slurm.sh (same $XLIB_SLURM_DIR, default /tmp/xlib-slurm).
#
# Cancels its jobs, stops slurmd and slurmctld by the pids in their pid files (SIGTERM, then SIGKILL after 15 s),
# and leaves the folder in place (logs stay readable); `--purge` also removes the folder. Exit 0 when nothing runs.
set -uo pipefail

dir="${XLIB_SLURM_DIR:-/tmp/xlib-slurm}"
log() { echo "stop-slurm: $*" >&2; }
alive() { [ -f "$dir/run/$1.pid" ] && [ "$(cat "/proc/$(cat "$dir/run/$1.pid")/comm" 2>/dev/null)" = "$1" ]; }
if [ -f "$dir/slurm.conf" ] && alive slurmctld && command -v scancel >/dev/null; then
    SLURM_CONF="$dir/slurm.conf" timeout 5 scancel --user="$(id -un)" >/dev/null 2>&1 || true
fi
for daemon in slurmd slurmctld; do
    pidfile="$dir/run/$daemon.pid"
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    # Only a process that is this daemon (not a recycled pid) is signalled.
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ]; then
        log "stopping $daemon (pid $pid)"
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
        if [ -d "/proc/$pid" ]; then log "$daemon (pid $pid) ignored SIGTERM for 15 s: SIGKILL"; kill -KILL "$pid"; fi
    fi
    rm -f "$pidfile"
done
if [ "${1:-}" = "--purge" ]; then rm -rf "$dir"; log "removed $dir"; fi
exit 0
