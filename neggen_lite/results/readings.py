"""The sentences of ``results/README.md`` that read Table 2 and the sampler block against the paper, written
from the run records so that a new seed or run can never leave a stale number in the prose: the BPR and
LightGCN rows against the paper (:func:`table2_reading`), their seeds (:func:`seeds_markdown`), the hard
samplers against uniform sampling (:func:`sampler_reading`), FREEDOM's text-only rows against Table 1
(:func:`freedom_reading`), the best baseline we ran on a dataset (:func:`best_baseline_phrase`), the runs of
NegGen's printed objective (:func:`printed_reading`) and Fig. 2's FREEDOM runs (:func:`fig2_reading`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.data import PAPER_TABLE3
from ..core.paper import PAPER_ROW_NAMES, PAPER_TABLE2, PAPER_TABLE5
from ..core.paths import REPO_ROOT
from .quantities import fmt_p, fmt_pct
from .records import METRICS, is_mmrec_weight, table_row
from .tables import (OTHER_SETTING, best_baseline, comparison_table, fig2_pairs, fig2_significance, fmt_mean_std,
                     sampler_vs_uniform)

#: |ours / paper - 1| up to which a row is "close to the paper"; above :data:`FAR`, a dataset is an exception
CLOSE, FAR = 0.05, 0.10
#: a sampler within this relative distance of uniform sampling is "level" with it
LEVEL = 0.01

#: what we know about a dataset's split that moves every row on it (``data/README.md``)
SPLIT_NOTES = {
    "beauty": ("Two reasons we can name, neither of which we can separate offline: (1) Beauty's valid/test "
               "split is our own seeded draw under MMRec's rule (MMRec's original Beauty files could not be "
               "obtained; `data/README.md`, Caveat 2), and (2) the paper's LightGCN row is also low on Baby."),
}

#: MMRec's published LightGCN on Baby (its README's table), the outside reference for the paper's LightGCN row
MMREC_LIGHTGCN_BABY = 0.075


def _name(d: str) -> str:
    return d.capitalize()


def _pct(x: float) -> str:
    """``0.204`` -> ``"20 %"`` (the size of a relative change, without its sign)."""
    return f"{abs(x) * 100:.0f} %"


def _spct(x: float) -> str:
    """``-0.204`` -> ``"-20 %"``, ``0.001`` -> ``"0 %"`` (a relative change, signed where it rounds to non-zero)."""
    v = round(x * 100)
    return f"{v:+d} %" if v else "0 %"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _loss_falls_after_best(rec: dict) -> bool:
    """Whether a run's training loss at its last epoch is below the loss at its best validation epoch."""
    loss = {h["epoch"]: h.get("loss") for h in rec.get("history") or []}
    last, best = loss.get(rec.get("epochs")), loss.get(rec.get("best_epoch"))
    return last is not None and best is not None and last < best


def _rows(records: list[dict], model: str):
    df = comparison_table(records)
    if df.empty:
        return []
    return [(d, r) for (d, m), r in df.iterrows() if m == model]


