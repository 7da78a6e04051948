"""Negative generation as a command does it (Sec. 3.2 / Sec. 2.1): build the generator, run the resumable
pipeline into its cache, write the cache's manifest; and the quality report of a finished cache."""
from __future__ import annotations

from pathlib import Path

from ..core import data
from ..core.paths import generation_cache_path, manifest_path, quality_path
from ..core.runtime import atomic_write_json, git_commit, resolve_device, set_threads
from ..generation import pipeline
from ..generation.offline_models import build_generator
from ..generation.prompts import prompts_hash
from ..neggen.train import generation_cache, quality_report


def generate(dataset: str, generator: str, device="auto", out: str | Path | None = None, limit: int | None = None,
             retries: int = 2, batch_size: int = 8, seed: int = 0, direct: bool = False, threads: int | None = None,
             dtype: str = "auto", shard: tuple[int, int] | None = None, progress: bool = True,
             data_root=None, describe: str = "model", mask: str = "model") -> tuple[dict, Path]:
    """Run the pipeline (``direct``: the Direct Generation prompt; ``describe``/``mask``: see
    :func:`~neggen_lite.generation.pipeline.run`) for ``dataset`` with ``generator`` on
    ``device`` into ``out`` (default :func:`~neggen_lite.core.paths.generation_cache_path`); writes the
    manifest beside the cache and returns ``(summary, cache path)``."""
    set_threads(threads)
    ds = data.load(dataset, data_root)
    kw = {} if dtype == "auto" else {"dtype": dtype}
    gen = build_generator(generator, device=resolve_device(device), batch_size=batch_size, threads=threads, **kw)
    path = Path(out) if out else generation_cache_path(ds.name, gen.name, direct, describe=describe, mask=mask)
    summary = pipeline.run(ds, gen, path, limit=limit, retries=retries, batch_size=batch_size, seed=seed,
                           direct=direct, progress=progress, shard=shard, describe=describe, mask=mask)
    manifest = {"dataset": ds.name, "generator": gen.name,
                "package_version": getattr(gen, "package_version", None), "prompts_hash": prompts_hash(),
                "pipeline": "direct_generation" if direct else
                ("rule masking>completion" if mask == "rule" else "masking>completion") if describe == "text"
                else "description>masking>completion", "describe": None if direct else describe,
                "mask": None if direct else mask, "runtime": "transformers",
                "items": summary["items"], "valid_rate": summary["valid_rate"],
                "fallback_rate": summary["fallback_rate"], "seconds": summary["generation_seconds"],
                "steps": summary["steps"], "invalid_reasons": summary["invalid_reasons"],
                "retries": retries, "seed": seed, "batch_size": batch_size,
                "dtype": str(getattr(gen, "dtype", None)).removeprefix("torch."), "threads": threads,
                "commit": git_commit(), "cache": path.name}
    atomic_write_json(manifest_path(path), manifest)
    return summary, path


def quality(dataset: str, generator: str, encoder: str, data_root=None) -> tuple[dict, Path]:
    """:func:`~neggen_lite.neggen.train.quality_report` of ``generator``'s cache, written beside it."""
    ds = data.load(dataset, data_root)
    rep = quality_report(ds, generator, encoder)
    out = quality_path(generation_cache(ds.name, generator), rep["generator"])
    atomic_write_json(out, rep)
    return rep, out
