#!/usr/bin/env bash
# Starts a real single-node SLURM cluster on this machine (Debian 12, no systemd): installs
# slurm-wlm + munge when missing, writes /etc/slurm/slurm.conf for this host, starts munged,
# slurmctld and slurmd by hand and waits until the node is idle. Idempotent: a running,
# healthy cluster is left alone.
#
# Env: SLURM_CPUS (default 8: oversubscribes a small machine with SlurmdParameters=config_overrides
# so that tests are not serialised behind 2 real cores), SLURM_START_TIMEOUT (s, default 60).
set -euo pipefail

CPUS="${SLURM_CPUS:-8}"
TIMEOUT="${SLURM_START_TIMEOUT:-60}"
HOST="$(hostname -s)"
CONF=/etc/slurm/slurm.conf

log() { echo "slurm/start: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (installs packages, starts daemons)"; exit 1
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg run (another test run on a shared machine) instead of failing.
  apt-get -o DPkg::Lock::Timeout=180 update -qq
  apt-get -o DPkg::Lock::Timeout=180 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { timeout 5 sinfo -h -o %T 2>/dev/null | head -n1 || true; }

# Already up and idle/mixed/allocated with a config for this host: nothing to do.
if pid_alive /run/slurm/slurmctld.pid && pid_alive /run/slurm/slurmd.pid \
   && grep -q "^NodeName=${HOST} " "$CONF" 2>/dev/null; then
  case "$(node_state)" in
    idle*|mixed*|alloc*|completing*) log "already running on ${HOST}"; exit 0 ;;
  esac
fi

log "configuring for host ${HOST} (${CPUS} CPUs)"
mkdir -p /etc/slurm /run/slurm /var/spool/slurm/ctld /var/spool/slurm/d /var/log/slurm /run/munge
chown slurm:slurm /run/slurm /var/spool/slurm /var/spool/slurm/ctld /var/spool/slurm/d /var/log/slurm
chown munge:munge /run/munge

MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
REAL_MEM=$(( MEM_MB > 20000 ? 20000 : MEM_MB - 512 ))

tmp="$(mktemp "${CONF}.XXXXXX")"
cat >"$tmp" <<CONFEOF
# Written by lambda-hat scripts/slurm/start.sh for host ${HOST}.
ClusterName=lambdahat
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurm/ctld
SlurmdSpoolDir=/var/spool/slurm/d
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
# Default 3 s batch scheduling cadence makes many small jobs crawl.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
KillWait=5
MinJobAge=300
# Advertise more CPUs than the machine has (config_overrides) so tests run jobs side by side.
SlurmdParameters=config_overrides
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} Sockets=1 CoresPerSocket=${CPUS} ThreadsPerCore=1 RealMemory=${REAL_MEM}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
chmod 644 "$tmp"
mv "$tmp" "$CONF"

# munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"
  mungekey --create >/dev/null 2>&1 || /usr/sbin/create-munge-key -f >/dev/null
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
if ! pid_alive /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || { log "munged is not working"; exit 1; }

# Restart the slurm daemons so they read the config just written.
for d in slurmd slurmctld; do
  if pid_alive "/run/slurm/$d.pid"; then
    kill "$(cat "/run/slurm/$d.pid")" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "/run/slurm/$d.pid" || break; sleep 0.1; done
  fi
done
/usr/sbin/slurmctld
/usr/sbin/slurmd

# They exit 0 even when they die right after (port in use, bad config): check the processes.
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  state="$(node_state)"
  case "$state" in
    idle*) break ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "node not idle after ${TIMEOUT}s (state: '${state}')"
    pid_alive /run/slurm/slurmctld.pid || log "slurmctld is not running: tail /var/log/slurm/slurmctld.log"
    pid_alive /run/slurm/slurmd.pid || log "slurmd is not running: tail /var/log/slurm/slurmd.log"
    tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    exit 1
  fi
  # A node that was DOWN from an earlier run comes back on its own (ReturnToService=2), but
  # nudge it in case it was drained.
  case "$state" in
    down*|drain*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.3
done
log "up: $(sinfo -h -o '%P %D %T %c CPUs')"