def table2_reading(records: list[dict]) -> str:
    """Bullets on Table 2's LightGCN and BPR rows against the paper's: how far each dataset's mean test Recall@20
    is from the paper's, the datasets more than :data:`FAR` away (with what we know of their split), and, for
    BPR, the best epochs and the paper's NDCG/Recall ratio where it is unlike every other row of its Table 2."""
    out = []
    lg = _rows(records, "lightgcn")
    if lg:
        rel = {d: r["ours recall@20"] / r["paper recall@20"] - 1 for d, r in lg}
        above = sum(v >= -0.005 for v in rel.values())
        head = ("reaches or exceeds the paper's LightGCN row on every dataset" if above == len(rel) else
                f"reaches or exceeds the paper's LightGCN row on {above} of {len(rel)} datasets")
        cells = []
        for d, r in lg:
            seeds = int(r["seeds"])
            runs = sorted(x["test"]["recall@20"] for x in records if x["dataset"] == d and table_row(x) == "lightgcn")
            extra = f" (mean of {seeds} seeds; every seed >= {runs[0]:.4f})" if seeds > 1 else " (one seed)"
            cells.append(f"{_name(d)} {r['ours recall@20']:.4f}{extra} against {r['paper recall@20']:.4f} "
                         f"({_spct(rel[d])})")
        text = f"* **LightGCN {head}** (test Recall@20, ours against the paper's): {_join(cells)}."
        far = {d: r for d, r in lg if rel[d] > FAR}
        if "baby" in far and abs(far["baby"]["ours recall@20"] / MMREC_LIGHTGCN_BABY - 1) <= CLOSE:
            text += (f" On Baby ours is within {_pct(CLOSE)} of MMRec's published LightGCN (about "
                     f"{MMREC_LIGHTGCN_BABY}), so the paper's Baby row looks under-tuned rather than ours over-tuned.")
            del far["baby"]
        out.append(text)
        for d, r in far.items():
            ours = r["ours recall@20"]
            near = sorted((PAPER_ROW_NAMES.get(m, m), v[1]) for (m, dd), v in PAPER_TABLE2.items()
                          if dd == d and m != "lightgcn" and abs(v[1] / ours - 1) <= 0.01)
            s = (f"* **{_name(d)} is the exception: our LightGCN is {_pct(rel[d])} above the paper "
                 f"({ours:.4f} vs {r['paper recall@20']:.4f}).** " + SPLIT_NOTES.get(d, ""))
            if near:
                s += (f" At {ours:.4f} our LightGCN sits at the level of the paper's "
                      f"{_join([f'{n} ({v:.4f})' for n, v in near])} on {_name(d)}, so the margin the paper "
                      f"reports for NegGen over graph baselines on {_name(d)} cannot be taken at face value for "
                      "this split.")
            out.append(s.rstrip())
    bpr = _rows(records, "bpr")
    if bpr:
        rel = {d: r["ours recall@20"] / r["paper recall@20"] - 1 for d, r in bpr}
        close = [_name(d) for d, _ in bpr if abs(rel[d]) <= CLOSE]
        far = [f"{_pct(rel[d])} {'below' if rel[d] < 0 else 'above'} on {_name(d)} "
               f"({r['ours recall@20']:.4f} vs {r['paper recall@20']:.4f})" for d, r in bpr if abs(rel[d]) > CLOSE]
        head = _join(([f"within {_pct(CLOSE)} of the paper on {_join(close)}"] if close else []) + far)
        runs = [x for x in records if table_row(x) == "bpr"]
        epochs = [x["best_epoch"] for x in runs]
        falling = sum(_loss_falls_after_best(x) for x in runs)
        text = (f"* **BPR-MF's test Recall@20 is {head}.** With learning rate 1e-3 and L2 weight 1e-4, matrix "
                f"factorisation peaks early: best epochs {min(epochs)}-{max(epochs)}, and in {falling} of the "
                f"{len(runs)} runs the training loss keeps falling after the best epoch.")
        worst = min(rel, key=rel.get)
        sparsest = min(rel, key=lambda d: PAPER_TABLE3[d]["density"])
        if rel[worst] < -CLOSE and worst == sparsest:
            text += (f" {_name(worst)}, the sparsest dataset (density {PAPER_TABLE3[worst]['density']}), "
                     "is the furthest below.")
        text += (" We did not tune BPR's regularisation: the paper gives no BPR hyper-parameters, and tuning one "
                 "baseline on the test split is exactly what this project does not do.")
        for d, r in bpr:
            ratio = {k: v[3] / v[1] for k, v in PAPER_TABLE2.items()}
            others = [v for k, v in ratio.items() if k != ("bpr", d)]
            mine = ratio.get(("bpr", d))
            if mine is not None and not min(others) <= mine <= max(others):
                text += (f" Our BPR NDCG@20 on {_name(d)} ({r['ours ndcg@20']:.4f}) is "
                         f"{_spct(r['ours ndcg@20'] / r['paper ndcg@20'] - 1)} against the paper's "
                         f"({r['paper ndcg@20']:.4f}), whose NDCG@20 / Recall@20 ratio ({mine:.2f}) is unlike "
                         f"every other row of its Table 2 ({min(others):.2f}-{max(others):.2f}).")
        out.append(text)
    return "\n".join(out) + "\n" if out else "_no BPR or LightGCN runs yet_\n"


