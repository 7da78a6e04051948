"""Negative generation as a command does it (Sec. 3.2 / Sec. 2.1): build the generator, run the resumable
pipeline into its cache, write the cache's manifest; and the quality report of a finished cache."""
from __future__ import annotations

import json
from pathlib import Path

from ..core import data
from ..core.attributes import item_attributes
from ..core.paths import DESCRIBE, MASKERS, generation_cache_path, manifest_path, quality_path, sampler_audit_path
from ..core.runtime import atomic_write_json, git_commit, resolve_device, set_threads
from ..core.safety import SettingsError, check_settings, check_writable, locked
from ..generation import pipeline
from ..generation.offline_models import build_generator
from ..generation.prompts import prompts_hash
from ..generation.validation import is_refusal
from ..neggen.train import generation_cache, quality_report, sampler_report


def generate(dataset: str, generator: str, device="auto", out: str | Path | None = None, limit: int | None = None,
             retries: int = 2, batch_size: int = 8, seed: int = 0, direct: bool = False, threads: int | None = None,
             dtype: str = "auto", shard: tuple[int, int] | None = None, progress: bool = True,
             data_root=None, describe: str = "model", mask: str = "model", runtime: str = "transformers",
             llama_server: str | None = None) -> tuple[dict, Path]:
    """Run the pipeline (``direct``: the Direct Generation prompt; ``describe``/``mask``: see
    :func:`~neggen_lite.generation.pipeline.run`) for ``dataset`` with ``generator`` on
    ``device`` into ``out`` (default :func:`~neggen_lite.core.paths.generation_cache_path`); writes the
    manifest beside the cache and returns ``(summary, cache path)``. ``runtime``: transformers or llama.cpp
    (``llama_server``: its executable; see :func:`~neggen_lite.generation.offline_models.build_generator`)."""
    check_settings(limit=limit, retries=retries, batch_size=batch_size, threads=threads)  # before loading a model
    if out:
        check_writable(out, "--out")
    if describe not in DESCRIBE or mask not in MASKERS:
        raise SettingsError(f"--describe {describe!r} / --mask {mask!r}: choose from {DESCRIBE} / {MASKERS}")
    if mask == "rule" and (describe != "text" or direct):
        raise SettingsError("--mask rule: goes with --describe text (and not --direct)")
    set_threads(threads)
    ds = data.load(dataset, data_root)
    kw = {} if dtype == "auto" else {"dtype": dtype}
    gen = build_generator(generator, device=resolve_device(device), batch_size=batch_size, threads=threads,
                          runtime=runtime, llama_server=llama_server, **kw)
    path = Path(out) if out else generation_cache_path(ds.name, gen.name, direct, describe=describe, mask=mask)
    try:
        summary = pipeline.run(ds, gen, path, limit=limit, retries=retries, batch_size=batch_size, seed=seed,
                               direct=direct, progress=progress, shard=shard, describe=describe, mask=mask)
    finally:
        if hasattr(gen, "close"):  # a llama-server started for this run
            gen.close()
    manifest = {"dataset": ds.name, "generator": gen.name,
                "package_version": getattr(gen, "package_version", None), "prompts_hash": prompts_hash(),
                "pipeline": pipeline.pipeline_name(direct, describe, mask), "describe": None if direct else describe,
                "mask": None if direct else mask, "runtime": runtime,
                "items": summary["items"], "valid_rate": summary["valid_rate"],
                "fallback_rate": summary["fallback_rate"], "seconds": summary["generation_seconds"],
                "steps": summary["steps"], "invalid_reasons": summary["invalid_reasons"],
                "retries": retries, "seed": seed, "batch_size": batch_size,
                "dtype": str(getattr(gen, "dtype", None)).removeprefix("torch."), "threads": threads,
                "commit": git_commit(), "cache": path.name}
    with locked(path, "generation cache"):
        atomic_write_json(manifest_path(path), manifest)
    return summary, path


def quality(dataset: str, generator: str, encoder: str, data_root=None) -> tuple[dict, Path]:
    """:func:`~neggen_lite.neggen.train.quality_report` of ``generator``'s cache, written beside it."""
    ds = data.load(dataset, data_root)
    rep = quality_report(ds, generator, encoder)
    out = quality_path(generation_cache(ds.name, generator), rep["generator"])
    atomic_write_json(out, rep)
    return rep, out


