"""The controlled experiment's table (issue: do generated negatives help?): per objective that can rank
real items and per arm (:mod:`neggen_lite.experiments.neggen_arms`), the runs' test metric and three paired
comparisons over test users.

* **vs LightGCN**: against the same-seed pre-trained LightGCN (the record's ``significance``, computed at
  training time): the mean relative change over seeds and in how many seeds ``p < 0.05`` and in which
  direction.
* **vs rule**: against the rule-based arm of the same objective, and **vs the best baseline**: against the
  baseline with the highest mean test metric among every Table 2 row we ran (:func:`.tables.best_baseline`:
  each pair of rows compared on the seeds the two share). Both pool the seeds the two sides share: each
  user's metric is averaged over those seeds on each side, then one paired t-test over users
  (:func:`neggen_lite.core.metrics.paired_ttest`); an arm without a seed in common with the baseline gets
  NaN. Needs the runs' ``.per_user.npz`` files.
* **vs rule over seeds**: the same comparison with the seed as the unit (what a retrained model keeps,
  which the per-user test cannot see: it treats one training run's users as the whole sample): in how many
  shared seeds the arm is ahead, and a paired t-test of the seeds' test metrics (NaN below three seeds).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..core.metrics import load_per_user, paired_ttest
from ..core.paths import RESULTS_DIR, per_user_path
from ..core.paper import PAPER_TABLE5
from ..experiments.neggen_arms import ARMS, CAUSAL_OBJECTIVES, OBJECTIVES, SWEEP_SEED, plan
from ..experiments.runs import missing
from ..neggen.causal import NEGGEN_VARIANTS, NegGenConfig
from ..neggen.objectives import PICKS
from ..neggen.train import SWEEPS
from .quantities import fmt_p, fmt_pct, fmt_pct_p, n_seeds, neggen_vs_lightgcn
from .records import METRICS, load_results, model_kwargs
from .tables import best_baseline, fmt_mean_std

#: the settings every experiment run keeps at NegGen's defaults (the Fig. 7 sweeps change one of them)
FIXED = {k: getattr(NegGenConfig(), k) for k in ("lam", "alpha", "tau", "beta")}
#: ``vs ...`` columns are relative changes as fractions (``0.012`` is +1.2 %)
COLUMNS = ["objective", "arm", "seeds", "ours", "ours std", "lightgcn", "vs lightgcn", "p<0.05 vs lightgcn",
           "vs rule", "p vs rule", "rule seeds ahead", "rule seeds", "p vs rule over seeds", "best baseline", "baseline",
           "baseline seeds", "vs baseline", "p vs baseline", "model-written share"]


def _fixed(rec: dict, leave_out: str | None = None) -> bool:
    """Whether ``rec`` keeps every setting of :data:`FIXED` but ``leave_out`` at its default."""
    kw = model_kwargs(rec)
    return all(math.isclose(float(kw.get(k, v)), v, rel_tol=1e-9, abs_tol=1e-12) for k, v in FIXED.items()
               if k != leave_out)


def arm_of(rec: dict) -> tuple[str, str] | None:
    """``(objective, arm)`` of a NegGen record that belongs to the experiment, else ``None`` (sweeps, changed
    settings, the ``printed`` objective, variants other than *full* and *w/o NEG*)."""
    if str(rec.get("model")).lower() != "neggen" or rec.get("sweep"):
        return None
    kw = model_kwargs(rec)
    objective = kw.get("objective", "printed")
    if objective not in OBJECTIVES:
        return None
    if not _fixed(rec) or kw.get("pick", "nearest") != "nearest":  # the sampler's controls: sampler_controls
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


def _over_seeds(ours: list[dict], theirs: list[dict], metric: str) -> tuple[int, int, float]:
    """Over the seeds both sides have: in how many ``ours`` is ahead, how many seeds, and the two-sided p of a
    paired t-test of the seeds' test ``metric`` (NaN below three seeds)."""
    mine, other = {r["seed"]: r["test"][metric] for r in ours}, {r["seed"]: r["test"][metric] for r in theirs}
    seeds = sorted(set(mine) & set(other))
    a, b = np.array([mine[s] for s in seeds]), np.array([other[s] for s in seeds])
    p = float(stats.ttest_rel(a, b).pvalue) if len(seeds) >= 3 else float("nan")
    return int((a > b).sum()), len(seeds), p