def seeds_markdown(records: list[dict], models=("bpr", "lightgcn")) -> str:
    """Every seed of Table 2's ``models`` rows (uniform sampling) on the datasets where one has several, with
    the mean ± sample standard deviation over seeds, and a sentence setting the largest standard deviation of
    test Recall@20 against the smallest gap between ours and the paper's in those rows."""
    lines = ["| dataset | model | seed | best epoch | " + " | ".join(METRICS) + " |",
             "|---|---|---|---|" + "---|" * len(METRICS)]
    stds, gaps = [], []
    for d in sorted({r["dataset"] for r in records}):
        for m in models:
            runs = sorted((r for r in records if r["dataset"] == d and table_row(r) == m), key=lambda r: r["seed"])
            if len(runs) < 2:
                continue
            for r in runs:
                lines.append(f"| {d} | {m} | {r['seed']} | {r['best_epoch']} | "
                             + " | ".join(f"{r['test'][k]:.4f}" for k in METRICS) + " |")
            vals = {k: np.array([r["test"][k] for r in runs]) for k in METRICS}
            lines.append(f"| **{d}** | **{m}** | mean ± std | | " + " | ".join(
                f"**{fmt_mean_std(float(v.mean()), float(v.std(ddof=1)), len(v), show_n=False)}**"
                for v in vals.values()) + " |")
            stds.append((float(vals["recall@20"].std(ddof=1)), f"{d} {m}"))
            paper = PAPER_TABLE2.get((m, d))
            if paper:
                gaps.append((abs(float(vals["recall@20"].mean()) - paper[1]), f"{d} {m}"))
    if not stds:
        return "_no row with several seeds yet_\n"
    big, small = max(stds), min(gaps) if gaps else None
    text = (f"The largest standard deviation of test Recall@20 over seeds here is {big[0]:.4f} ({big[1]})"
            + (f"; the smallest distance from the paper's number in these rows is {small[0]:.4f} ({small[1]}), "
               f"{small[0] / big[0]:.0f}x that" if small and small[0] >= big[0] else
               f"; the smallest distance from the paper's number, {small[0]:.4f} ({small[1]}), is within it"
               if small else "") + ".")
    return "\n".join(lines) + "\n\n" + text + "\n"


def sampler_reading(records: list[dict], metric: str = "recall@20") -> str:
    """Two bullets on the hard samplers against uniform sampling (:func:`sampler_vs_uniform`): in how many
    (dataset, sampler) cells our change and the paper's change against its LightGCN have opposite signs, with
    our changes per dataset, and which sampler is lowest on each dataset, ours and the paper's."""
    sv = sampler_vs_uniform(records, metric)
    hard = sv[(sv["sampler"] != "uniform") & sv["paper vs its LightGCN"].notna()]
    if hard.empty:
        return "_no sampler runs beside a uniform run yet_\n"
    moved = hard[hard["vs uniform"].abs() >= LEVEL]
    flips = int((np.sign(moved["vs uniform"]) != np.sign(moved["paper vs its LightGCN"])).sum())
    level = len(hard) - len(moved)
    per = []
    for d, x in hard.groupby("dataset", sort=True):
        per.append(f"{_name(d)} " + ", ".join(f"{PAPER_ROW_NAMES.get(s, s)} {_spct(v)}"
                                               for s, v in zip(x["sampler"], x["vs uniform"])))
    p = hard["paper vs its LightGCN"]
    out = [f"* **Whether a sampler beats uniform depends on the dataset, and our signs often differ from the "
           f"paper's:** in {flips} of {len(hard)} (dataset, sampler) cells our change against uniform sampling and "
           f"the paper's against its LightGCN point in opposite directions"
           + (f" ({level} more of ours within {_pct(LEVEL)} of uniform)" if level else "")
           + f". Ours: {'; '.join(per)}. The paper's changes span {_spct(p.min())} to {_spct(p.max())}."]
    lowest = {d: x.loc[x["vs uniform"].idxmin()] for d, x in hard.groupby("dataset", sort=True)}
    paper_low = {d: x.loc[x["paper vs its LightGCN"].idxmin()] for d, x in hard.groupby("dataset", sort=True)}
    names = {r["sampler"] for r in lowest.values()}
    if len(names) == 1:
        s = names.pop()
        same = all(r["sampler"] == s for r in paper_low.values())
        ours = _join([f"{_pct(r['vs uniform'])}" + (" below uniform" if k == 0 else "") + f" on {_name(d)}"
                      for k, (d, r) in enumerate(lowest.items())])
        theirs = [-paper_low[d]["paper vs its LightGCN"] * 100 for d in paper_low]
        out.append(f"* **{PAPER_ROW_NAMES.get(s, s)} is the lowest row on every dataset** ({ours}); in the paper "
                   + (f"it is also the lowest sampler on every dataset, but only {min(theirs):.0f}-{max(theirs):.0f} % "
                      "below its LightGCN." if same else "the lowest sampler differs by dataset."))
    else:
        out.append("* The lowest sampler differs by dataset: " + "; ".join(
            f"{_name(d)} {PAPER_ROW_NAMES.get(r['sampler'], r['sampler'])} ({_spct(r['vs uniform'])})"
            for d, r in lowest.items()) + ".")
    several = hard[hard["seeds"] > 1]
    if len(several):
        dist = (several["vs uniform"].abs() * several[metric] / (1 + several["vs uniform"]))  # |ours - uniform|
        clear = dist > 3 * several[f"{metric} std"]
        odd = [f"{_name(r.dataset)} {PAPER_ROW_NAMES.get(r.sampler, r.sampler)}" for _, r in several[~clear].iterrows()]
        uni = sv[sv["sampler"] == "uniform"]
        one = [_name(d) for d, n in zip(uni["dataset"], uni["seeds"]) if n == 1]
        out.append(f"* Seeds: the ± is the sample standard deviation over seeds. In {int(clear.sum())} of "
                   f"{len(several)} cells with several seeds a sampler's distance from uniform is more than three "
                   "times its seed-to-seed standard deviation" + (f" (not: {_join(odd)})" if odd else "") + "."
                   + (f" Uniform sampling has one seed on {_join(one)}, so the \"vs our uniform\" column rests on "
                      "that single run there." if one else " Uniform sampling has several seeds on every dataset."))
    return "\n".join(out) + "\n"


