"""Throughput and quality of the negative-generation pipeline (paper Sec. 3.2) on this machine.

For one generator (default: the embedded SmolLM2) and the first items of a dataset that have text:

* items/s of each step (description generation, attribute masking, attribute completion) at batch
  sizes 1, 8 and 32 (greedy, one attempt, no retries: the raw speed of the model on these prompts),
  and the tokens/s the generator reports;
* the share of outputs that pass each step's validation at the first attempt;
* the encoder's sentences/s (all-MiniLM-L6-v2 by default);
* how hard the negatives are: mean cosine similarity of original vs generated attributes, against
  original vs a random other item (``neggen_lite.generation.encoding.hardness``).

Ratios are printed against batch size 1 of the same run. Results go to
``benchmarks/results/bench_generation.json``.

    .venv/bin/python benchmarks/bench_generation.py --dataset baby --items 32 --batch-sizes 1 8 32
    .venv/bin/python benchmarks/bench_generation.py --generator qwen2.5-coder-1.5b --items 16
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from neggen_lite.core import attributes
from neggen_lite.core import data
from neggen_lite.generation import encoding
from neggen_lite.generation import prompts
from neggen_lite.generation.offline_models import build_generator
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import atomic_write_json, git_commit, set_threads
from neggen_lite.generation.validation import check_completion, check_description, check_masked, clean_output, rule_mask, Vocabulary

RESULTS = benchmark_path("bench_generation")


def run_steps(gen, texts: list[str], batch_size: int, vocab: Vocabulary) -> dict:
    """The three steps over ``texts`` at ``batch_size``; a failed step's input to the next is the
    rule-based fallback so every step sees the same number of items."""
    out = {}
    src = texts
    plan = [(prompts.DESCRIPTION_GENERATION, lambda o, s: check_description(o, s)),
            (prompts.ATTRIBUTE_MASKING, lambda o, s: check_masked(o, s)),
            (prompts.ATTRIBUTE_COMPLETION, None)]
    desc = None
    for prompt, check in plan:
        t0 = time.perf_counter()
        outs, tokens = [], 0
        for b in range(0, len(src), batch_size):
            chunk = src[b:b + batch_size]
            outs += gen.generate([prompt.render(x) for x in chunk], max_new_tokens=prompt.max_new_tokens, seed=0)
            tokens += (getattr(gen, "last_stats", None) or {}).get("new_tokens", 0)
        dt = time.perf_counter() - t0
        if prompt is prompts.ATTRIBUTE_COMPLETION:
            checks = [check_completion(o, s, d) for o, s, d in zip(outs, src, desc)]
        else:
            checks = [check(o, s) for o, s in zip(outs, src)]
        out[prompt.name] = {"items_per_s": len(src) / dt, "tokens_per_s": tokens / dt if tokens else None,
                            "seconds": dt, "valid_first_try": float(np.mean([c.ok for c in checks]))}
        nxt = [c.text if c.ok else None for c in checks]
        if prompt is prompts.DESCRIPTION_GENERATION:
            desc = [n or s for n, s in zip(nxt, src)]
            src = desc
        elif prompt is prompts.ATTRIBUTE_MASKING:
            src = [n or rule_mask(d, vocab) for n, d in zip(nxt, desc)]
            masked_final = src
        else:
            final = [c.text if c.ok else None for c in checks]
    return {"steps": out, "descriptions": desc, "masked": masked_final, "completed": final}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="baby")
    p.add_argument("--generator", default="smollm2")
    p.add_argument("--items", type=int, default=32)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--encoder", default=encoding.DEFAULT_ENCODER)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    threads = set_threads(args.threads)
    ds = data.load(args.dataset)
    attrs = [a for a in attributes.item_attributes(ds) if a is not None]
    vocab = Vocabulary([a.render() for a in attrs])
    texts = [a.render() for a in attrs[: args.items]]
    t0 = time.perf_counter()
    gen = build_generator(args.generator, batch_size=max(args.batch_sizes), threads=threads)
    load_s = time.perf_counter() - t0
    runs = {}
    for bs in args.batch_sizes:
        runs[bs] = run_steps(gen, texts, bs, vocab)

    enc = encoding.load_encoder(args.encoder)
    sentences = [a.render() for a in attrs[:512]]
    encoding.encode(sentences[:32], enc)  # warm-up
    t1 = time.perf_counter()
    encoding.encode(sentences, enc, batch_size=64)
    enc_rate = len(sentences) / (time.perf_counter() - t1)

    ref = runs[args.batch_sizes[0]]
    ok = [k for k, c in enumerate(ref["completed"]) if c]
    quality = None
    if len(ok) >= 2:
        quality = encoding.hardness({"original": encoding.encode([texts[k] for k in ok], enc),
                                     "description": encoding.encode([ref["descriptions"][k] for k in ok], enc),
                                     "negative": encoding.encode([ref["completed"][k] for k in ok], enc)})

    print(f"{args.dataset}, generator {gen.name}, {len(texts)} items, {threads} thread(s), torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}; load {load_s:.1f}s")
    print(f"{'step':24s} " + " ".join(f"{'bs ' + str(b):>22s}" for b in args.batch_sizes))
    for step in prompts.PIPELINE:
        base = runs[args.batch_sizes[0]]["steps"][step]["items_per_s"]
        cells = []
        for b in args.batch_sizes:
            r = runs[b]["steps"][step]
            cells.append(f"{r['items_per_s']:6.2f} it/s x{r['items_per_s'] / base:4.1f} "
                         f"{r['valid_first_try']:4.0%}")
        print(f"{step:24s} " + " ".join(f"{c:>22s}" for c in cells))
    print("cells: items/s, speed-up against the first batch size, share valid at the first attempt")
    print(f"encoder {args.encoder}: {enc_rate:.0f} sentences/s")
    if quality:
        print("hardness (cosine): " + ", ".join(f"{k} {v:.3f}" for k, v in quality.items()))
    atomic_write_json(args.out, {
        "benchmark": "bench_generation", "dataset": args.dataset, "generator": gen.name, "items": len(texts),
        "threads": threads, "torch": torch.__version__, "python": platform.python_version(),
        "load_average": list(os.getloadavg()), "commit": git_commit(), "load_seconds": load_s,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "batches": {str(b): runs[b]["steps"] for b in args.batch_sizes},
        "encoder": args.encoder, "encoder_sentences_per_s": enc_rate, "hardness": quality,
        "examples": [{"original": texts[k], "description": ref["descriptions"][k], "masked": ref["masked"][k],
                      "completed": ref["completed"][k]} for k in range(min(3, len(texts)))],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
