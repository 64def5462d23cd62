#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the tests (tests/test_slurm.py) and
# for trying the SLURM profile without a cluster. Needs root and Debian's packages.
#
#   tools/slurm-cluster.sh start    install slurm-wlm + munge if missing, write the config,
#                                   start munged, slurmctld, slurmd; wait until the node is idle
#   tools/slurm-cluster.sh stop     stop the three daemons
#   tools/slurm-cluster.sh status   sinfo
#
# No accounting database: sacct does not exist here, so the profile reads job states with
# squeue (status_command), and MinJobAge keeps finished jobs visible to it.
set -euo pipefail
cmd=${1:-start}
conf=/etc/slurm/slurm.conf
log=/var/log/slurm

fail() { echo "slurm-cluster: $*" >&2; exit 2; }

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  [ "$(id -u)" = 0 ] || fail "slurm-wlm and munge are not installed and this is not root: cannot install them"
  command -v apt-get >/dev/null || fail "slurm-wlm and munge are not installed and there is no apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q slurm-wlm munge >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q slurm-wlm munge >/dev/null; }
}

write_config() {
  local host node
  host=$(hostname -s)
  # the node exactly as slurmd sees it (CPUs, sockets, memory), minus 1 GB for the system
  node=$(slurmd -C | head -1 | sed -E "s/^NodeName=[^ ]+/NodeName=$host/")
  local mem
  mem=$(sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' <<<"$node")
  node=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((mem - 1024))/" <<<"$node")
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd "$log"
  cat > "$conf" <<CONF
# written by tools/slurm-cluster.sh: a one-node test cluster
ClusterName=dabfusion
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=86400
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log/slurmctld.log
SlurmdLogFile=$log/slurmd.log
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  [ "$(id -u)" = 0 ] || fail "starting the daemons needs root"
  install
  if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
    chown -R munge:munge /etc/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
    if id munge >/dev/null 2>&1; then su -s /bin/sh munge -c munged || munged --force; else munged --force; fi
  fi
  pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null && { wait_idle; return 0; }
  write_config
  pgrep -x slurmctld >/dev/null || slurmctld -i
  pgrep -x slurmd >/dev/null || slurmd
  wait_idle
}

wait_idle() {
  for _ in $(seq 60); do
    state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
    case "$state" in
      idle|mix|alloc) echo "slurm-cluster: up ($(sinfo -h -o '%N %c CPUs %m MB %t' | head -1))"; return 0 ;;
      down*|drain*) scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  fail "the node did not become idle in 60 s; see $log/slurmctld.log and $log/slurmd.log"
}

stop() {
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) fail "usage: $0 start|stop|status" ;;
esac