def _vs_base(runs: list[dict], metric: str) -> dict:
    """Test ``metric`` of ``runs`` (one per seed) beside their same-seed LightGCN bases: ``ours``, ``ours std``
    (NaN for one run), ``lightgcn`` (mean base), ``vs lightgcn`` (mean relative change) and
    ``p<0.05 vs lightgcn`` (from each record's stored paired t-test: how many seeds up, how many down)."""
    ours = np.array([r["test"][metric] for r in runs])
    base = np.array([(r.get("base") or {}).get("test", {}).get(metric, np.nan) for r in runs])
    sig = [((r.get("significance") or {}).get("test") or {}).get(metric) for r in runs]
    up = sum(1 for x in sig if x and x["p"] < 0.05 and x["mean_diff"] > 0)
    down = sum(1 for x in sig if x and x["p"] < 0.05 and x["mean_diff"] < 0)
    return {"ours": float(ours.mean()), "ours std": float(ours.std(ddof=1)) if len(ours) > 1 else float("nan"),
            "lightgcn": float(np.nanmean(base)), "vs lightgcn": float(np.nanmean((ours - base) / base)),
            "p<0.05 vs lightgcn": f"{up} up, {down} down of {n_seeds(len(runs))}"}


def experiment_table(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                     results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """One row per (objective, arm) with runs on ``dataset``: seeds, mean and std of the test ``metric``,
    the same-seed LightGCN mean, the comparisons of the module docstring, and the share of the arm's
    negatives written by the language model (NaN for arms without generated negatives)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    groups: dict[tuple[str, str], list[dict]] = {}
    best_row, best_runs = best_baseline(recs, dataset, metric)
    for r in recs:
        key = arm_of(r) if r["dataset"] == dataset else None
        if key:
            groups.setdefault(key, []).append(r)
    rows = []
    for objective in OBJECTIVES:
        for arm in ARMS:
            runs = sorted(groups.get((objective, arm), []), key=lambda r: r["seed"])
            if not runs:
                continue
            rule_runs = groups.get((objective, "rule"), []) if arm != "rule" else []
            rule_pct, rule_p, _ = _pooled(runs, rule_runs, metric)
            ahead, n_common, seeds_p = _over_seeds(runs, rule_runs, metric)
            bl_pct, bl_p, _ = _pooled(runs, best_runs, metric)
            bl_runs = [r for r in best_runs if r["seed"] in {x["seed"] for x in runs}]
            shares = [_model_share(r) for r in runs if r.get("negatives")]
            rows.append({
                "objective": objective, "arm": arm, "seeds": [int(r["seed"]) for r in runs],
                **_vs_base(runs, metric), "vs rule": rule_pct, "p vs rule": rule_p,
                "rule seeds ahead": ahead, "rule seeds": n_common, "p vs rule over seeds": seeds_p,
                "best baseline": best_row,
                "baseline": float(np.mean([r["test"][metric] for r in bl_runs])) if bl_runs else float("nan"),
                "baseline seeds": [int(r["seed"]) for r in bl_runs], "vs baseline": bl_pct, "p vs baseline": bl_p,
                "model-written share": float(np.mean(shares)) if shares else float("nan")})
    return pd.DataFrame(rows, columns=COLUMNS)


def experiment_markdown(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                        results_dir: str | Path = RESULTS_DIR) -> str:
    """:func:`experiment_table` as a Markdown table (relative changes and p-values as the chapters write them)."""
    df = experiment_table(dataset, records, metric, results_dir)
    if df.empty:
        return f"No controlled-experiment runs on {dataset} yet (`python -m neggen_lite plan --dataset {dataset}`)."

    best = df["best baseline"].iloc[0]
    lines = [f"| objective | arm | seeds | test {metric} | vs same-seed LightGCN (seeds p<0.05) "
             "| vs rule arm (per-user p; seeds ahead, p over seeds) "
             f"| vs {best or 'the best baseline'} (the best baseline we ran) | model-written |",
             "|---|---|---|---|---|---|---|---|"]
    for d in df.to_dict("records"):
        ours = fmt_mean_std(d["ours"], d["ours std"], len(d["seeds"]), show_n=False)
        share = "–" if d["model-written share"] != d["model-written share"] else f"{100 * d['model-written share']:.1f} %"
        lines.append(f"| {d['objective']} | {d['arm']} | {len(d['seeds'])} | {ours} "
                     f"| {fmt_pct(d['vs lightgcn'])} ({d['p<0.05 vs lightgcn']}) "
                     + ("| (the reference) " if d["arm"] == "rule" else f"| {vs_rule_text(d)} ")
                     + f"| {fmt_pct(d['vs baseline'])} ({fmt_p(d['p vs baseline'])}) | {share} |")
    return "\n".join(lines)


def vs_rule_text(row: dict) -> str:
    """An experiment-table row against the rule-based arm, per user and over seeds:
    ``"+1.5 % (p = 0.017; ahead in 2 of 5 seeds, p = 0.264)"``."""
    if row["vs rule"] != row["vs rule"]:
        return "–"
    return (f"{fmt_pct(row['vs rule'])} ({fmt_p(row['p vs rule'])}"
            + (f"; {seeds_note(row)}" if row["rule seeds"] else "") + ")")


def seeds_note(row: dict) -> str:
    """An experiment-table row against the rule-based arm, seed by seed: ``"ahead in 2 of 5 seeds, p = 0.27"``;
    ``"–"`` for the rule-based arm itself (no shared seeds)."""
    if not row["rule seeds"]:
        return "–"
    p = row["p vs rule over seeds"]
    return f"ahead in {row['rule seeds ahead']} of {n_seeds(row['rule seeds'])}" + ("" if p != p else f", {fmt_p(p)}")


#: the arm whose negatives a sampler audit was built from, by the audit's ``generator`` (``sampler-audit --generator``)
AUDIT_ARMS = {generator: arm for arm, (generator, variant) in ARMS.items() if variant == "full"}


def sampler_audits(dataset: str, results_dir: str | Path = RESULTS_DIR) -> dict[str, dict]:
    """The committed audits of the ``sampler`` objective's negatives on ``dataset``
    (:func:`neggen_lite.neggen.objectives.sampler_audit`, ``python -m neggen_lite sampler-audit``), by arm."""
    out = {}
    for path in sorted((Path(results_dir) / "generations" / dataset).glob("*.sampler.quality.json")):
        audit = json.loads(path.read_text(encoding="utf-8"))
        arm = AUDIT_ARMS.get(audit.get("generator"))
        if arm is None:
            raise ValueError(f"{path}: field 'generator' is {audit.get('generator')!r}, not one of "
                             f"{', '.join(AUDIT_ARMS)}")
        out[arm] = audit
    return out


#: the sampler's controls: the arm whose negatives they pick from (generator, variant)
CONTROL_ARM = ARMS["generated"]
#: a control that wins back at least this share of the nearest pick's drop below LightGCN "recovers most" of it;
#: at most :data:`RECOVERS_LITTLE`, "little"
RECOVERS_MOST, RECOVERS_LITTLE = 2 / 3, 1 / 3
CONTROL_COLUMNS = ["pick", "seeds", "ours", "ours std", "lightgcn", "vs lightgcn", "p<0.05 vs lightgcn",
                   "vs nearest", "p vs nearest", "nearest seeds", "recovered"]


def pick_of(rec: dict) -> str | None:
    """The ``pick`` of a ``sampler``-objective run of :data:`CONTROL_ARM` with the experiment's fixed settings
    (``nearest`` for the experiment's own arm), else ``None``."""
    if str(rec.get("model")).lower() != "neggen" or rec.get("sweep") or not _fixed(rec):
        return None
    kw = model_kwargs(rec)
    if kw.get("objective") != "sampler" or (kw.get("generator", "auto"), rec.get("variant") or "full") != CONTROL_ARM:
        return None
    return kw.get("pick", "nearest")


def sampler_controls(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                     results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """The ``sampler`` objective under each ``pick`` (:data:`neggen_lite.neggen.objectives.PICKS`) on the
    generated arm: seeds, test ``metric`` beside the same-seed LightGCN, against the ``nearest`` pick (pooled
    paired t-test over users, as ``vs rule``), and ``recovered``: the share of ``nearest``'s drop below
    LightGCN that the pick wins back, on the seeds both have (``(ours - nearest) / (lightgcn - nearest)``)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    groups: dict[str, list[dict]] = {}
    for r in recs:
        pick = pick_of(r) if r["dataset"] == dataset else None
        if pick:
            groups.setdefault(pick, []).append(r)
    nearest = sorted(groups.get("nearest", []), key=lambda r: r["seed"])
    rows = []
    for pick in PICKS:
        runs = sorted(groups.get(pick, []), key=lambda r: r["seed"])
        if not runs:
            continue
        vs, p, n_common = _pooled(runs, nearest, metric) if pick != "nearest" else (float("nan"), float("nan"), 0)
        recovered = float("nan")
        if n_common:
            near = {r["seed"]: r for r in nearest}
            common = [r for r in runs if r["seed"] in near]
            ours = np.mean([r["test"][metric] for r in common])
            near_m = np.mean([near[r["seed"]]["test"][metric] for r in common])
            base = np.mean([r["base"]["test"][metric] for r in common])
            recovered = float((ours - near_m) / (base - near_m)) if base != near_m else float("nan")
        rows.append({"pick": pick, "seeds": [int(r["seed"]) for r in runs], **_vs_base(runs, metric),
                     "vs nearest": vs, "p vs nearest": p, "nearest seeds": n_common, "recovered": recovered})
    return pd.DataFrame(rows, columns=CONTROL_COLUMNS)


def sampler_controls_markdown(controls: pd.DataFrame, metric: str = "recall@20") -> str:
    """:func:`sampler_controls` as a Markdown table."""
    lines = [f"| pick | seeds | test {metric} | vs same-seed LightGCN (seeds p<0.05) | vs nearest (per-user p) "
             "| drop recovered |", "|---|---|---|---|---|---|"]
    for d in controls.to_dict("records"):
        ours = fmt_mean_std(d["ours"], d["ours std"], len(d["seeds"]), show_n=False)
        vs = "(the reference)" if d["pick"] == "nearest" else fmt_pct_p(d["vs nearest"], d["p vs nearest"])
        rec = "–" if d["recovered"] != d["recovered"] else f"{100 * d['recovered']:.0f} %"
        lines.append(f"| {d['pick']} | {', '.join(map(str, d['seeds']))} | {ours} | {fmt_pct(d['vs lightgcn'])} "
                     f"({d['p<0.05 vs lightgcn']}) | {vs} | {rec} |")
    return "\n".join(lines)


def _controls_text(controls: pd.DataFrame) -> str:
    """What the two controls say about the nearest pick's drop (sentences led by a space; ``""`` until both
    controls share a seed with the nearest pick)."""
    rows = {d["pick"]: d for d in controls.to_dict("records")} if len(controls) else {}
    fresh, rand = rows.get("nearest-fresh"), rows.get("random-fixed")
    if not fresh or not rand or not (fresh["nearest seeds"] and rand["nearest seeds"]):
        return ""

    def said(d, what):
        return (f"{what} ends at {d['ours']:.4f} ({fmt_pct(d['vs lightgcn'])} against the same-seed LightGCN, "
                f"{fmt_pct_p(d['vs nearest'], d['p vs nearest'])} against the fixed nearest pick, "
                f"{n_seeds(d['nearest seeds'])} in common) and wins back {100 * d['recovered']:.0f} % of its drop")

    text = (" Two controls on the generated arm separate the two properties of that negative. "
            + said(fresh, "Drawing afresh, at every use, one of the 32 nearest (close, but varied)") + "; "
            + said(rand, "keeping the fixed rule over 32 items drawn at random once (fixed, but not close)") + ".")
    rf, rr = fresh["recovered"], rand["recovered"]
    if rr >= RECOVERS_MOST and rf <= RECOVERS_LITTLE:
        text += (" Closeness, not fixedness, costs: negatives near the positive lose whether fixed or fresh, "
                 "and fixed random ones do not.")
    elif rf >= RECOVERS_MOST and rr <= RECOVERS_LITTLE:
        text += (" Fixedness, not closeness, costs: a fixed negative loses even when random, and near ones "
                 "drawn afresh do not.")
    elif rf >= RECOVERS_MOST and rr >= RECOVERS_MOST:
        text += " Each control wins back most of the drop: it takes a negative both fixed and near."
    elif rf <= RECOVERS_LITTLE and rr <= RECOVERS_LITTLE:
        text += (" Neither control wins back much: a fixed negative costs even when random, and a near one "
                 "even when drawn afresh.")
    else:  # random-fixed gives up closeness, nearest-fresh gives up fixedness
        more, less = ("closeness", "fixedness") if rr > rf else ("fixedness", "closeness")
        other = fresh if rr > rf else rand          # the control that gives up the cheaper property
        text += (f" The controls split the drop between the two properties: giving up {more} wins back more "
                 f"({100 * max(rr, rf):.0f} % against {100 * min(rr, rf):.0f} %), so {more} costs more here")
        text += (f", and {less} is not free either." if other["vs nearest"] > 0 and other["p vs nearest"] < 0.05
                 else f"; giving up {less} gains nothing significant.")
    return text


def sampler_findings(dataset: str, table: pd.DataFrame, audits: dict[str, dict],
                     controls: pd.DataFrame | None = None) -> str | None:
    """What the ``sampler`` objective gives BPR and where it ends, in sentences from ``audits``
    (:func:`sampler_audits`) and the experiment ``table`` (:func:`experiment_table`), then what its
    ``controls`` (:func:`sampler_controls`) say; ``None`` without audits and table."""
    rows = {r["arm"]: r for r in table.to_dict("records") if r["objective"] == "sampler"} if len(table) else {}
    arms = [a for a in ARMS if a in audits and a in rows]
    if not arms:
        return None
    parts, explained = [], []
    for arm in arms:
        n, u, row = audits[arm]["nearest"], audits[arm]["uniform"], rows[arm]
        drop = row["lightgcn"] - row["ours"]
        explained.append(n["test_recall_bound"] >= drop)
        parts.append(f"With the {arm} arm's negatives they sit at cosine {n['cos_to_positive']:.3f} to the positive "
                     f"(a uniform draw: {u['cos_to_positive']:.3f}), and {100 * n['heldout_share']:.2f} % are one of the "
                     f"same user's validation or test items, {n['heldout_share'] / u['heldout_share']:.0f}x the uniform "
                     f"rate of {100 * u['heldout_share']:.2f} %. Were every such test item a hit that training took "
                     f"away, test Recall would fall by at most {n['test_recall_bound']:.4f}; the arm ends "
                     f"{drop:.4f} below the same-seed LightGCN ({fmt_pct(row['vs lightgcn'])}).")
    first = audits[arms[0]]
    compared = (_sampler_arms_compared(audits, rows)
                if "rule" in arms and any(a in arms for a in MODEL_ARM_NEGATIVES) else "")
    controlled = _controls_text(controls) if controls is not None else ""
    compared += controlled
    text = (f"Under `sampler`, each training pair's negative is the same item in every epoch: the real item nearest "
            f"to the positive's generated negative ({100 * first['fallback_share']:.0f} % of the "
            f"{first['pairs']:,} training pairs on {dataset}, whose positive has no text or whose nearest items are "
            "all the user's, get a fresh uniform draw instead). " + " ".join(parts) + " ")
    if all(explained):
        return text + ("Pushing down the user's own future items could by itself account for the drop, if most "
                       "of them were hits before; no run here tells how many were." + compared)
    return text + ("So the user's own future items, pushed down, cannot account for the whole drop. The rest "
                   "goes with a narrow contrast: every positive always meets one item that reads almost the same, "
                   "where uniform sampling sweeps the whole catalogue every epoch. That the narrowness costs the "
                   "rest is our reading" + ("; the controls that follow test it." if controlled else
                                            "; no run here isolates it.") + compared)


def sampler_audit_table(datasets, records: list[dict] | None = None, results_dir: str | Path = RESULTS_DIR,
                        metric: str = "recall@20") -> pd.DataFrame:
    """One row per (dataset, arm) with a committed sampler audit and ``sampler`` runs: the fixed negatives'
    cosine to the positive, their share among the user's held-out items and its ratio to uniform draws,
    the test-Recall bound of those items, the arm's drop below the same-seed LightGCN, and its change
    against the rule arm (``vs rule``, ``p vs rule``, as in :func:`experiment_table`)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    rows = []
    for ds in datasets:
        audits = sampler_audits(ds, results_dir)
        if not audits:
            continue
        table = experiment_table(ds, recs, metric, results_dir)
        runs = {r["arm"]: r for r in table.to_dict("records") if r["objective"] == "sampler"}
        for arm in [a for a in ARMS if a in audits and a in runs]:
            n, u, row = audits[arm]["nearest"], audits[arm]["uniform"], runs[arm]
            rows.append({"dataset": ds, "arm": arm, "cosine": n["cos_to_positive"], "uniform cosine": u["cos_to_positive"],
                         "held-out share": n["heldout_share"], "x uniform": n["heldout_share"] / u["heldout_share"],
                         "test recall bound": n["test_recall_bound"], "drop": row["lightgcn"] - row["ours"],
                         "vs rule": row["vs rule"], "p vs rule": row["p vs rule"]})
    return pd.DataFrame(rows, columns=["dataset", "arm", "cosine", "uniform cosine", "held-out share", "x uniform",
                                       "test recall bound", "drop", "vs rule", "p vs rule"])


def sampler_arms_compared(dataset: str, table: pd.DataFrame, audits: dict[str, dict],
                          controls: pd.DataFrame | None = None) -> str:
    """The language-model arms' sampler negatives against the rule arm's on ``dataset`` (sentences from
    :func:`sampler_audits` and :func:`experiment_table`), then what its ``controls`` (:func:`sampler_controls`)
    say; ``""`` without the generated and rule arms' audits and runs."""
    rows = {r["arm"]: r for r in table.to_dict("records") if r["objective"] == "sampler"} if len(table) else {}
    if not all(a in audits and a in rows for a in ("generated", "rule")):
        return ""
    text = f"On {dataset}:" + _sampler_arms_compared(audits, rows, opening=False)
    return text + (_controls_text(controls) if controls is not None else "")


#: sampler audits whose mean cosines to the positive differ by less than this read as equally close
COS_TIE = 0.01


#: the language-model arms whose sampler negatives are compared with the rule arm's, and what their negatives are
#: called in the prose
MODEL_ARM_NEGATIVES = {"generated": "generated negatives", "direct": "Direct Generation negatives"}


def _sampler_arms_compared(audits: dict[str, dict], rows: dict[str, dict], opening: bool = True) -> str:
    """Each language-model arm's sampler negatives (:data:`MODEL_ARM_NEGATIVES`, where audited and run) against
    the rule arm's (closeness, held-out share) beside that arm's test change against the rule arm, and whether
    closeness orders the results as the narrow-contrast reading predicts (the closer arm loses more, at p < 0.05):
    sentences, led by a space. ``opening``: the first names the comparison ("Between the two arms" with one
    such arm, "Against the rule arm" with more); without it the first starts at its subject."""
    r = audits["rule"]["nearest"]
    arms = [a for a in MODEL_ARM_NEGATIVES if a in audits and a in rows]
    text, agree, against = "", [], []
    for k, arm in enumerate(arms):
        g, row = audits[arm]["nearest"], rows[arm]
        dcos = g["cos_to_positive"] - r["cos_to_positive"]
        how = "as close to" if abs(dcos) < COS_TIE else "closer to" if dcos > 0 else "farther from"
        lead = (" The" if k else " the" if not opening else " Between the two arms, the" if len(arms) == 1
                else " Against the rule arm, the")
        text += (f"{lead} {MODEL_ARM_NEGATIVES[arm]} sit {how} the positive "
                 + ("as" if how == "as close to" else "than") + " the rule-based ones")
        text += (f" (cosine {g['cos_to_positive']:.3f} against {r['cos_to_positive']:.3f}) and are the user's held-out "
                 f"items {g['heldout_share'] / r['heldout_share']:.1f}x as often ({100 * g['heldout_share']:.2f} % against "
                 f"{100 * r['heldout_share']:.2f} %); the {arm} arm ends {fmt_pct(row['vs rule'])} "
                 f"({fmt_p(row['p vs rule'])}) against the rule arm.")
        significant = row["p vs rule"] < 0.05
        if how == "closer to" and significant and row["vs rule"] < 0:
            agree.append(arm)
            text += " The arm whose negatives read more like the positive loses more, as the narrow-contrast reading predicts"
            text += "; two arms on one dataset are a hint, not a test." if len(arms) == 1 else "."
        elif significant and ((how == "farther from" and row["vs rule"] < 0) or (how == "closer to" and row["vs rule"] > 0)):
            against.append(arm)
            text += (" Its negatives read " + ("less" if how == "farther from" else "more") + " like the positive and it "
                     + ("loses more" if row["vs rule"] < 0 else "gains") + ", which the narrow-contrast reading does not "
                     "predict.")
        elif how == "as close to" and not significant:
            text += " Negatives as close, results alike."
    if against:
        text += (" So closeness to the positive does not order these arms' results on its own"
                 + (" (it does for the " + ", ".join(agree) + " arm)" if agree else "")
                 + "; no run here isolates what else makes a set of negatives cost.")
    return text


def experiment_findings(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                        results_dir: str | Path = RESULTS_DIR, table: pd.DataFrame | None = None) -> str:
    """The experiment's answer as Markdown sentences, every number from :func:`experiment_table`: per
    objective, the generated arm against the rule-based, Direct Generation and *w/o NEG* arms, the
    same-seed LightGCN and the best baseline; whether generated negatives *help* (above the rule-based arm
    at p < 0.05 and above LightGCN); the paper's gain over LightGCN; how many planned runs are committed.
    Chapter 6 and ``results/README.md`` (``{FINDINGS:<dataset>}``) print the same text; ``table``: the
    :func:`experiment_table` of the same arguments, when the caller already has it."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    df = table if table is not None else experiment_table(dataset, recs, metric, results_dir)
    planned = plan(dataset)
    have = len(planned) - len(missing(planned, results_dir))
    missing_note = (f"All {have} planned runs on {dataset} are committed." if have == len(planned) else
                    f"{have} of the {len(planned)} planned runs on {dataset} are committed "
                    f"(`python -m neggen_lite plan --dataset {dataset}` lists the others).")
    rows = {(r["objective"], r["arm"]): r for r in df.to_dict("records")}
    lines, helped = [], []
    for objective in OBJECTIVES:
        gen = rows.get((objective, "generated"))
        if gen is None:
            continue
        n = len(gen["seeds"])
        direct, other = rows.get((objective, "direct")), rows.get((objective, "w/o NEG"))
        share = gen["model-written share"]
        lines.append(
            f"* **{objective}** ({n_seeds(n)}): generated negatives"
            + (f" ({100 * share:.1f} % model-written)" if share == share else "")
            + f" give {gen['ours']:.4f}, "
            + (f"{vs_rule_text(gen)} against rule-based negatives" if gen["vs rule"] == gen["vs rule"]
               else "with no rule-based arm on the same seeds yet")
            + (f"; Direct Generation negatives {vs_rule_text(direct)}" if direct else "")
            + (f"; another item's attributes (*w/o NEG*) {vs_rule_text(other)}"
               if other else "")
            + f". Against the same-seed LightGCN {fmt_pct(gen['vs lightgcn'])} ({gen['p<0.05 vs lightgcn']} "
              f"at p < 0.05); against {gen['best baseline']} {fmt_pct_p(gen['vs baseline'], gen['p vs baseline'])}.")
        if gen["vs rule"] > 0 and gen["p vs rule"] < 0.05 and gen["vs lightgcn"] > 0:
            helped.append(objective)
    if not lines:
        return f"No run with generated negatives on {dataset} yet. {missing_note}"
    verdict = (f"Generated negatives beat rule-based ones at p < 0.05 and improve on LightGCN under: "
               f"{', '.join(helped)}." if helped else
               "Under no objective do generated negatives beat the rule-based ones at p < 0.05 while improving "
               "on LightGCN.")
    if helped:  # how robust: the seed as the unit, and the objectives compared (Bonferroni)
        k = len(lines)
        robust = [o for o in helped if rows[(o, "generated")]["p vs rule over seeds"] < 0.05
                  and rows[(o, "generated")]["p vs rule"] < 0.05 / k]
        verdict += (f" That test takes one training run's users as the sample; over seeds, "
                    + "; ".join(f"{o} is {seeds_note(rows[(o, 'generated')])}" for o in helped)
                    + (f", and with {k} objectives compared a Bonferroni correction asks p < {0.05 / k:.3g} of the "
                       "per-user test. " if k > 1 else ". ")
                    + (f"Under {', '.join(robust)} the gain passes {'both' if k > 1 else 'the test over seeds'}."
                       if robust else f"No gain passes {'both' if k > 1 else 'the test over seeds'}: it is not one a "
                       "retrained model can be counted on to keep."))
    paper_gain = neggen_vs_lightgcn(recs, dataset, metric)["paper"]
    return "\n".join(lines) + (f"\n\n{verdict} The paper reports {fmt_pct(paper_gain)} for NegGen over LightGCN "
                               f"on {dataset}. {missing_note}")


#: the seeds on which :func:`best_objective` chooses (fixed, so later seeds cannot move the choice)
CHOICE_SEEDS = (2025, 2026)


def best_objective(dataset: str, records: list[dict] | None = None, seeds=CHOICE_SEEDS,
                   metric: str = "recall@20", results_dir: str | Path = RESULTS_DIR) -> tuple[str | None, dict]:
    """The objective of :data:`CAUSAL_OBJECTIVES` whose ``generated`` arm has the highest mean *validation*
    ``metric`` over ``seeds`` on ``dataset`` -- the one Table 5 and Fig. 7 are redone for (the test split
    chooses nothing). Returns ``(objective, {objective: mean})``; ``(None, {...})`` until every candidate
    has a run for every seed of ``seeds``."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    got: dict[str, dict[int, float]] = {o: {} for o in CAUSAL_OBJECTIVES}
    for r in recs:
        key = arm_of(r) if r["dataset"] == dataset else None
        if key and key[0] in got and key[1] == "generated" and r["seed"] in seeds:
            got[key[0]][r["seed"]] = float(r["valid"][metric])
    means = {o: float(np.mean([v[s] for s in seeds])) for o, v in got.items() if set(seeds) <= set(v)}
    if len(means) < len(CAUSAL_OBJECTIVES):
        return None, means
    return max(means, key=means.get), means


def _objective_run(rec: dict, dataset: str, objective: str) -> bool:
    """A run of ``objective`` on ``dataset`` with language-model negatives (``generator`` auto)."""
    kw = model_kwargs(rec)
    return (rec["dataset"] == dataset and str(rec.get("model")).lower() == "neggen"
            and kw.get("objective", "printed") == objective and kw.get("generator", "auto") == "auto")


def ablation_table(dataset: str, objective: str, records: list[dict] | None = None, metric: str = "recall@20",
                   results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Table 5 under ``objective``: one row per variant with runs (language-model negatives, default settings):
    ``variant, seeds, ours, ours std, lightgcn`` (same-seed base), ``vs lightgcn`` (mean relative change),
    ``p<0.05 vs lightgcn`` (from each record's paired t-test) and ``paper`` (Table 5's number, Eq. 19-21)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    rows = []
    for v in NEGGEN_VARIANTS:
        runs = sorted((r for r in recs if _objective_run(r, dataset, objective) and not r.get("sweep")
                       and (r.get("variant") or "full") == v and _fixed(r)), key=lambda r: r["seed"])
        if not runs:
            continue
        paper = PAPER_TABLE5.get((dataset, v))
        rows.append({"variant": v, "seeds": [int(r["seed"]) for r in runs], **_vs_base(runs, metric),
                     "paper": paper[METRICS.index(metric)] if paper else float("nan")})
    return pd.DataFrame(rows, columns=["variant", "seeds", "ours", "ours std", "lightgcn", "vs lightgcn",
                                       "p<0.05 vs lightgcn", "paper"])


def sweep_values(param: str) -> list[float]:
    """The values of ``param`` a complete Fig. 7 sweep has: the paper's grid and NegGen's default."""
    return sorted(set(SWEEPS[param]) | {float(getattr(NegGenConfig(), param))})


def sweep_table(dataset: str, objective: str, records: list[dict] | None = None, seed: int = SWEEP_SEED,
                results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Fig. 7 under ``objective`` at ``seed``: one row per (param, value) with ``valid``/``test`` Recall@20 and
    ``best epoch``; the run at the default value is the experiment's ``generated`` arm (``default`` True)."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    mine = [r for r in recs if _objective_run(r, dataset, objective) and r["seed"] == seed
            and (r.get("variant") or "full") == "full"]
    default = NegGenConfig()
    rows = []
    for r in mine:
        sw = r.get("sweep")
        if sw and sw["param"] in SWEEPS and _fixed(r, sw["param"]):
            rows.append((sw["param"], float(sw["value"]), False, r))
        elif not sw and _fixed(r):
            rows += [(param, float(getattr(default, param)), True, r) for param in SWEEPS]
    out = [{"param": p, "value": v, "default": d, "valid": r["valid"]["recall@20"], "test": r["test"]["recall@20"],
            "best epoch": r["best_epoch"]} for p, v, d, r in rows]
    df = pd.DataFrame(out, columns=["param", "value", "default", "valid", "test", "best epoch"])
    return df.sort_values(["param", "value"], ignore_index=True) if len(df) else df


def sweep_summary(sweep: pd.DataFrame) -> dict[str, dict]:
    """Per Fig. 7 parameter of a :func:`sweep_table`: ``runs`` (distinct values run) of ``grid`` (:func:`sweep_values`),
    and once the grid is ``complete``, the value ``best`` on validation Recall@20, its ``best test``, and the
    ``test min`` / ``test max`` over the grid (the one reading the book and the results README give)."""
    out = {}
    for p in SWEEPS:
        x = sweep[sweep["param"] == p] if len(sweep) else sweep
        d = {"runs": int(x["value"].nunique()) if len(x) else 0, "grid": len(sweep_values(p))}
        d["complete"] = d["runs"] >= d["grid"]
        if d["complete"]:
            best = x.loc[x["valid"].idxmax()]
            d.update({"best": float(best["value"]), "best test": float(best["test"]),
                      "test min": float(x["test"].min()), "test max": float(x["test"].max())})
        out[p] = d
    return out


def ablations_markdown(dataset: str, records: list[dict] | None = None,
                       results_dir: str | Path = RESULTS_DIR) -> str:
    """The objective chosen on validation (:func:`best_objective`), then Table 5 (:func:`ablation_table`) and
    Fig. 7 (:func:`sweep_table`) under it, as Markdown, each saying what is still missing."""
    recs = records if records is not None else load_results(results_dir, mode="full")
    objective, valid = best_objective(dataset, recs)
    seeds = " and ".join(map(str, CHOICE_SEEDS))
    if objective is None:
        return (f"Not chosen yet on {dataset}: the choice needs the generated arm of "
                f"{' and '.join(CAUSAL_OBJECTIVES)} for seeds {seeds}.")
    lines = [f"Chosen on validation Recall@20 of the generated arm, seeds {seeds}: "
             + ", ".join(f"{o} {v:.4f}" for o, v in valid.items()) + f", so **{objective}**. Test Recall@20; "
             f"*full* and *w/o NEG* are the experiment's generated and w/o NEG arms "
             f"(`python -m neggen_lite plan --dataset {dataset} --ablations` lists the missing runs).", ""]
    t5 = ablation_table(dataset, objective, recs)
    lines += [f"| variant ({objective}) | seeds | test recall@20 | same-seed LightGCN | vs LightGCN (seeds p<0.05) "
              "| paper (Eq. 19-21 as printed) |", "|---|---|---|---|---|---|"]
    for d in t5.to_dict("records"):
        ours = fmt_mean_std(d["ours"], d["ours std"], len(d["seeds"]), show_n=False)
        paper = f"{d['paper']:.4f}" if d["paper"] == d["paper"] else "—"
        lines.append(f"| {d['variant']} | {', '.join(map(str, d['seeds']))} | {ours} | {d['lightgcn']:.4f} "
                     f"| {fmt_pct(d['vs lightgcn'])} ({d['p<0.05 vs lightgcn']}) | {paper} |")
    sw = sweep_table(dataset, objective, recs)
    lines.append("")
    if sw.empty:
        lines.append(f"No Fig. 7 sweep under {objective} on {dataset} yet.")
        return "\n".join(lines)
    lines += [f"| Fig. 7 ({objective}, seed {SWEEP_SEED}) | value | valid recall@20 | test recall@20 | best epoch |",
              "|---|---|---|---|---|"]
    for d in sw.to_dict("records"):
        mark = " (default)" if d["default"] else ""
        lines.append(f"| {d['param']} | {d['value']:g}{mark} | {d['valid']:.4f} | {d['test']:.4f} | {d['best epoch']} |")
    lines.append("")
    for p, d in sweep_summary(sw).items():
        if d["complete"]:
            lines.append(f"* {p}: best on validation {d['best']:g} (test {d['best test']:.4f}); test range "
                         f"{d['test min']:.4f}-{d['test max']:.4f}")
        else:
            lines.append(f"* {p}: {d['runs']} of {d['grid']} values run")
    return "\n".join(lines)
