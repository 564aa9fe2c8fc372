#!/usr/bin/env bash
# Start a single-node Slurm on localhost for the cluster test: a fresh Debian 12 machine, as root, no
# systemd. Installs munge and Slurm if missing, writes a minimal slurm.conf, starts munged, slurmctld and
# slurmd by hand, and records their PIDs in $SLURM_TEST_STATE (default /tmp/amygdala-slurm) so that
# stop_slurm.sh stops only those. Exits non-zero if Slurm does not come up.
set -euo pipefail
state=${SLURM_TEST_STATE:-/tmp/amygdala-slurm}
mkdir -p "$state"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq munge slurmctld slurmd slurm-client >/dev/null
fi

# munge: a key, its runtime folder, and the daemon running as the munge user
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null 2>&1
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$state/munged.pid"
fi

cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=amygdala-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MinJobAge=300
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

setsid slurmctld </dev/null >/dev/null 2>&1
setsid slurmd -N localhost </dev/null >/dev/null 2>&1
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm is up: $(sinfo -h -o '%P %D %T %c CPUs')"
    exit 0
  fi
  sleep 0.2
done
echo "slurm did not come up; see /var/log/slurm/" >&2
exit 1
