#!/bin/bash
# The GPU check (DEVELOPERS.md), as one command for a fresh accelerator machine whose image has torch,
# transformers and sentence-transformers but not the notebook stack: every chapter in smoke mode with
# device=cuda (benchmarks/run_notebooks.py; executed copies in /tmp/notebooks-out), the models' CUDA test,
# then seconds per epoch and per evaluation on the GPU against the same machine's CPU
# (benchmarks/bench_device.py). Everything else lands in OUT.
#   bash benchmarks/device_check.sh OUT [NOTEBOOK_SECONDS] [BENCH_SECONDS]
# Optional, beside the repository: .whl/ (wheels of the missing packages, installed into /tmp/site) and
# .devcache/ (encodings and bases copied into .cache/, so no encoder model is needed for them).
set -u
OUT=${1:?usage: device_check.sh OUT [NOTEBOOK_SECONDS] [BENCH_SECONDS]}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
[ -d .devcache ] && mkdir -p .cache && cp -r .devcache/. .cache/
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/machine.txt"
timeout "${2:-200}" python3 benchmarks/run_notebooks.py --out /tmp/notebooks-out --jobs 4 -p mode smoke -p device cuda \
    -p threads 4 2>&1 | grep -v WARNING | tee "$OUT/notebooks.log"
cp /tmp/notebooks-out/notebooks.json "$OUT/" 2>/dev/null  # the chapters that finished in time
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_mm_baselines.py -k "device" --tb=short 2>&1 | tail -60 | tee "$OUT/pytest.log"
timeout "${3:-270}" python3 benchmarks/bench_device.py --epochs 3 --cpu-epochs 3 --out "$OUT/bench_device.json" 2>&1 \
    | grep -v "^\w*/baby epoch" | tee "$OUT/bench.log"
