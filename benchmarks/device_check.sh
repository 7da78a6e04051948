#!/bin/bash
# The GPU check (DEVELOPERS.md), as one command for a fresh accelerator machine whose image has torch,
# transformers and sentence-transformers but not the notebook stack: every chapter in smoke mode with
# device=cuda (benchmarks/run_notebooks.py; executed copies in /tmp/notebooks-out), the models' CUDA test,
# then seconds per epoch and per evaluation on the GPU against the same machine's CPU
# (benchmarks/bench_device.py). Everything else lands in OUT.
#   bash benchmarks/device_check.sh OUT [NOTEBOOK_SECONDS] [BENCH_SECONDS]
# Set-up (wheels, cached encodings, the machine's name): benchmarks/device_env.sh.
# Chapters 2, 4 and 5 encode texts; on a machine without the encoder's package they run from carried
# encodings, never loading the encoder (encoding.LazyEncoder): run the chapters here in smoke mode first
# (python benchmarks/run_notebooks.py -p mode smoke) and carry the .cache/encodings/ files they wrote
# (baby-300u-*, baby-mmrec-text-*, the Baby caches' fields) in .devcache/encodings/.
set -u
OUT=${1:?usage: device_check.sh OUT [NOTEBOOK_SECONDS] [BENCH_SECONDS]}
mkdir -p "$OUT"
source benchmarks/device_env.sh
timeout "${2:-200}" python3 benchmarks/run_notebooks.py --out /tmp/notebooks-out --jobs 4 -p mode smoke -p device cuda \
    -p threads 4 2>&1 | grep -v WARNING | tee "$OUT/notebooks.log"
cp /tmp/notebooks-out/notebooks.json "$OUT/" 2>/dev/null  # the chapters that finished in time
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_mm_baselines.py -k "device" --tb=short 2>&1 | tail -60 | tee "$OUT/pytest.log"
timeout "${3:-270}" python3 benchmarks/bench_device.py --epochs 3 --cpu-epochs 3 --out "$OUT/bench_device.json" 2>&1 \
    | grep -v "^\w*/baby epoch" | tee "$OUT/bench.log"