def freedom_reading(records: list[dict]) -> str:
    """FREEDOM's text-only rows, dataset by dataset: test Recall@20 and NDCG@20 (mean ± std over seeds), the
    best epochs and the paper's Table 1 "textual only" numbers, the same setting."""
    df = comparison_table(records)
    parts = []
    for (d, m), r in (df.iterrows() if not df.empty else []):
        if m != "freedom (T)":
            continue
        epochs = sorted(x["best_epoch"] for x in records if x["dataset"] == d and
                        table_row(x) == m)
        n = int(r["seeds"])
        ours = fmt_mean_std(r["ours recall@20"], r["ours recall@20 std"], n, show_n=False)
        span = f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else f"{epochs[0]}"
        if r["paper row"] in OTHER_SETTING:
            paper = (f" (the paper has no text-only row here; its {r['paper row']} row, another setting, has "
                     f"{r['paper recall@20']:.4f} / {r['paper ndcg@20']:.4f})")
        elif r["paper recall@20"] == r["paper recall@20"]:
            paper = (f" against the paper's {r['paper row']} row, {r['paper recall@20']:.4f} / "
                     f"{r['paper ndcg@20']:.4f} ({_spct(r['ours recall@20'] / r['paper recall@20'] - 1)} in Recall@20)")
        else:
            paper = " (the paper has no row here)"
        parts.append(f"{_name(d)} {ours} / {r['ours ndcg@20']:.4f} over {n} seed{'s' * (n > 1)} "
                     f"(best epoch{'s' * (len(epochs) > 1)} {span}){paper}")
    if not parts:
        return "no text-only FREEDOM run yet"
    return "test Recall@20 / NDCG@20 " + "; ".join(parts)


def best_baseline_phrase(records: list[dict], dataset: str, metric: str = "recall@20", sig=None) -> str:
    """"dragon (T), the best baseline we ran on Beauty (test Recall@20 0.1573 ± 0.0019 over 3 seeds)", and
    with ``sig`` (:func:`neggen_lite.results.tables.significance_table` of the dataset) how many of those NegGen
    runs it is above and the largest p of their paired t-tests."""
    row, runs = best_baseline(records, dataset, metric)
    if row is None:
        return f"no baseline run on {_name(dataset)} yet"
    v = np.array([r["test"][metric] for r in runs])
    ours = fmt_mean_std(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v), show_n=False)
    text = (f"{row}, the best baseline we ran on {_name(dataset)} (test {metric.capitalize()} {ours} over "
            f"{len(v)} seed{'s' * (len(v) > 1)})")
    if sig is not None and len(sig):
        tested = sig[sig["p"].notna()]
        below = int((tested["mean_diff"] < 0).sum())
        share = "all" if below == len(sig) else f"{below} of the"
        text += (f", is above {share} {len(sig)} NegGen runs of the table above"
                 + (f" (paired t-tests over users, every p <= {tested['p'].max():.0e})" if len(tested) else ""))
    return text


