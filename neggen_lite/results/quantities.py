"""Quantities that more than one chapter reports, each computed once, under one descriptive name.

A chapter that cites, say, NegGen's gain over LightGCN on Baby takes the value from here and records it
under the name given here (``neggen_vs_lightgcn_baby_test_recall20_same_seed_bases``), so that two pages
can never show two numbers for one quantity: :func:`record_conflicts` (used by the test suite on the
executed chapters) finds any name recorded with two different values. Where two comparisons differ in
kind, they get two names, and the name says which kind it is:

* ``..._same_seed_bases``: the mean, over NegGen's seeds, of each run's relative change against the
  pre-trained LightGCN of *the same seed* that it was trained on (the like-for-like comparison);
* ``..._seed_means``: NegGen's mean over its seeds against LightGCN's mean over *its* seeds (the Table 2
  view: two independent sets of runs, possibly of different sizes).

A mean over seeds carries the number of seeds in its name (``freedom_t_baby_test_recall20_mean3``).
The module also holds the few formatting rules the chapters share (:func:`fmt_p`, :func:`fmt_pct`).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

import numpy as np

from ..core.metrics import METRICS
from ..core.paper import PAPER_TABLE2
from ..core.paths import cache_stem, manifest_path
from .notebook import record
from .records import table_row

__all__ = ["slug", "metric_slug", "mean_name", "seed_means", "neggen_vs_lightgcn", "neggen_vs_lightgcn_quantities",
           "generation_speed", "record_quantities", "record_conflicts", "same_value", "fmt_p", "fmt_pct"]


def slug(text: str) -> str:
    """``"freedom (T)"`` -> ``"freedom_t"``: lower case, runs of other characters as one ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")


def metric_slug(metric: str) -> str:
    """``"recall@20"`` -> ``"recall20"``."""
    return metric.replace("@", "")


def mean_name(row: str, dataset: str, metric: str = "recall@20", n: int = 1) -> str:
    """The record name of a Table 2 row's test ``metric`` averaged over ``n`` seeds, e.g.
    ``lightgcn_baby_test_recall20_mean3``."""
    return f"{slug(row)}_{dataset}_test_{metric_slug(metric)}_mean{int(n)}"


def _main_runs(records: Iterable[dict], dataset: str, row: str) -> list[dict]:
    return sorted((r for r in records if r["dataset"] == dataset and table_row(r) == row), key=lambda r: r["seed"])


def seed_means(records: Iterable[dict], datasets: Iterable[str] | None = None,
               metrics: Iterable[str] = ("recall@20", "ndcg@20")) -> dict[str, float]:
    """``{mean_name(row, dataset, metric, n): mean}`` for every Table 2 row (:func:`table_row`) with runs:
    the test metric averaged over the ``n`` seeds found."""
    records = list(records)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        row = table_row(r)
        if row is not None and (datasets is None or r["dataset"] in datasets):
            groups.setdefault((r["dataset"], row), []).append(r)
    out = {}
    for (d, row), runs in sorted(groups.items()):
        for m in metrics:
            out[mean_name(row, d, m, len(runs))] = float(np.mean([r["test"][m] for r in runs]))
    return out


def neggen_vs_lightgcn(records: Iterable[dict], dataset: str, metric: str = "recall@20") -> dict[str, Any]:
    """NegGen (full variant, default settings) against LightGCN on ``dataset``, two ways (module docstring):

    ``same_seed_bases``: mean over NegGen's seeds of ``neggen / its same-seed pre-trained base - 1``;
    ``seed_means``: ``mean(NegGen) / mean(LightGCN uniform) - 1`` over each one's own seeds;
    ``paper``: the paper's Table 2 ratio minus 1; ``neggen_seeds``, ``lightgcn_seeds``: the seeds used.
    A comparison without runs is NaN."""
    records = list(records)
    ng = _main_runs(records, dataset, "neggen")
    lg = _main_runs(records, dataset, "lightgcn")
    with_base = [r for r in ng if (r.get("base") or {}).get("test", {}).get(metric)]
    same = (float(np.mean([r["test"][metric] / r["base"]["test"][metric] - 1 for r in with_base]))
            if with_base else float("nan"))
    means = (float(np.mean([r["test"][metric] for r in ng]) / np.mean([r["test"][metric] for r in lg]) - 1)
             if ng and lg else float("nan"))
    pos = METRICS.index(metric)  # PAPER_TABLE2's columns are in METRICS' order
    p_ng, p_lg = PAPER_TABLE2.get(("neggen", dataset)), PAPER_TABLE2.get(("lightgcn", dataset))
    return {"same_seed_bases": same, "seed_means": means,
            "paper": p_ng[pos] / p_lg[pos] - 1 if p_ng and p_lg else float("nan"),
            "neggen_seeds": [int(r["seed"]) for r in with_base], "lightgcn_seeds": [int(r["seed"]) for r in lg],
            "neggen_mean_seeds": [int(r["seed"]) for r in ng]}