def sampler_quality(dataset: str, generator: str, encoder: str, data_root=None, device="auto") -> tuple[dict, Path]:
    """:func:`~neggen_lite.neggen.train.sampler_report` for ``generator``'s negatives, written to
    :func:`~neggen_lite.core.paths.sampler_audit_path`."""
    ds = data.load(dataset, data_root)
    rep = sampler_report(ds, generator, encoder, resolve_device(device))
    rep["commit"] = git_commit()
    out = sampler_audit_path(ds.name, rep["negatives"])
    atomic_write_json(out, rep)
    return rep, out


def header_fields(header: dict | None) -> dict:
    """The keys of :func:`generate`'s manifest that a cache's header holds: its runtime (``package_version``,
    ``dtype``) and ``prompts_hash`` -- what a later ``generate`` checks before resuming the cache."""
    header = header or {}
    out = dict(header.get("runtime") or {})
    if "prompts_hash" in header:
        out["prompts_hash"] = header["prompts_hash"]
    return out


def _keep_writer_settings(manifest: dict, path: Path) -> dict:
    """``manifest`` plus what the manifest already at ``path`` (``generate``'s, or an earlier snapshot's)
    says and the records cannot: the writer's settings (``retries``, ``seed``, ``batch_size``, ``threads``,
    ...) and, where the commit differs, the writer's commit as ``written_at_commit``. Computed keys win."""
    if not path.exists():
        return manifest
    try:
        old = json.loads(path.read_text())
        if not isinstance(old, dict):
            raise ValueError(f"a JSON {type(old).__name__}, not an object")
    except ValueError as exc:
        raise SettingsError(f"{path}: not a readable manifest ({exc}); move it away to write a fresh one") from None
    kept = {k: v for k, v in old.items() if k not in manifest and k != "written_at_commit"}
    writer = old.get("written_at_commit", old.get("commit"))
    if writer and writer != manifest.get("commit"):
        kept["written_at_commit"] = writer
    return {**manifest, **kept}


def snapshot(dataset: str, cache: str | Path, encoder: str, data_root=None) -> tuple[dict, Path]:
    """The manifest of a cache as it stands (a resumable snapshot of shards merged mid-run, or a finished
    cache assembled from shards; ``snapshot`` says which), from its
    records alone, with the keys of :func:`generate`'s manifest: items finished and of all with text, the
    model-written share (``valid_rate``), generation seconds, the
    pipeline and runtime of its header, refusals among the model's negatives, and :func:`quality_report`'s
    hardness (cosine of the negative to its positive, against the rule-based negative of the same items and
    a random item). Written beside the cache (the ``generate`` manifest's place), keeping the writer's
    settings from the manifest it replaces."""
    ds = data.load(dataset, data_root)
    c = pipeline.GenerationCache(cache)
    negs = pipeline.negatives(c, ds)
    steps = sorted({s for _, s in c.final}, key=lambda s: [r["step"] for r in c.records].index(s))
    summary = pipeline.summarize(c, sorted(negs), steps)
    written = [r["negative"] for r in negs.values() if r["status"] == "ok"]
    with_text = sum(a is not None for a in item_attributes(ds))
    rep = quality_report(ds, str(cache), encoder)
    manifest = {"dataset": ds.name, "cache": Path(cache).name, "snapshot": None,
                "header": c.header, "pipeline": (c.header or {}).get("pipeline") or pipeline.pipeline_of_steps(set(steps)),
                "items": summary["items"], "items_with_text": with_text,
                "generator": (c.header or {}).get("generator") or c.records[0]["model"],
                "valid_rate": summary["valid_rate"], "fallback_rate": summary["fallback_rate"],
                "steps": summary["steps"], "invalid_reasons": summary["invalid_reasons"],
                "seconds": summary["generation_seconds"],
                "refusals_share": sum(map(is_refusal, written)) / max(1, len(written)),
                "hardness_model": rep["hardness_model_same_metadata"],
                "hardness_rule_same_items": rep["hardness_rule_same_items"],
                "encoder": encoder, "commit": git_commit()}
    manifest.update(header_fields(c.header))
    manifest["snapshot"] = manifest["items"] < with_text  # a complete cache is no snapshot
    out = manifest_path(cache)
    with locked(cache, "generation cache"):
        manifest = _keep_writer_settings(manifest, out)
        atomic_write_json(out, manifest)
    return manifest, out