#: the Fig. 7 hyper-parameters by their record names
SWEEP_NAMES = {"lam": "λ", "alpha": "α", "tau": "τ"}

#: the training loss under which a NegGen run's causal branch has learned its task (:func:`printed_reading`)
LOSS_LEARNED = 0.005


def _epoch_below(rec: dict, threshold: float) -> int | None:
    """The first epoch of a record's ``history`` whose training loss is under ``threshold`` (None if none)."""
    return next((h["epoch"] for h in rec.get("history") or [] if h.get("loss") is not None and h["loss"] < threshold),
                None)


def _seeds_word(n: int) -> str:
    return {1: "one seed", 2: "two seeds", 3: "three seeds", 4: "four seeds", 5: "five seeds"}.get(n, f"{n} seeds")


def printed_reading(df, records: list[dict], sig: dict | None = None) -> str:
    """The findings of NegGen's runs of Eq. 19-21 as printed (a :func:`neggen_lite.results.tables.load_neggen`
    frame): the full model against its same-seed bases and the best baseline (``sig``: dataset ->
    :func:`neggen_lite.results.tables.significance_table`), the Table 5 variants and the variant that moves above
    its base, how soon the causal branch learns, the printed Eq. 20, the fine-tuned base and the Fig. 7 sweeps."""
    d = df[df["objective"] == "printed"] if len(df) else df
    if d.empty:
        return "_no runs of the printed objective yet_\n"
    main = d[(d["setting"] == "default") & d["param"].isna()]
    full = main[main["variant"] == "full"]
    up = full[(full["diff recall@20"] > 0) & (full["p recall@20"] < 0.05)]
    head = ("does not improve on LightGCN here" if up.empty else
            f"improves on its same-seed LightGCN in {len(up)} of {len(full)} runs (p < 0.05)")
    out = [f"* **NegGen {head}, and it is well below the best baseline.**"]
    for ds, x in full.groupby("dataset", sort=True):
        x = x.sort_values("seed")
        n = len(x)
        rule_only = bool((x["model_negatives"] == 0).all())
        s = (f"  * {_name(ds)}, {_seeds_word(n)}{' with rule-based negatives only' if rule_only else ''}: the full "
             f"model's test Recall@20 is "
             f"{fmt_mean_std(x['recall@20'].mean(), x['recall@20'].std(), n, show_n=False)} against "
             f"{x['base recall@20'].mean():.4f} for its same-seed base{'s' * (n > 1)}; ")
        ps = x["p recall@20"]
        if n > 1:
            sig_seeds = x[ps < 0.05]
            s += f"the paired t-tests against the base give p between {ps.min():.2g} and {ps.max():.2g} per seed"
            below = int((sig_seeds["diff recall@20"] < 0).sum())
            if len(sig_seeds) == 1:
                s += f", and the one seed below 0.05 is *{'below' if below else 'above'}* its base"
            elif len(sig_seeds):
                s += f", and {below} of the {len(sig_seeds)} seeds below 0.05 are *below* their base"
        else:
            s += f"paired t-test against the base p = {ps.iloc[0]:.2g}"
        s += f". {best_baseline_phrase(records, ds, sig=(sig or {}).get(ds))}."
        out.append(s)
    pg = PAPER_TABLE2[("neggen", "baby")][1] / PAPER_TABLE2[("lightgcn", "baby")][1] - 1
    out.append(f"  * The paper reports {pg * 100:+.1f} % over its LightGCN on Baby "
               f"({PAPER_TABLE2[('neggen', 'baby')][1]:.4f} against {PAPER_TABLE2[('lightgcn', 'baby')][1]:.4f}) and "
               "significance against its best baseline at p < 0.01.")
    # Table 5's variants
    parts = []
    for ds, x in main.groupby("dataset", sort=True):
        g = x.groupby("variant")["recall@20"]
        if g.size().min() > 1 and g.ngroups > 1:
            parts.append(f"on {_name(ds)} all {g.ngroups} variants are within {g.mean().max() - g.mean().min():.4f} of "
                         f"each other (standard deviations over seeds {g.std().min():.4f}-{g.std().max():.4f})")
    movers = main[(main["diff recall@20"] > 0) & (main["p recall@20"] < 0.05)]
    joined = "; ".join(parts)
    text = "* **The ablations of Table 5 do not order as in the paper.** " + (joined[:1].upper() + joined[1:] + "."
                                                                             if parts else "")
    if len(movers):
        names = sorted(set(movers["variant"]))
        where = _join([f"{_name(r.dataset)} seed {r.seed} ({r['diff recall@20']:+.4f} Recall@20, "
                       f"p = {r['p recall@20']:.1g}, best epoch {r.best_epoch})" for _, r in movers.iterrows()])
        if names == ["w/o both"]:
            text += (" The one variant that ever moves above its base (p < 0.05) is *w/o both* -- uniform negatives "
                     f"and a plain MLP over the text embedding, i.e. a text-feature term added to LightGCN's score: "
                     f"{where}.")
        else:
            text += f" Variants above their base (p < 0.05): {where}."
    else:
        text += " No variant moves above its base at p < 0.05."
    pb = {v: PAPER_TABLE5[("baby", v)][1] for v in ("full", "w/o NEG", "w/o CF", "w/o both")}
    cost = [1 - pb[v] / pb["full"] for v in ("w/o NEG", "w/o CF")]
    worst = min(pb, key=pb.get)
    text += (f" In the paper *{worst}* is the worst variant on Baby and removing one component costs "
             f"{min(cost) * 100:.0f}-{max(cost) * 100:.0f} % of Recall@20 there.")
    if len(movers) and set(movers["variant"]) == {"w/o both"}:
        text += (" What helps here is text as a feature, as FREEDOM shows far more strongly, not the generated "
                 "negatives or the causal difference.")
    out.append(text)
    # how soon the causal branch learns
    by_path = {str(r.get("_path")): r for r in records}
    learned = [_epoch_below(by_path[str(p)], LOSS_LEARNED) for p in full["path"] if str(p) in by_path]
    text = (f"* **The causal branch learns its task too quickly to matter.** The best validation epoch of the full "
            f"model is {full['best_epoch'].min()}-{full['best_epoch'].max()}")
    if learned and all(e is not None for e in learned):
        text += f" and its training loss falls below {LOSS_LEARNED} by epoch {max(learned)} in every run"
    out.append(text + ". Eq. 19's negative term involves only the item's own generated negative, never another "
               "item's score, so the module can separate the two without changing how items rank against each other.")
    for setting, what in (("align=printed", "**The printed Eq. 20 is unbounded below, and training with it "
                                            "collapses**"), ("base=finetune", "**Fine-tuning the base instead of "
                                                                            "freezing it**")):
        for _, r in d[d["setting"] == setting].sort_values("seed").iterrows():
            out.append(f"* {what}: seed {r.seed}, test Recall@20 {r['recall@20']:.4f} against the frozen base's "
                       f"{r['base recall@20']:.4f} ({r['recall@20'] - r['base recall@20']:+.4f}, "
                       f"{fmt_p(r['p recall@20'])}), best epoch {r.best_epoch}"
                       + ("; the bounded two-way form is what every other run uses." if setting == "align=printed"
                          else "."))
    sw = d[d["setting"] == "sweep"]
    spread = main.groupby(["dataset", "variant"])["recall@20"].std().dropna()
    if len(sw):
        bits = []
        for param, x in sw.groupby("param", sort=True):
            x = x.sort_values("value")
            best = x.loc[x["recall@20"].idxmax()]
            v = x["value"].to_numpy(float)
            logs = v.min() > 0 and v.max() / v.min() >= 100  # values over decades (α): correlate with log10
            rho = float(np.corrcoef(np.log10(v) if logs else v, x["recall@20"])[0, 1]) if len(x) > 2 else float("nan")
            flat = len(spread) and x["recall@20"].max() - x["recall@20"].min() <= spread.max()
            trend = ("stays within the seed-to-seed spread" if flat else "falls as it grows" if rho < -0.5
                     else "rises as it grows" if rho > 0.5 else "shows no trend")
            bits.append(f"{SWEEP_NAMES.get(param, param)} (values {x['value'].min():g}-{x['value'].max():g}): "
                        f"best at {best.value:g} "
                        f"({best['recall@20']:.4f}), spread {x['recall@20'].max() - x['recall@20'].min():.4f}, "
                        f"Recall@20 {trend} (correlation{' with log10' if logs else ''} {rho:+.2f})")
        seeds = sorted(set(sw["seed"]))
        text = (f"* **Sweeps (Fig. 7, seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}):** "
                + "; ".join(bits) + ".")
        if "lam" in set(sw["param"]) and sw[sw["param"] == "lam"].sort_values("recall@20").iloc[-1].value == 0:
            text += " λ = 0 is the base itself; the paper's optimum is 0.4-0.6."
        if len(spread):
            text += (f" Single runs: the seed-to-seed standard deviation of the variants above is "
                     f"{spread.min():.4f}-{spread.max():.4f}.")
        out.append(text)
    return "\n".join(out) + "\n"


