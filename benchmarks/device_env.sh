# Sourced by the accelerator-machine scripts (device_check.sh, device_runs.sh), from the repository root: the
# copy there has torch, transformers and sentence-transformers but not always the rest, and no git history.
# Optional, beside the repository: .whl/ (wheels of the missing packages, installed into /tmp/site) and
# .devcache/ (encodings and bases copied into .cache/, so no encoder model is needed for them);
# NEGGEN_COMMIT names the commit the copy was made from (git_commit() reads it where git cannot answer).
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
# A file there may be gzipped (NAME.npy.gz): the working tree and what it carries travel within 64 MiB, and
# Sports' text encodings (28 MB) beside the repository's ~38 MiB do not fit as they are (26 MB gzipped).
if [ -d .devcache ]; then
    mkdir -p .cache && cp -r .devcache/. .cache/ && find .cache -name '*.npy.gz' -exec gunzip -f {} + || exit 1
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/machine.txt"
