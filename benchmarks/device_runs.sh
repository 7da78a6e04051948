#!/bin/bash
# A full training run on a lent accelerator machine, for the runs a 2-core CPU session cannot hold (DiffMM on
# Sports: ~5 min per epoch on one CPU thread, a checkpoint of ~190 MB that cannot be committed between
# sessions). One `python -m neggen_lite train` on --device cuda (DEVICE overrides) under a time limit; the
# record and its per-user file, written under results/ by the usual naming rule, are copied to
# OUT/results/ for landing (copy them into the repository's results/). A run cut by the limit leaves its
# checkpoint under results/ (git-ignored, so it stays on a machine that is still warm): the same command
# resumes it. Exit status: the trainer's (124: the limit, resumable).
#   bash benchmarks/device_runs.sh OUT SECONDS TRAIN_ARGS...
#   e.g. NEGGEN_COMMIT=<sha> bash benchmarks/device_runs.sh "$OUT" 540 --dataset sports --model diffmm --modalities t --seed 2025
# Set-up (wheels, cached encodings, the machine's name): benchmarks/device_env.sh; the run needs the
# dataset's text encodings in .devcache/encodings/ (gzipped where the tree would pass 64 MiB, as Sports') where the
# machine has no offline encoder.
set -u
OUT=${1:?usage: device_runs.sh OUT SECONDS TRAIN_ARGS...}
SECONDS_LIMIT=${2:?usage: device_runs.sh OUT SECONDS TRAIN_ARGS...}
shift 2
mkdir -p "$OUT"
source benchmarks/device_env.sh
stamp=$(mktemp)
timeout "$SECONDS_LIMIT" python3 -m neggen_lite train "$@" --device "${DEVICE:-cuda}" --quiet 2>&1 | tee "$OUT/train.log"
rc=${PIPESTATUS[0]}
find results \( -name '*.json' -o -name '*.per_user.npz' \) -newer "$stamp" -exec cp --parents {} "$OUT/" \;
rm -f "$stamp"
echo "device_runs: exit $rc; landed: $(cd "$OUT" && find results -type f 2>/dev/null | tr '\n' ' ')" | tee -a "$OUT/train.log"
exit "$rc"