#: the change against uniform sampling under which Fig. 2's two arms count as level
FIG2_LEVEL = 0.01
#: the last epochs of a run whose text-term diagnostics are averaged (chapter 2 does the same)
LAST_EPOCHS = 10


def _fig2_pairs(records: list[dict], mmrec: bool):
    """``{dataset: [(direct, uniform), ...]}``: :func:`neggen_lite.results.tables.fig2_pairs` at MMRec's text-term
    weight (``mmrec``) or at any other weight."""
    pairs: dict[str, list] = {}
    for (d, _, w), _, rec, uni in fig2_pairs(records):
        if bool(is_mmrec_weight(w)) == mmrec:
            pairs.setdefault(d, []).append((rec, uni))
    return pairs


def _change(pairs: list[tuple], metric: str = "recall@20") -> float:
    """The relative change of the direct runs' mean ``metric`` against their uniform twins' mean."""
    return float(np.mean([a["test"][metric] for a, _ in pairs]) / np.mean([b["test"][metric] for _, b in pairs]) - 1)


def _last(rec: dict, key: str) -> float:
    hist = [h[key] for h in rec.get("history") or [] if h.get(key) is not None]
    return float(np.mean(hist[-LAST_EPOCHS:])) if hist else float("nan")


def fig2_reading(records: list[dict], part: str) -> str:
    """Fig. 2's readings, from the FREEDOM runs' records and their caches' manifests. ``part``: ``"mmrec"``
    (at MMRec's text-term weight: the change against uniform over paired seeds, the best epochs, the paired
    t-tests), ``"easy"`` (how close the negatives sit to their positives, refusals, and the text term's loss and
    Eq. 3 gradient over the last :data:`LAST_EPOCHS` epochs against uniform negatives) or ``"heavy"`` (the
    runs with another text-term weight)."""
    sig = fig2_significance(records)
    pairs = _fig2_pairs(records, mmrec=part != "heavy")
    if not pairs:
        return "_no paired Fig. 2 runs yet_"
    if part == "mmrec":
        parts, level, below = [], True, False
        for d, ps in pairs.items():
            ch = _change(ps)
            same_epoch = sum(a["best_epoch"] == b["best_epoch"] for a, b in ps)
            s = sig[(sig["dataset"] == d) & sig["n_users"].gt(0)]
            s = s[s["text weight"].map(is_mmrec_weight).astype(bool)]
            ident = int((~np.isfinite(s["p"])).sum())
            ps_ = s["p"][np.isfinite(s["p"])]
            level &= abs(ch) < FIG2_LEVEL and not (ps_ < 0.05).any()
            below |= ch <= -FIG2_LEVEL
            tests = ([f"the users' values are identical in {ident} of {len(s)} seeds"] if ident else []) + (
                [f"the paired t-tests give p between {ps_.min():.2g} and {ps_.max():.2g}"] if len(ps_) > 1 else
                [f"the paired t-test gives p = {ps_.iloc[0]:.2g}"] if len(ps_) else [])
            parts.append(f"on {_name(d)}, over {_seeds_word(len(ps))}, Direct Generation ends {fmt_pct(ch)} in "
                         f"mean test Recall@20 against uniform sampling, at the same best epoch in {same_epoch} of {len(ps)}"
                         + (f"; {' and '.join(tests)}" if tests else ""))
        head = ("With MMRec's settings, Direct Generation negatives change almost nothing" if level else
                "With MMRec's settings, Direct Generation negatives move the result")
        text = "; ".join(parts)
        return (f"* **{head}:** {text[:1].upper() + text[1:]}. The paper shows Direct Generation below uniform "
                "sampling on Baby and Beauty (Fig. 2, bars without numbers)." + ("" if below else " We do not reproduce that."))
    if part == "easy":
        parts = []
        for d, ps in pairs.items():
            cache = (ps[0][0].get("negatives") or {}).get("cache")
            man = Path(REPO_ROOT) / str(cache).replace(".jsonl.gz", ".manifest.json") if cache else None
            m = json.loads(man.read_text()) if man and man.exists() else {}
            hard = m.get("hardness_model") or {}
            grad = np.mean([_last(a, "neg_grad_norm_t") / _last(b, "neg_grad_norm_t") for a, b in ps])
            loss = np.mean([_last(a, "bpr_t") / _last(b, "bpr_t") for a, b in ps])
            s = f"{_name(d)}: "
            if hard:
                s += (f"cosine {hard['cos_original_generated']:.2f} to the positive against "
                      f"{hard['cos_original_random_item']:.2f} for a random item, ")
            if m.get("refusals_share") is not None:
                s += f"{m['refusals_share'] * 100:.1f} % refusals (\"None\"), "
            s += (f"and over the last {LAST_EPOCHS} epochs a text BPR loss {loss:.2f} times and an Eq. 3 gradient "
                  f"{grad:.2f} times those of uniformly sampled items (mean of {len(ps)} seed pair"
                  f"{'s' * (len(ps) > 1)})")
            parts.append(s)
        return "; ".join(parts)
    parts, above = [], True
    for d, ps in pairs.items():
        w = ps[0][0]["config"].get("reg")
        ch = _change(ps)
        up = sum(a["test"]["recall@20"] > b["test"]["recall@20"] for a, b in ps)
        s = sig[(sig["dataset"] == d) & sig["text weight"].map(lambda x: abs(x - float(w)) < 1e-12).astype(bool)
                & sig["n_users"].gt(0)]
        mm = {r["seed"]: r for r in records if r["dataset"] == d and table_row(r) == "freedom (T)"}
        base = [(b, mm[b["seed"]]) for _, b in ps if b["seed"] in mm]
        cost = (np.mean([b["test"]["recall@20"] for b, _ in base]) / np.mean([m["test"]["recall@20"] for _, m in base])
                - 1) if base else float("nan")
        end = np.mean([_last(a, "bpr_t") for a, _ in ps])
        above &= ch > 0
        parts.append(f"on {_name(d)} with the text term weighted {float(w):g}, Direct Generation ends {fmt_pct(ch)} in "
                     f"test Recall@20 against uniform sampling, higher in {up} of {len(ps)} seeds"
                     + (f" (paired t-tests p between {s['p'].min():.2g} and {s['p'].max():.2g})" if len(s) > 1 else
                        f" (paired t-test p = {s['p'].iloc[0]:.2g})" if len(s) else "")
                     + (f"; uniformly sampled text negatives at this weight end {fmt_pct(cost)} against MMRec's weight "
                        f"on the same seeds" if base else "")
                     + f"; the text BPR loss on the generated negatives averages {end:.4f} over the last "
                       f"{LAST_EPOCHS} epochs")
    text = "; ".join(parts)
    head = ("Direct Generation ends above uniform, not below" if above else
            "Direct Generation does not end above uniform everywhere")
    return f"* **With a heavier text term, {head}:** {text[:1].upper() + text[1:]}."


