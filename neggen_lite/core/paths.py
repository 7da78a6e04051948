"""The one naming rule for every file the project writes or reads back: run records, their per-user
metrics and checkpoints, generation caches and manifests, encodings, pre-trained bases.

Every module builds these paths here; nothing else joins ``results/`` or ``.cache/`` by hand.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = PACKAGE_ROOT.parent
DATA_DIR = REPO_ROOT / "data"
RESULTS_DIR = REPO_ROOT / "results"
GENERATIONS_DIR = RESULTS_DIR / "generations"
CACHE_DIR = REPO_ROOT / ".cache"
BASE_CACHE = CACHE_DIR / "base"
ENCODING_CACHE = Path(os.environ.get("NEGGEN_ENCODING_CACHE", CACHE_DIR / "encodings"))
CACHE_SUFFIX = ".jsonl.gz"


def safe_name(name: str) -> str:
    """``name`` with every character other than letters, digits and ``-_.`` replaced by ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def variant_slug(variant: str | None) -> str | None:
    """A variant as a file-name part: ``"w/o NEG"`` -> ``"wo-NEG"``, ``"V&T"`` -> ``"VT"``."""
    return variant.replace("w/o ", "wo-").replace("&", "").replace(" ", "-") if variant else variant


def results_root(mode: str, results_dir: str | Path | None = None) -> Path:
    """``results/`` for full runs, ``results/smoke/`` for smoke runs (under ``results_dir`` when given)."""
    root = Path(results_dir) if results_dir is not None else RESULTS_DIR
    return root / "smoke" if mode == "smoke" else root


def result_path(dataset: str, model: str, sampler: str, seed: int, mode: str, variant: str | None = None,
                results_dir: str | Path | None = None) -> Path:
    """``results/[smoke/]<dataset>/<model>-<sampler>[-<variant>]-seed<N>.json``."""
    stem = "-".join(x for x in (model, sampler, variant_slug(variant), f"seed{seed}") if x)
    return results_root(mode, results_dir) / dataset / f"{stem}.json"


def sweep_path(dataset: str, param: str, value: float, seed: int, mode: str,
               results_dir: str | Path | None = None, tag: str | None = None) -> Path:
    """A Fig. 7 sweep run: ``results/[smoke/]<dataset>/sweeps/neggen-[<tag>-]<param><value>-seed<N>.json``;
    ``tag`` names the settings the sweep holds at other values than the defaults (``objective_repaired``)."""
    stem = f"neggen-{tag}-" if tag else "neggen-"
    return results_root(mode, results_dir) / dataset / "sweeps" / f"{stem}{param}{value:g}-seed{seed}.json"


def checkpoint_path(result: str | Path) -> Path:
    """A run's checkpoint beside its result: ``<stem>.ckpt``."""
    return Path(result).with_suffix(".ckpt")


def per_user_path(result: str | Path) -> Path:
    """Where the per-user test metrics of a result JSON live: ``<stem>.per_user.npz`` beside it."""
    p = Path(result)
    return p.with_name(p.name[:-5] + ".per_user.npz" if p.name.endswith(".json") else p.name + ".per_user.npz")


#: how the text to mask is made (``model``: the description step; ``text``: the item's own title) and who
#: masks it (``model``: the masking prompt; ``rule``: the rarest words), see :mod:`neggen_lite.generation.pipeline`
DESCRIBE = ("model", "text")
MASKERS = ("model", "rule")


def generation_cache_path(dataset: str, generator_name: str, direct: bool = False,
                          results_dir: str | Path | None = None, describe: str = "model",
                          mask: str = "model") -> Path:
    """``results/generations/<dataset>/<generator>[.direct|.text|.text-rulemask].jsonl.gz`` (``.text``:
    ``describe="text"``, ``rulemask``: ``mask="rule"``; ``GENERATIONS_DIR`` read at call time;
    ``results_dir``: another results folder)."""
    if describe not in DESCRIBE:
        raise ValueError(f"describe {describe!r}: choose one of {', '.join(DESCRIBE)}")
    if mask not in MASKERS:
        raise ValueError(f"mask {mask!r}: choose one of {', '.join(MASKERS)}")
    parts = ["direct"] if direct else (["text"] if describe == "text" else []) + (["rulemask"] if mask == "rule" else [])
    root = Path(results_dir) / "generations" if results_dir is not None else GENERATIONS_DIR
    return root / dataset / f"{safe_name(generator_name)}{'.' + '-'.join(parts) if parts else ''}{CACHE_SUFFIX}"


def repo_relative(path: str | Path) -> str:
    """``path`` relative to the repository root when it lies inside it (as records should name files, the same
    on every checkout: ``results/generations/baby/...``), else as given."""
    p = Path(path)
    try:
        return p.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def cache_stem(cache: str | Path) -> str:
    """A generation cache's name without ``.jsonl.gz`` (``qwen2.5-coder-1.5b``, ``<model>.direct``)."""
    return Path(cache).name.replace(CACHE_SUFFIX, "")


#: the name parts :func:`generation_cache_path` puts between a generator's name and ``.jsonl.gz``
CACHE_VARIANTS = ("direct", "text", "rulemask", "text-rulemask")


def cache_generator(cache: str | Path) -> str:
    """The generator that wrote a cache, from the cache's path or stem (``<model>.text-rulemask`` -> ``<model>``;
    generator names may hold dots themselves: ``qwen2.5-coder-1.5b``)."""
    stem = cache_stem(cache)
    head, dot, tail = stem.rpartition(".")
    return head if dot and tail in CACHE_VARIANTS else stem


def manifest_path(cache: str | Path) -> Path:
    """A generation cache's manifest: ``<cache stem>.manifest.json`` beside it."""
    return Path(cache).with_name(cache_stem(cache) + ".manifest.json")


def quality_path(cache: str | Path, generator_name: str) -> Path:
    """The quality report of a generation cache: ``<generator>.quality.json`` beside it."""
    return Path(cache).with_name(f"{generator_name}.quality.json")


def sampler_audit_path(dataset: str, negatives_name: str, results_dir: str | Path | None = None) -> Path:
    """The audit of the ``sampler`` objective's negatives built from one set of generated negatives
    (``negatives_name``: a cache stem, or ``rule``): ``results/generations/<dataset>/<name>.sampler.quality.json``."""
    root = Path(results_dir) / "generations" if results_dir is not None else GENERATIONS_DIR
    return root / dataset / f"{safe_name(negatives_name)}.sampler.quality.json"


def encoding_path(key: str, encoder_name: str, texts_hash: str, cache_dir: str | Path | None = None) -> Path:
    """An encoded array: ``.cache/encodings/<key>-<encoder>-<texts hash>.npy``."""
    return Path(cache_dir or ENCODING_CACHE) / f"{safe_name(key)}-{safe_name(encoder_name)}-{texts_hash}.npy"


def benchmark_path(name: str) -> Path:
    """A benchmark's numbers: ``benchmarks/results/<name>.json``."""
    return REPO_ROOT / "benchmarks" / "results" / f"{name}.json"


def base_path(dataset: str, config_key: str) -> Path:
    """NegGen's pre-trained LightGCN base: ``.cache/base/<dataset>-lightgcn-<config key>.pt``."""
    return BASE_CACHE / f"{dataset}-lightgcn-{config_key}.pt"
