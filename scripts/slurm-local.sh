#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, and the sweep test against it.
#
#   bash scripts/slurm-local.sh          # install, start, test, stop the daemons it started
#   bash scripts/slurm-local.sh --keep   # leave the cluster running (then: export SLURM_CONF=...)
#
# Installs Debian's slurm-wlm and munge if missing (needs root or sudo), starts munged,
# slurmctld and slurmd as a one-node cluster on localhost with its own slurm.conf under
# $PRUNELAB_SLURM_DIR (default /var/tmp/prunelab-slurm; /etc/slurm is not touched), then:
#   1. runs configs/sweeps/tiny.json (6 tiny runs) locally with --jobs 2;
#   2. submits the same sweep with --backend slurm --max-parallel 1, cancels the array
#      (scancel) once a point is done, re-submits: only the unfinished points are array tasks;
#   3. waits, checks `prunelab sweep status` says every point is done, and that aggregate.csv
#      equals the local one (timing rows aside).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

state=${PRUNELAB_SLURM_DIR:-/var/tmp/prunelab-slurm}
host=$(hostname -s)
$SUDO mkdir -p "$state/ctld" "$state/d"
export SLURM_CONF="$state/slurm.conf"
$SUDO tee "$SLURM_CONF" >/dev/null <<EOF
# Written by PruneLab's scripts/slurm-local.sh: a one-node cluster on $host.
ClusterName=prunelab
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

started=()
stop() {
  [ "$keep" -eq 1 ] && { echo "cluster left running; export SLURM_CONF=$SLURM_CONF" >&2; return; }
  for pidfile in "${started[@]}"; do
    [ -f "$pidfile" ] && $SUDO kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}
trap stop EXIT

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  $SUDO mkdir -p /run/munge && $SUDO chown munge:munge /run/munge
  $SUDO runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/prunelab-munged.pid
  started+=(/run/munge/prunelab-munged.pid)
fi
if ! scontrol ping 2>/dev/null | grep -q UP; then
  $SUDO /usr/sbin/slurmctld -f "$SLURM_CONF"
  started+=("$state/slurmctld.pid")
fi
if ! pgrep -F "$state/slurmd.pid" >/dev/null 2>&1; then
  $SUDO /usr/sbin/slurmd -f "$SLURM_CONF"
  started+=("$state/slurmd.pid")
fi
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  sleep 1
done
sinfo -h -o "%P %T %C" | sed 's/^/sinfo: /' >&2
sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || { echo "the node did not come up; see $state/slurmd.log" >&2; exit 1; }

swift build -q
bin="$(swift build --show-bin-path)/prunelab"
work=$(mktemp -d /var/tmp/prunelab-slurm-test.XXXXXX)
sweep=configs/sweeps/tiny.json

"$bin" sweep "$sweep" --out "$work/local" --jobs 2 >/dev/null

wait_for() {  # job id: until squeue no longer lists it (at most 5 minutes)
  for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  echo "job $1 still queued after 5 minutes" >&2
  return 1
}
job_of() { sed -n 's/^submitted job \([0-9]*\).*/\1/p'; }

job=$("$bin" sweep "$sweep" --out "$work/slurm" --backend slurm --max-parallel 1 | job_of)
echo "submitted array job $job" >&2
for _ in $(seq 600); do
  "$bin" sweep status "$work/slurm" | grep -q $'^done\t' && break
  sleep 0.5
done
scancel "$job"
wait_for "$job"
first=$("$bin" sweep status "$work/slurm" | tail -1)
echo "after scancel: $first" >&2
again=$("$bin" sweep "$sweep" --out "$work/slurm" --backend slurm --max-parallel 2)
echo "$again" >&2
tasks=$(echo "$again" | sed -n 's/.*(\([0-9]*\) array tasks).*/\1/p')
[ -n "$tasks" ] && [ "$tasks" -lt 6 ] || { echo "the re-submission did not skip the completed points" >&2; exit 1; }
wait_for "$(echo "$again" | job_of)"
status=$("$bin" sweep status "$work/slurm")
echo "$status" | tail -1 >&2
echo "$status" | tail -1 | grep -q '^done 6, short 0, diverged 0, running 0, failed 0, missing 0$' || {
  echo "$status" >&2
  tail -n 5 "$work"/slurm/logs/*.log >&2
  exit 1
}
"$bin" aggregate "$work/slurm" >/dev/null
timing='[a-z_]*seconds|[a-z_]*infer_ms_b[0-9]+|checkpoints'  # every timing column (wall, train, eval, analysis, tensorboard, checkpoint seconds; inference ms)
if diff <(grep -vE ",($timing)," "$work/local/aggregate.csv") <(grep -vE ",($timing)," "$work/slurm/aggregate.csv") >&2; then
  echo "slurm-local: OK: the SLURM array's aggregate equals the local --jobs 2 one"
  rm -rf "$work"
else
  echo "slurm-local: FAIL: aggregates differ ($work)" >&2
  exit 1
fi