def same_seed_reading(records: list[dict], metric: str = "recall@20") -> str:
    """Whether a standalone LightGCN run (Table 2's row) and the pre-trained base that a NegGen run of the same
    dataset and seed trained for itself, in its own process and often at another commit, reach the same test
    ``metric`` to the last digit: the "same seed, same numbers" rule checked across the records."""
    lightgcn = {(r["dataset"], r["seed"]): r for r in records if table_row(r) == "lightgcn"}
    bases: dict[tuple, set] = {}
    for r in records:
        base = (r.get("base") or {}).get("test", {}).get(metric)
        if str(r.get("model")).lower() == "neggen" and base is not None and (r["dataset"], r["seed"]) in lightgcn:
            bases.setdefault((r["dataset"], r["seed"]), set()).add(base)
    if not bases:
        return "No standalone LightGCN run shares a dataset and seed with a NegGen run's base yet."
    same = [k for k, v in bases.items() if v == {lightgcn[k]["test"][metric]}]
    commits = {k: lightgcn[k].get("commit", "")[:7] for k in bases}
    differ = [f"{_name(d)} seed {s}" for (d, s) in sorted(set(bases) - set(same))]
    return (f"Of the {len(bases)} (dataset, seed) pairs where a standalone LightGCN run and the bases that NegGen "
            f"runs pre-trained for themselves share a seed, {len(same)} agree in test {metric} to the last digit "
            f"({', '.join(f'{_name(d)} {s}' for d, s in sorted(same))}; the standalone runs at commits "
            f"{', '.join(sorted(set(commits.values())))})" + (f"; these differ: {_join(differ)}" if differ else "")
            + ".")