def neggen_vs_lightgcn_quantities(records: Iterable[dict], dataset: str, metric: str = "recall@20") -> dict[str, Any]:
    """:func:`neggen_vs_lightgcn` under its record names (``neggen_vs_lightgcn_<dataset>_test_<metric>_...``),
    each comparison with its seed set."""
    c = neggen_vs_lightgcn(records, dataset, metric)
    stem = f"neggen_vs_lightgcn_{dataset}_test_{metric_slug(metric)}"
    return {f"{stem}_same_seed_bases": c["same_seed_bases"], f"{stem}_same_seed_bases_seeds": c["neggen_seeds"],
            f"{stem}_seed_means": c["seed_means"], f"{stem}_seed_means_neggen_seeds": c["neggen_mean_seeds"],
            f"{stem}_seed_means_lightgcn_seeds": c["lightgcn_seeds"], f"{stem}_paper": c["paper"]}


def manifest_hardness(manifest: dict) -> dict[str, float | None]:
    """A generation manifest's hardness: the mean cosine (its encoder) to the item's original text of the
    ``model``'s negative, of the ``rule``-based negative of the same items and of a ``random`` item; ``None``
    for each the manifest does not record."""
    model, rule = manifest.get("hardness_model") or {}, manifest.get("hardness_rule_same_items") or {}
    return {"model": model.get("cos_original_generated"), "rule": rule.get("cos_original_generated"),
            "random": model.get("cos_original_random_item")}


def generation_speed(cache) -> dict[str, Any] | None:
    """What the manifest of a generation ``cache`` says about its cost: ``generator``, ``items``,
    ``seconds`` and ``seconds_per_item`` (wall-clock of the run that wrote the cache, over its items), its
    ``hardness`` (cosines to the positive: ``model``, ``rule``, ``random``; ``None`` where the manifest has none),
    under the names ``generation_<cache stem>_{items,seconds_per_item}``; ``None`` without a manifest."""
    if cache is None or not manifest_path(cache).exists():
        return None
    man = json.loads(manifest_path(cache).read_text())
    stem = f"generation_{slug(man.get('dataset', ''))}_{slug(cache_stem(cache))}"
    per_item = float(man["seconds"]) / max(1, int(man["items"]))
    return {"generator": man.get("generator"), "items": int(man["items"]), "valid_rate": man.get("valid_rate"),
            "seconds_per_item": per_item, "hardness": manifest_hardness(man),
            "names": {"items": f"{stem}_items", "seconds_per_item": f"{stem}_seconds_per_item"}}


def record_quantities(values: dict[str, Any]) -> None:
    """Record every ``name: value`` (myst-nb ``glue``, not displayed); a chapter's bookkeeping cell calls this once."""
    for name, value in values.items():
        record(name, value)


def same_value(a: Any, b: Any, rel: float = 1e-9) -> bool:
    """Whether two recorded values are the same: numbers up to ``rel`` (NaN equals NaN), lists and dicts
    element by element, anything else by ``==``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k], rel) for k in a)
    return a == b


def record_conflicts(chapters: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Names recorded by two or more chapters with different values.

    ``chapters``: ``{chapter: {name: value}}`` (e.g. :func:`neggen_lite.results.notebook.read_records` of
    each executed notebook). Returns ``[{"name": ..., "values": {chapter: value}}]``, empty when every
    shared name has one value."""
    by_name: dict[str, dict[str, Any]] = {}
    for chapter, recs in chapters.items():
        for name, value in recs.items():
            by_name.setdefault(name, {})[chapter] = value
    out = []
    for name, values in sorted(by_name.items()):
        vals = list(values.values())
        if len(vals) > 1 and not all(same_value(vals[0], v) for v in vals[1:]):
            out.append({"name": name, "values": values})
    return out


def fmt_p(p: float, floor: float = 1e-20) -> str:
    """A p-value for the page: ``"p = 0.0484"`` (3 significant digits), ``"p = 1.35e-05"``, ``"p < 1e-20"``
    below ``floor``; ``"p n/a"`` when it is missing (NaN, ``None``)."""
    if p is None or p != p:
        return "p n/a"
    if p < floor:
        return f"p < {floor:.0e}".replace("e-0", "e-")
    return f"p = {p:.3g}"


def fmt_pct(x: float, digits: int = 1) -> str:
    """A relative change as ``"+0.2 %"`` / ``"-15.9 %"``; ``"n/a"`` for NaN."""
    if x is None or x != x:
        return "n/a"
    return f"{x * 100:+.{digits}f} %"


def n_seeds(n: int, what: str = "") -> str:
    """``"1 seed"``, ``"3 seeds"``; ``what`` goes between: ``n_seeds(1, "NegGen") == "1 NegGen seed"``."""
    n = int(n)
    return f"{n} {what + ' ' if what else ''}seed{'' if n == 1 else 's'}"


def fmt_pct_p(pct: float, p: float) -> str:
    """A relative change with its p-value, ``"+0.9 % (p = 0.147)"``; ``"–"`` where there is no change (NaN)."""
    return "–" if pct != pct else f"{fmt_pct(pct)} ({fmt_p(p)})"
