"""Tables computed from run records: ours beside the paper's Tables 1, 2 and 5, Fig. 2, Fig. 6, sampler
comparisons, mean and spread over seeds, and paired t-tests over users."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.metrics import load_per_user, paired_ttest
from ..core.paper import PAPER_ROW_NAMES, PAPER_TABLE1, PAPER_TABLE2
from ..core.paths import RESULTS_DIR, per_user_path
from ..neggen.causal import NEGGEN_VARIANTS
from ..samplers.hard import HARD_SAMPLERS
from .records import (METRICS, NEGGEN_DEFAULTS, model_kwargs, load_results, modality_weight,
                      neggen_setting, table_row)


def paper_numbers(row: str, dataset: str) -> tuple[tuple | None, str]:
    """The paper's numbers for our Table 2 row ``row`` on ``dataset`` and where they come from.

    A paper row (``"lightgcn"``, ``"freedom"``, ...): Table 2, ``"Table 2"``. FREEDOM with fewer modalities
    (``"freedom (T)"``): Table 1's row for those modalities, ``"Table 1 (T)"``, the same setting. Another
    multi-modal model with fewer modalities (``"bm3 (T)"``): the paper only ran it with images and text, so
    its Table 2 row is returned as ``"Table 2 (V&T)"``, *another* setting, shown beside ours for orientation
    and never divided into ours (:func:`comparison_table`). ``(None, "")`` where the paper has nothing."""
    if (row, dataset) in PAPER_TABLE2:
        return PAPER_TABLE2[(row, dataset)], "Table 2"
    if row.endswith(")") and " (" in row:
        model, mods = row[:-1].split(" (", 1)
        if model == "freedom" and (dataset, mods) in PAPER_TABLE1:
            return PAPER_TABLE1[(dataset, mods)], f"Table 1 ({mods})"
        if (model, dataset) in PAPER_TABLE2:
            return PAPER_TABLE2[(model, dataset)], "Table 2 (V&T)"
    return None, ""


#: the paper sources whose numbers are another setting than ours (:func:`paper_numbers`)
OTHER_SETTING = ("Table 2 (V&T)",)


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """Our test metrics (mean and standard deviation over seeds) beside the paper's Table 2, one row per
    (dataset, Table 2 row); records that are no Table 2 row (see :func:`table_row`) are left out.

    ``paper row`` names where the ``paper <metric>`` numbers come from (:func:`paper_numbers`);
    ``R@20 ours/paper`` is NaN where they are another setting (a text-only row beside a two-modality one)."""
    rows = []
    for rec in records:
        row = table_row(rec)
        if row is None:
            continue
        rows.append({"dataset": rec["dataset"], "model": row, "seed": rec["seed"],
                     "epochs": rec["epochs"], "best_epoch": rec["best_epoch"], **{m: rec["test"][m] for m in METRICS}})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    g = df.groupby(["dataset", "model"], sort=True)
    ours = g[list(METRICS)].mean()
    spread = g[list(METRICS)].std(ddof=1)
    ours["seeds"] = g["seed"].nunique()
    ours["best_epoch"] = g["best_epoch"].mean()
    table = []
    for (dataset, model), r in ours.iterrows():
        paper, source = paper_numbers(model, dataset)
        row = {"dataset": dataset, "model": model, "seeds": int(r["seeds"]), "best epoch": r["best_epoch"],
               "paper row": source}
        for j, m in enumerate(METRICS):
            row[f"ours {m}"] = r[m]
            row[f"ours {m} std"] = spread.loc[(dataset, model), m]
            row[f"paper {m}"] = paper[j] if paper else float("nan")
        same_setting = paper is not None and source not in OTHER_SETTING
        row["R@20 ours/paper"] = r["recall@20"] / paper[1] if same_setting else float("nan")
        table.append(row)
    order = {m: k for k, m in enumerate(PAPER_ROW_NAMES)}  # rows in the paper's order, unknown ones last
    table.sort(key=lambda r: (r["dataset"], order.get(r["model"], len(order)), r["model"]))
    return pd.DataFrame(table).set_index(["dataset", "model"])


def load_neggen(results_dir: str | Path = RESULTS_DIR, dataset: str | None = None, mode: str | None = "full",
                records: list[dict] | None = None) -> pd.DataFrame:
    """Every NegGen run under ``results_dir`` (sweeps included) as a tidy DataFrame, one row per run.

    Columns: ``dataset, variant, seed, setting`` (:func:`neggen_setting`), ``param, value`` (the swept
    hyper-parameter and its value; ``None``/NaN outside sweeps), ``lam, alpha, tau, align, base, generator``,
    ``epochs, best_epoch, seconds``, the test metrics, ``base <metric>`` (the same-seed pre-trained
    LightGCN's test metrics), ``base best_epoch``, ``diff <metric>`` and ``p <metric>`` (paired t-test over
    test users against that base, from the record's ``significance``; NaN where absent),
    ``model_negatives`` (items whose negative the language model wrote and the validator passed; the pipeline's
    rule-based fallbacks are not counted) and ``path``.
    """
    recs = records if records is not None else load_results(results_dir, mode=mode)
    rows = []
    for r in recs:
        if str(r.get("model")).lower() != "neggen" or (dataset is not None and r["dataset"] != dataset):
            continue
        kw = model_kwargs(r)
        sweep = r.get("sweep") or {}
        base = r.get("base") or {}
        sig = (r.get("significance") or {}).get("test", {})
        neg = r.get("negatives") or {}
        row = {"dataset": r["dataset"], "variant": r.get("variant") or "full", "seed": r["seed"],
               "setting": neggen_setting(r), "param": sweep.get("param"),
               "value": float(sweep["value"]) if "value" in sweep else float("nan"),
               **{k: kw.get(k, NEGGEN_DEFAULTS[k]) for k in NEGGEN_DEFAULTS},
               "generator": kw.get("generator"), "epochs": r["epochs"], "best_epoch": r["best_epoch"],
               "seconds": r.get("seconds", float("nan"))}
        for m in METRICS:
            row[m] = r["test"].get(m, float("nan"))
        for m in METRICS:
            row[f"base {m}"] = base.get("test", {}).get(m, float("nan"))
        row["base best_epoch"] = base.get("best_epoch", float("nan"))
        for m in METRICS:
            row[f"diff {m}"] = sig.get(m, {}).get("mean_diff", float("nan"))
            row[f"p {m}"] = sig.get(m, {}).get("p", float("nan"))
        row["model_negatives"] = neg.get("model_ok", 0) if neg else float("nan")  # a fallback is rule-based
        row["path"] = r.get("_path")
        rows.append(row)
    cols = ["dataset", "variant", "seed", "setting", "param", "value", *NEGGEN_DEFAULTS, "generator", "epochs",
            "best_epoch", "seconds", *METRICS, *(f"base {m}" for m in METRICS), "base best_epoch",
            *(f"{k} {m}" for k in ("diff", "p") for m in METRICS), "model_negatives", "path"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["dataset", "variant", "setting", "param", "value", "seed"], na_position="first",
                          ignore_index=True) if len(df) else df


def mean_std(df: pd.DataFrame, by, metrics=METRICS) -> pd.DataFrame:
    """Per group of ``by``: ``n`` (runs), ``seeds`` (their seeds, sorted), and ``<metric> mean`` /
    ``<metric> std`` (sample standard deviation, ddof=1; NaN for a single run) for each of ``metrics``."""
    by = [by] if isinstance(by, str) else list(by)
    metrics = [m for m in metrics if m in df.columns]
    cols = ["n", "seeds", *(f"{m} {s}" for m in metrics for s in ("mean", "std"))]
    if df.empty:
        return pd.DataFrame(columns=by + cols).set_index(by)
    g = df.groupby(by, sort=True, dropna=False)
    out = pd.DataFrame({"n": g.size(), "seeds": g["seed"].agg(lambda s: sorted(int(x) for x in s))})
    for m in metrics:
        out[f"{m} mean"] = g[m].mean()
        out[f"{m} std"] = g[m].std(ddof=1)
    return out[cols]


def fmt_mean_std(mean: float, std: float, n: int, digits: int = 4, show_n: bool = True) -> str:
    """``"0.0760 ± 0.0003 (3)"``; a single run is shown as ``"0.0760 (1 seed)"``, no run as ``"missing"``;
    ``show_n=False`` leaves out the parenthesised count (``"0.0760 ± 0.0003"``, ``"0.0760"``)."""
    if not n or mean != mean:
        return "missing"
    if n == 1 or std != std:
        return f"{mean:.{digits}f}" + (" (1 seed)" if show_n else "")
    return f"{mean:.{digits}f} ± {std:.{digits}f}" + (f" ({n})" if show_n else "")


def best_baseline(records: list[dict], dataset: str, metric: str = "recall@20") -> tuple[str | None, list[dict]]:
    """The baseline we ran with the highest mean test ``metric`` on ``dataset`` and its runs.

    A baseline is any Table 2 row other than NegGen (:func:`table_row`): BPR, LightGCN, the hard samplers,
    FREEDOM, VBPR, the other multi-modal models. Two rows are compared on the seeds the two share, so that a
    row run on one lucky seed does not outrank a row run on three, and two rows run on three seeds are
    compared on all three (where they share none, on each row's own seeds). The best row is the one ahead
    of every other row so compared; where there is none (a cycle), every row is compared on the seeds all
    of them share. Returns ``(row, records)``, or ``(None, [])`` when there is none."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        row = table_row(r)
        if r["dataset"] == dataset and row not in (None, "neggen"):
            groups.setdefault(row, []).append(r)
    if not groups:
        return None, []

    def mean(runs: list[dict], seeds: set) -> float:
        compared = [r for r in runs if r["seed"] in seeds] or runs
        return sum(r["test"][metric] for r in compared) / len(compared)

    def ahead(a: str, b: str) -> bool:
        shared = {r["seed"] for r in groups[a]} & {r["seed"] for r in groups[b]}
        return mean(groups[a], shared) > mean(groups[b], shared)

    best = next((a for a in groups if all(ahead(a, b) for b in groups if b != a)), None)  # at most one
    if best is None:
        shared = set.intersection(*({r["seed"] for r in runs} for runs in groups.values()))
        best = max(groups, key=lambda k: mean(groups[k], shared))
    return best, sorted(groups[best], key=lambda r: r["seed"])


def significance_table(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                       results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Paired t-tests over test users of each NegGen run (default settings, every variant) against the best
    baseline we ran (:func:`best_baseline`): the baseline run of the same seed where there is one, else its
    lowest seed. Needs the runs' per-user files (``<stem>.per_user.npz``, written by
    :func:`neggen_lite.training.trainer.save_result`); a run without one gets ``p`` NaN and says so in ``note``.

    Columns: ``variant, seed, baseline, baseline seed, ours, theirs, mean_diff, t, p, n_users, note``."""

    recs = records if records is not None else load_results(results_dir, mode="full")
    row, base_runs = best_baseline(recs, dataset, metric)
    cols = ["variant", "seed", "baseline", "baseline seed", "ours", "theirs", "mean_diff", "t", "p", "n_users", "note"]
    out = []
    ours_runs = [r for r in recs if r["dataset"] == dataset and str(r.get("model")).lower() == "neggen"
                 and neggen_setting(r) == "default"]
    with_file = [b for b in base_runs if per_user_path(b["_path"]).exists()]
    for r in sorted(ours_runs, key=lambda r: (NEGGEN_VARIANTS.index(r.get("variant") or "full")
                                               if (r.get("variant") or "full") in NEGGEN_VARIANTS else 99, r["seed"])):
        rec = {"variant": r.get("variant") or "full", "seed": r["seed"], "baseline": row,
               "baseline seed": None, "ours": r["test"][metric], "theirs": float("nan"), "mean_diff": float("nan"),
               "t": float("nan"), "p": float("nan"), "n_users": 0, "note": ""}
        mine = per_user_path(r["_path"])
        same = [b for b in with_file if b["seed"] == r["seed"]]
        b = (same or with_file or [None])[0]
        if row is None:
            rec["note"] = "no baseline run on this dataset"
        elif b is None:
            rec["note"] = f"no per-user file for {row}; rerun it with this version"
        elif not mine.exists():
            rec["note"] = f"no per-user file for this run ({mine.name}); rerun it with this version"
        else:
            rec["baseline seed"], rec["theirs"] = b["seed"], b["test"][metric]
            try:
                test = paired_ttest(load_per_user(mine), load_per_user(per_user_path(b["_path"])))[metric]
            except ValueError as exc:
                rec["note"] = f"{mine.name}: {exc}"
            else:
                rec.update(mean_diff=test["mean_diff"], t=test["t"], p=test["p"], n_users=test["n_users"])
                if not same:
                    rec["note"] = "baseline of another seed"
        out.append(rec)
    return pd.DataFrame(out, columns=cols)


def fig6_frame(records: list[dict]) -> pd.DataFrame:
    """The data of Fig. 6 (test NDCG@20 against the epoch of convergence), one row per dataset and method.

    Methods: LightGCN with each sampler (``uniform``, ``dns``, ``mixgcf``, ...) and NegGen *w/o CF* with
    default settings, as the paper compares them ("we remove the causal learning module in NegGen for a
    fair comparison"). The convergence epoch is the epoch of the best validation Recall@20. NegGen trains
    on a pre-trained base, so its row also has ``epochs incl. base`` (its own plus the base's best epoch).
    Columns: ``dataset, method, seeds, convergence epoch, convergence epoch std, epochs incl. base,
    ndcg@20, ndcg@20 std, recall@20, recall@20 std, seconds``; means over seeds, sample standard deviations."""
    rows = []
    for r in records:
        model = str(r.get("model", "")).lower()
        if model == "lightgcn":
            method, extra = str(r.get("sampler", "uniform")).lower(), 0
        elif model == "neggen" and r.get("variant") == "w/o CF" and neggen_setting(r) == "default":
            method, extra = "neggen w/o CF", (r.get("base") or {}).get("best_epoch", float("nan"))
        else:
            continue
        rows.append({"dataset": r["dataset"], "method": method, "seed": r["seed"], "epoch": r["best_epoch"],
                     "with_base": r["best_epoch"] + extra, "ndcg@20": r["test"]["ndcg@20"],
                     "recall@20": r["test"]["recall@20"], "seconds": r.get("seconds", float("nan"))})
    cols = ["dataset", "method", "seeds", "convergence epoch", "convergence epoch std", "epochs incl. base",
            "ndcg@20", "ndcg@20 std", "recall@20", "recall@20 std", "seconds"]
    if not rows:
        return pd.DataFrame(columns=cols)
    g = pd.DataFrame(rows).groupby(["dataset", "method"], sort=True)
    out = pd.DataFrame({"seeds": g.size(), "convergence epoch": g["epoch"].mean(),
                        "convergence epoch std": g["epoch"].std(ddof=1), "epochs incl. base": g["with_base"].mean(),
                        "ndcg@20": g["ndcg@20"].mean(), "ndcg@20 std": g["ndcg@20"].std(ddof=1),
                        "recall@20": g["recall@20"].mean(), "recall@20 std": g["recall@20"].std(ddof=1),
                        "seconds": g["seconds"].mean()}).reset_index()
    return out[cols]


def sampler_vs_uniform(records: list[dict], metric: str = "recall@20") -> pd.DataFrame:
    """Each LightGCN sampler against the same dataset's uniform-sampling LightGCN (Table 2's sampler rows,
    Fig. 6), from :func:`fig6_frame`; one row per (dataset, sampler) on datasets with a uniform run, uniform
    itself first, then the hard samplers in the paper's order. ``metric`` is ``"recall@20"`` or ``"ndcg@20"``.

    Columns: ``dataset, sampler, seeds``, ``<metric>`` and ``<metric> std`` (mean and sample std over seeds),
    ``vs uniform`` (relative change of the mean), ``convergence epoch``, ``uniform convergence epoch``,
    ``epochs vs uniform`` (ratio), ``sooner`` / ``better`` (converges sooner / ends higher than uniform),
    ``paper <metric>`` and ``paper vs its LightGCN`` (Table 2; NaN where the paper has no such row)."""

    pos = {"recall@20": 1, "ndcg@20": 3}  # positions in PAPER_TABLE2 rows (R@10, R@20, N@10, N@20)
    if metric not in pos:
        raise ValueError(f"metric must be one of {sorted(pos)}, got {metric!r}")
    cols = ["dataset", "sampler", "seeds", metric, f"{metric} std", "vs uniform", "convergence epoch",
            "uniform convergence epoch", "epochs vs uniform", "sooner", "better", f"paper {metric}",
            "paper vs its LightGCN"]
    order = {s: k for k, s in enumerate(("uniform", *HARD_SAMPLERS))}
    f6 = fig6_frame(records)
    rows = []
    for d in sorted(set(f6["dataset"])):
        x = f6[(f6["dataset"] == d) & (f6["method"] != "neggen w/o CF")].set_index("method")
        if "uniform" not in x.index:
            continue
        u, pu = x.loc["uniform"], PAPER_TABLE2.get(("lightgcn", d))
        for s in sorted(x.index, key=lambda s: (order.get(s, len(order)), s)):
            r, p = x.loc[s], PAPER_TABLE2.get(("lightgcn" if s == "uniform" else s, d))
            rows.append({"dataset": d, "sampler": s, "seeds": int(r["seeds"]), metric: r[metric],
                         f"{metric} std": r[f"{metric} std"], "vs uniform": r[metric] / u[metric] - 1,
                         "convergence epoch": r["convergence epoch"],
                         "uniform convergence epoch": u["convergence epoch"],
                         "epochs vs uniform": r["convergence epoch"] / u["convergence epoch"],
                         "sooner": bool(r["convergence epoch"] < u["convergence epoch"]),
                         "better": bool(r[metric] > u[metric]),
                         f"paper {metric}": p[pos[metric]] if p else float("nan"),
                         "paper vs its LightGCN": p[pos[metric]] / pu[pos[metric]] - 1 if p and pu else float("nan")})
    return pd.DataFrame(rows, columns=cols)


def _fig2_key(rec: dict) -> tuple | None:
    """``(dataset, variant, text weight, negatives)`` of a multi-modal FREEDOM record, else ``None``."""
    if str(rec.get("model", "")).lower() != "freedom" or rec.get("modalities") is None:
        return None
    return (rec["dataset"], rec.get("variant") or "+".join(rec["modalities"]).upper(), modality_weight(rec),
            (rec.get("negatives") or {}).get("source", "uniform"))


def fig2_table(records: list[dict]) -> pd.DataFrame:
    """Fig. 2 (Sec. 2.1): FREEDOM trained with uniform negatives and with Direct Generation negatives, one
    row per (dataset, variant, text weight, negatives) with runs of both kinds; ``text weight`` is the
    weight of FREEDOM's per-modality BPR terms (:func:`modality_weight`; MMRec's 1e-4 unless a run changed
    it). Test :data:`METRICS` as the mean (and ``<metric> std``) over seeds, ``seeds``, and for the direct
    rows the generator, the share of training positives that had a generated negative and the change of
    each metric against uniform sampling, over the seeds both arms ran (``paired seeds`` of them)."""
    rows = []
    for rec in records:
        run_key = _fig2_key(rec)
        if run_key is None:
            continue
        neg = rec.get("negatives") or {}
        rows.append({**dict(zip(("dataset", "variant", "text weight", "negatives"), run_key)), "seed": rec["seed"],
                     "generator": neg.get("generator"), "generated share": neg.get("share_of_train_positives"),
                     "best_epoch": rec["best_epoch"], **{m: rec["test"][m] for m in METRICS}})
    cols = ["dataset", "variant", "text weight", "negatives", "seeds", *METRICS, *(f"{m} std" for m in METRICS),
            "best_epoch", "generator", "generated share", *(f"{m} vs uniform" for m in METRICS), "paired seeds"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    key = ["dataset", "variant", "text weight"]
    both = df.groupby(key)["negatives"].transform(lambda x: {"uniform", "direct"} <= set(x))
    df = df[both.astype(bool)]
    if df.empty:
        return pd.DataFrame(columns=cols)
    g = df.groupby([*key, "negatives"], sort=True)
    out = g[list(METRICS) + ["best_epoch"]].mean()
    out[[f"{m} std" for m in METRICS]] = g[list(METRICS)].std(ddof=1).to_numpy()
    out["seeds"] = g.size()
    out["generator"] = g["generator"].agg(lambda x: ", ".join(sorted({str(v) for v in x if v})) or None)
    out["generated share"] = g["generated share"].mean()
    out = out.reset_index()
    # the change against uniform over the seeds both arms ran (a uniform seed without its direct run, or the
    # reverse, would otherwise mix seed-to-seed spread into the change)
    paired, n_paired = {}, {}
    for k, grp in df.groupby(key, sort=False):
        by_neg = {n: grp[grp["negatives"] == n].set_index("seed") for n in ("uniform", "direct")}
        seeds = sorted(set(by_neg["uniform"].index) & set(by_neg["direct"].index))
        paired[k] = {m: (by_neg["direct"].loc[seeds, m].mean() / by_neg["uniform"].loc[seeds, m].mean() - 1
                         if seeds else np.nan) for m in METRICS}
        n_paired[k] = len(seeds)
    keys = [tuple(r) for r in out[key].itertuples(index=False)]
    direct_rows = out["negatives"] == "direct"
    for m in METRICS:
        out[f"{m} vs uniform"] = np.where(direct_rows, [paired[k][m] for k in keys], np.nan)
    out["paired seeds"] = np.where(direct_rows, [n_paired[k] for k in keys], np.nan)
    order = {"uniform": 0, "direct": 1}
    out = out.sort_values([*key, "negatives"], key=lambda c: c.map(order) if c.name == "negatives" else c)
    return out[cols].reset_index(drop=True)


def fig2_pairs(records: list[dict]) -> list[tuple]:
    """Fig. 2's same-seed pairs: ``((dataset, variant, text weight), seed, direct run, uniform run)`` for every
    Direct Generation FREEDOM run whose uniform twin (same dataset, variant, text weight and seed) exists,
    sorted by dataset, variant, weight and seed."""
    runs = {(*key, rec["seed"]): rec for rec in records if (key := _fig2_key(rec)) is not None}
    return [((d, var, w), seed, rec, runs[(d, var, w, "uniform", seed)])
            for (d, var, w, neg, seed), rec in sorted(runs.items(), key=lambda kv: (*kv[0][:3], kv[0][4]))
            if neg == "direct" and (d, var, w, "uniform", seed) in runs]


def fig2_significance(records: list[dict], metric: str = "recall@20") -> pd.DataFrame:
    """Paired t-tests over test users for Fig. 2: each Direct Generation FREEDOM run against the uniform run
    of the same dataset, variant, text weight and seed (both need their ``<stem>.per_user.npz``). Columns:
    ``dataset, variant, text weight, seed, direct, uniform, mean_diff, t, p, n_users, note``
    (``mean_diff`` = direct - uniform)."""

    cols = ["dataset", "variant", "text weight", "seed", "direct", "uniform", "mean_diff", "t", "p", "n_users", "note"]
    out = []
    for (d, var, w), seed, rec, uni in fig2_pairs(records):
        row = {"dataset": d, "variant": var, "text weight": w, "seed": seed, "direct": rec["test"][metric],
               "uniform": uni["test"][metric], "mean_diff": np.nan, "t": np.nan, "p": np.nan, "n_users": 0, "note": ""}
        paths = [per_user_path(r["_path"]) if "_path" in r else None for r in (rec, uni)]
        missing = [p.name if p else "(a run not read from a file)" for p in paths if p is None or not p.exists()]
        if missing:
            row["note"] = f"no per-user file: {', '.join(missing)}"
        else:
            try:
                test = paired_ttest(load_per_user(paths[0]), load_per_user(paths[1]))[metric]
            except ValueError as exc:
                row["note"] = f"{paths[0].name}: {exc}"
            else:
                row.update(mean_diff=test["mean_diff"], t=test["t"], p=test["p"], n_users=test["n_users"])
        out.append(row)
    return pd.DataFrame(out, columns=cols)
