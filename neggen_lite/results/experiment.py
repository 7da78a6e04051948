"""The controlled experiment's table (issue: do generated negatives help?): per objective that can rank
real items and per arm (:mod:`neggen_lite.experiments.neggen_arms`), the runs' test metric and three paired
comparisons over test users.

* **vs LightGCN**: against the same-seed pre-trained LightGCN (the record's ``significance``, computed at
  training time): the mean relative change over seeds and in how many seeds ``p < 0.05`` and in which
  direction.
* **vs rule**: against the rule-based arm of the same objective, and **vs FREEDOM (T)**: against FREEDOM
  on text features with uniform negatives. Both pool the seeds the two sides share: each user's metric is
  averaged over those seeds on each side, then one paired t-test over users
  (:func:`neggen_lite.core.metrics.paired_ttest`). Needs the runs' ``.per_user.npz`` files.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.metrics import load_per_user, paired_ttest
from ..core.paths import RESULTS_DIR, per_user_path
from ..experiments.neggen_arms import ARMS, OBJECTIVES
from ..neggen.causal import NegGenConfig
from .quantities import fmt_p, fmt_pct
from .records import load_results, model_kwargs, table_row

#: the settings every experiment run keeps at NegGen's defaults (the Fig. 7 sweeps change one of them)
FIXED = {k: getattr(NegGenConfig(), k) for k in ("lam", "alpha", "tau", "beta")}
#: ``vs ...`` columns are relative changes as fractions (``0.012`` is +1.2 %)
COLUMNS = ["objective", "arm", "seeds", "ours", "ours std", "lightgcn", "vs lightgcn", "p<0.05 vs lightgcn",
           "vs rule", "p vs rule", "freedom (T)", "vs freedom (T)", "p vs freedom (T)", "model-written share"]


def arm_of(rec: dict) -> tuple[str, str] | None:
    """``(objective, arm)`` of a NegGen record that belongs to the experiment, else ``None`` (sweeps, changed
    settings, the ``printed`` objective, variants other than *full* and *w/o NEG*)."""
    if str(rec.get("model")).lower() != "neggen" or rec.get("sweep"):
        return None
    kw = model_kwargs(rec)
    objective = kw.get("objective", "printed")
    if objective not in OBJECTIVES:
        return None
    if any(not math.isclose(float(kw.get(k, v)), v, rel_tol=1e-9, abs_tol=1e-12) for k, v in FIXED.items()):
        return None
    key = (kw.get("generator", "auto"), rec.get("variant") or "full")
    arm = next((name for name, spec in ARMS.items() if spec == key), None)
    return (objective, arm) if arm else None


def _model_share(rec: dict) -> float:
    """Items with text whose negative the language model wrote and the validator passed; ``model_fallback``
    (the pipeline's rule-based stand-in after failed retries), ``rule`` and ``model_refusal`` are not."""
    neg = rec.get("negatives") or {}
    total = sum(neg.get(k, 0) for k in ("model_ok", "model_fallback", "rule", "model_refusal"))
    return neg.get("model_ok", 0) / total if total else float("nan")


def _pooled(ours: list[dict], theirs: list[dict], metric: str) -> tuple[float, float, int]:
    """Relative change (a fraction) and two-sided p of a paired t-test over users, each side's per-user ``metric``
    averaged over the seeds both have; ``(nan, nan, 0)`` without common seeds or per-user files."""
    mine = {r["seed"]: r for r in ours}
    other = {r["seed"]: r for r in theirs}
    seeds = sorted(s for s in set(mine) & set(other)
                   if per_user_path(mine[s]["_path"]).exists() and per_user_path(other[s]["_path"]).exists())
    if not seeds:
        return float("nan"), float("nan"), 0
    sides = []
    for runs in (mine, other):
        loaded = [load_per_user(per_user_path(runs[s]["_path"])) for s in seeds]
        values = np.mean([np.asarray(x["per_user"][metric], dtype=np.float64) for x in loaded], axis=0)
        sides.append({"users": loaded[0]["users"], "per_user": {metric: values}})
    test = paired_ttest(*sides)[metric]
    base = float(sides[1]["per_user"][metric].mean())
    return test["mean_diff"] / base, test["p"], len(seeds)


def experiment_table(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                     results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """One row per (objective, arm) with runs on ``dataset``: seeds, mean and std of the test ``metric``,
    the same-seed LightGCN mean, the comparisons of the module docstring, and the share of the arm's
    negatives written by the language model (NaN for arms without generated negatives)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    groups: dict[tuple[str, str], list[dict]] = {}
    freedom = []
    for r in recs:
        if r["dataset"] != dataset:
            continue
        key = arm_of(r)
        if key:
            groups.setdefault(key, []).append(r)
        elif table_row(r) == "freedom (T)":  # not Fig. 2's runs with another text-term weight
            freedom.append(r)
    rows = []
    for objective in OBJECTIVES:
        for arm in ARMS:
            runs = sorted(groups.get((objective, arm), []), key=lambda r: r["seed"])
            if not runs:
                continue
            ours = np.array([r["test"][metric] for r in runs])
            base = np.array([(r.get("base") or {}).get("test", {}).get(metric, np.nan) for r in runs])
            sig = [((r.get("significance") or {}).get("test") or {}).get(metric) for r in runs]
            up = sum(1 for s in sig if s and s["p"] < 0.05 and s["mean_diff"] > 0)
            down = sum(1 for s in sig if s and s["p"] < 0.05 and s["mean_diff"] < 0)
            rule_pct, rule_p, _ = (_pooled(runs, groups.get((objective, "rule"), []), metric) if arm != "rule"
                                   else (float("nan"), float("nan"), 0))
            fr_pct, fr_p, fr_n = _pooled(runs, freedom, metric)
            fr_runs = [r for r in freedom if r["seed"] in {x["seed"] for x in runs}]
            shares = [_model_share(r) for r in runs if r.get("negatives")]
            rows.append({
                "objective": objective, "arm": arm, "seeds": [int(r["seed"]) for r in runs],
                "ours": float(ours.mean()), "ours std": float(ours.std(ddof=1)) if len(ours) > 1 else float("nan"),
                "lightgcn": float(np.nanmean(base)),
                "vs lightgcn": float(np.nanmean((ours - base) / base)),
                "p<0.05 vs lightgcn": f"{up} up, {down} down of {len(runs)}",
                "vs rule": rule_pct, "p vs rule": rule_p,
                "freedom (T)": float(np.mean([r["test"][metric] for r in fr_runs])) if fr_runs else float("nan"),
                "vs freedom (T)": fr_pct, "p vs freedom (T)": fr_p,
                "model-written share": float(np.mean(shares)) if shares else float("nan")})
    return pd.DataFrame(rows, columns=COLUMNS)


def experiment_markdown(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                        results_dir: str | Path = RESULTS_DIR) -> str:
    """:func:`experiment_table` as a Markdown table (relative changes and p-values as the chapters write them)."""
    df = experiment_table(dataset, records, metric, results_dir)
    if df.empty:
        return f"No controlled-experiment runs on {dataset} yet (`python -m neggen_lite plan --dataset {dataset}`)."

    lines = [f"| objective | arm | seeds | test {metric} | vs same-seed LightGCN (seeds p<0.05) | vs rule arm "
             f"| vs FREEDOM (T) | model-written |", "|---|---|---|---|---|---|---|---|"]
    for d in df.to_dict("records"):
        ours = f"{d['ours']:.4f}" + (f" ± {d['ours std']:.4f}" if d["ours std"] == d["ours std"] else "")
        share = "–" if d["model-written share"] != d["model-written share"] else f"{100 * d['model-written share']:.1f} %"
        lines.append(f"| {d['objective']} | {d['arm']} | {len(d['seeds'])} | {ours} "
                     f"| {fmt_pct(d['vs lightgcn'])} ({d['p<0.05 vs lightgcn']}) "
                     + ("| (the reference) " if d["arm"] == "rule" else f"| {fmt_pct(d['vs rule'])} ({fmt_p(d['p vs rule'])}) ")
                     + f"| {fmt_pct(d['vs freedom (T)'])} ({fmt_p(d['p vs freedom (T)'])}) | {share} |")
    return "\n".join(lines)
