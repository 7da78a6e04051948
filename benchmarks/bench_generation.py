"""Which bulk path writes valid, *different* negatives fastest (paper Sec. 3.2, issue: a bulk path)?

Every configuration runs the real pipeline (:func:`neggen_lite.generation.pipeline.run`, retries and fallbacks
included) on the same first ``--items`` items with text, into a fresh cache in a temporary folder, and
reports:

* seconds per item (wall, this process's threads) and generated tokens/s;
* ``model_written``: the share of items whose every step was accepted from the model (no fallback), and
  per step the share accepted at the first try;
* ``cos_to_positive``: mean cosine (MiniLM) between each model-written negative and its positive, both
  in the same metadata (``original_text`` / ``negative_text``), beside the cosine to a random other item;
  with ``describe=model`` also the description's cosine to the item's attributes.

A configuration is ``GENERATOR[@RUNTIME]:DESCRIBE:BATCH`` (e.g. ``qwen2.5-coder-1.5b:text:16``); DESCRIBE is
``model`` (three steps), ``text`` (mask and complete the title), ``text-rule`` (rule masks, model completes)
or ``direct`` (Sec. 2.1's Direct Generation prompt, one step);
RUNTIME is ``transformers`` (default) or ``llama.cpp`` (llama-server on the same GGUF, BATCH parallel sequences,
``--llama-server`` or ``$NEGGEN_LLAMA_SERVER``; ``--llama-build-seconds`` records how long its build took).
Ratios are printed against the first configuration of the same run. Results are merged into
``benchmarks/results/bench_generation.json`` (a configuration run again replaces its entry).

    .venv/bin/python benchmarks/bench_generation.py --items 32 --threads 2 --dtype bfloat16 \\
        --configs qwen2.5-coder-1.5b:text:16 qwen2.5-coder-1.5b:text-rule:16 qwen2.5-coder-1.5b:text-rule:32 \\
                  qwen2.5-coder-0.5b:text-rule:16 qwen2.5-coder-1.5b:model:16
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from neggen_lite.core import attributes, data
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import atomic_write_json, git_commit, set_threads
from neggen_lite.generation import encoding, pipeline
from neggen_lite.generation.offline_models import build_generator

RESULTS = benchmark_path("bench_generation")


class CountingGenerator:
    """Wraps a generator and adds up the tokens it reports (``last_stats``) over all calls."""

    def __init__(self, gen):
        self.gen, self.name, self.new_tokens = gen, gen.name, 0

    def generate(self, conversations, **kw):
        out = self.gen.generate(conversations, **kw)
        self.new_tokens += (getattr(self.gen, "last_stats", None) or {}).get("new_tokens", 0)
        return out


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def run_config(ds, spec: str, items: list[int], args, enc, loaded: dict) -> dict:
    model, how, batch = spec.split(":")
    name, _, runtime = model.partition("@")
    runtime = runtime or "transformers"
    direct = how == "direct"  # Sec. 2.1's one prompt instead of the three steps
    describe, _, mask = ("model", "", "") if direct else how.partition("-")  # "text-rule": describe=text, mask=rule
    key = (name, runtime, batch if runtime == "llama.cpp" else None)  # a server's parallel sequences are fixed
    if key not in loaded:
        close_all(loaded)  # one model in memory at a time
        t0 = time.perf_counter()
        kw = {} if args.dtype == "auto" or runtime != "transformers" else {"dtype": args.dtype}
        loaded[key] = (build_generator(name, batch_size=int(batch), threads=args.threads, runtime=runtime,
                                       llama_server=args.llama_server, **kw),
                       time.perf_counter() - t0)
    gen, load_s = loaded[key]
    gen.batch_size = int(batch)
    counting = CountingGenerator(gen)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "bench.jsonl.gz"
        t0 = time.perf_counter()
        summary = pipeline.run(ds, counting, cache, items=items, retries=args.retries, batch_size=int(batch),
                               direct=direct, describe=describe, mask=mask or "model", progress=False)
        seconds = time.perf_counter() - t0
        negs = pipeline.negatives(cache, ds, direct=direct, describe=describe)
    written = [i for i, r in negs.items() if r["status"] == "ok"]
    out = {"generator": gen.name, "runtime": runtime, "direct": direct,
           "describe": None if direct else describe, "mask": None if direct else mask or "model",
           "batch_size": int(batch), "load_seconds": load_s,
           "seconds_per_item": seconds / len(items), "tokens_per_s": counting.new_tokens / seconds,
           "model_written": summary["valid_rate"],
           "first_try": {s: v["first_try"] for s, v in summary["steps"].items()},
           "invalid_reasons": summary["invalid_reasons"]}
    if len(written) >= 2:
        pos = unit(encoding.encode([negs[i]["original_text"] for i in written], enc))
        neg = unit(encoding.encode([negs[i]["negative_text"] for i in written], enc))
        perm = np.roll(np.arange(len(pos)), 1)
        out["cos_to_positive"] = {"negative": float((pos * neg).sum(1).mean()),
                                  "random_item": float((pos * pos[perm]).sum(1).mean())}
        if describe == "model" and not direct:
            attr = unit(encoding.encode([negs[i]["original"] for i in written], enc))
            out["cos_to_positive"]["description"] = float((attr * pos).sum(1).mean())
    out["examples"] = [{k: negs[i].get(k) for k in ("description", "masked", "negative")} for i in written[:3]]
    return out


def merged(path, head: dict, runs: dict) -> dict:
    """``head`` with the earlier runs of ``path`` on the same dataset and items kept beside ``runs`` (each run
    carries its own threads, dtype, load average, commit and date; an earlier file's are copied into its runs)."""
    old = {}
    try:
        prev = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        prev = None
    if prev and (prev.get("dataset"), prev.get("items")) == (head["dataset"], head["items"]):
        ctx = {k: prev.get(k) for k in ("threads", "dtype", "retries", "torch", "python", "load_average",
                                        "commit", "date")}
        old = {spec: {**ctx, **r} for spec, r in prev.get("runs", {}).items()}
    return {**head, "runs": {**old, **runs}}


def close_all(loaded: dict) -> None:
    """Free the loaded generators (a llama-server process is stopped)."""
    for gen, _ in loaded.values():
        if hasattr(gen, "close"):
            gen.close()
    loaded.clear()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="baby")
    p.add_argument("--items", type=int, default=32)
    p.add_argument("--configs", nargs="+", default=["smollm2:text:8", "smollm2:model:8"],
                   help="GENERATOR:DESCRIBE:BATCH, DESCRIBE in model|text|text-rule")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--llama-server", default=None, help="llama-server executable for @llama.cpp configurations")
    p.add_argument("--llama-build-seconds", type=float, default=None,
                   help="recorded with the llama.cpp runs: how long building llama-server took")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    args.threads = set_threads(args.threads)
    ds = data.load(args.dataset)
    items = [i for i, a in enumerate(attributes.item_attributes(ds)) if a is not None][: args.items]
    enc = encoding.load_encoder()
    loaded: dict = {}
    try:
        runs = [run_config(ds, spec, items, args, enc, loaded) for spec in args.configs]
    finally:
        close_all(loaded)
    for spec, r in zip(args.configs, runs):
        if r["runtime"] == "llama.cpp":
            r["llama_build_seconds"] = args.llama_build_seconds
            r["threads"] = args.threads

    print(f"{args.dataset}, {len(items)} items, {args.threads} thread(s), dtype {args.dtype}, retries {args.retries}, "
          f"load average {os.getloadavg()[0]:.2f}")
    ref = runs[0]["seconds_per_item"]
    for spec, r in zip(args.configs, runs):
        cos = r.get("cos_to_positive", {})
        print(f"{spec:32s} {r['seconds_per_item']:6.2f} s/item (x{ref / r['seconds_per_item']:4.2f}) "
              f"{r['tokens_per_s']:6.1f} tok/s  model-written {r['model_written']:4.0%}  "
              f"cos neg {cos.get('negative', float('nan')):.3f} random {cos.get('random_item', float('nan')):.3f}")
    context = {"threads": args.threads, "dtype": args.dtype, "retries": args.retries, "torch": torch.__version__,
               "python": platform.python_version(), "load_average": list(os.getloadavg()), "commit": git_commit(),
               "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(args.out, merged(args.out, {"benchmark": "bench_generation", "dataset": args.dataset,
                                                  "items": len(items), **context},
                                       {spec: {**context, **r} for spec, r in zip(args.configs, runs)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
