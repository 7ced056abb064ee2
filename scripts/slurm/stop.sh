#!/usr/bin/env bash
# Stops the single-node SLURM cluster started by start.sh: cancels all jobs first (jobs outlive
# slurmd), then SIGTERMs slurmd, slurmctld and munged by pid. Safe to run when nothing runs.
set -uo pipefail
log() { echo "slurm/stop: $*" >&2; }

if command -v scancel >/dev/null && timeout 5 sinfo >/dev/null 2>&1; then
  scancel --full --user=root >/dev/null 2>&1 || true
  scancel --full >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do
    [ -z "$(timeout 5 squeue -h -t running,pending,completing 2>/dev/null)" ] && break
    sleep 0.2
  done
fi

stop_pid() {
  local name="$1" pidfile="$2"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name ($pid) ignored SIGTERM; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

stop_pid slurmd /run/slurm/slurmd.pid
stop_pid slurmctld /run/slurm/slurmctld.pid
stop_pid munged /run/munge/munged.pid
log "stopped"
