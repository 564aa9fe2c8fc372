#!/usr/bin/env bash
# Stop the daemons that start_slurm.sh started (and only those).
state=${SLURM_TEST_STATE:-/tmp/amygdala-slurm}
for name in slurmd slurmctld munged; do
  if [ -s "$state/$name.pid" ]; then
    kill "$(cat "$state/$name.pid")" 2>/dev/null || true
    rm -f "$state/$name.pid"
  fi
done
