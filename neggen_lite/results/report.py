"""Markdown renderings of the result tables, the files written from them (``results/README.md`` from its
template, ``significance.json``, ``fig6.csv``) and the one-line summary of a finished run."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import data
from ..core.paper import PAPER_TABLE2, PAPER_TABLE5
from ..core.paths import CACHE_SUFFIX, RESULTS_DIR, benchmark_path, cache_stem, manifest_path
from ..core.runtime import atomic_write_bytes, atomic_write_json
from ..models.objectives import probe_key, probe_line
from ..neggen.causal import NEGGEN_VARIANTS
from ..samplers.hard import HARD_SAMPLERS
from ..experiments.multimodal import BASELINES
from ..generation import pipeline
from ..generation.backends import ran_on_llamacpp
from .experiment import (ablations_markdown, experiment_findings, experiment_markdown, experiment_table,
                         sampler_audits, sampler_controls, sampler_controls_markdown, sampler_findings)
from .records import METRICS, is_mmrec_weight, load_results, table_row
from .quantities import manifest_hardness
from .readings import (fig2_reading, freedom_reading, printed_reading, same_seed_reading,
                       sampler_reading, seeds_markdown, table2_reading)
from .tables import (comparison_table, fig2_significance, fig2_table, fig6_frame, fmt_mean_std, load_neggen,
                     sampler_vs_uniform, significance_table)


def markdown_table(records: list[dict]) -> str:
    """The comparison as a markdown table: ``ours / paper`` in each cell, and the paper's row it is read from."""
    df = comparison_table(records)
    if df.empty:
        return "_no full-mode results yet_\n"
    head = ("| dataset | model | seeds | best epoch | paper's row | "
            + " | ".join(f"{m} ours / paper" for m in METRICS) + " |")
    lines = [head, "|" + "---|" * (5 + len(METRICS))]
    for (dataset, model), r in df.iterrows():
        paper = {m: "—" if r[f"paper {m}"] != r[f"paper {m}"] else f"{r[f'paper {m}']:.4f}" for m in METRICS}
        cells = " | ".join(f"{r[f'ours {m}']:.4f} / {paper[m]}" for m in METRICS)
        lines.append(f"| {dataset} | {model} | {int(r['seeds'])} | {r['best epoch']:.0f} | "
                     f"{r['paper row'] or '—'} | {cells} |")
    return "\n".join(lines) + "\n"


#: the datasets with item text offline, where the text-only baselines run (Clothing has none)
BASELINE_DATASETS = ("baby", "beauty", "sports")


def baselines_markdown(records: list[dict]) -> str:
    """The text-only runs of the baselines with published settings (MMGCN, BM3, DRAGON, LGMRec, DiffMM; their
    Table 2 rows ``<model> (T)``) per dataset: seeds, test Recall@20 (mean ± std), the paper's two-modality
    number, best epochs and minutes per run (1 CPU thread; a run on another device, such as a lent GPU, is marked
    with it) -- or "not run"."""
    lines = ["| model | dataset | seeds | test recall@20 (T) | paper (V&T) | best epochs | minutes per run |",
             "|---|---|---|---|---|---|---|"]
    for model in BASELINES:
        for dataset in BASELINE_DATASETS:
            runs = sorted((r for r in records if r["dataset"] == dataset and table_row(r) == f"{model} (T)"),
                          key=lambda r: r["seed"])
            paper = PAPER_TABLE2.get((model, dataset))
            pr = f"{paper[1]:.4f}" if paper else "—"
            if not runs:
                lines.append(f"| {model} | {dataset} | not run | | {pr} | | |")
                continue
            r20 = np.array([r["test"]["recall@20"] for r in runs])
            ours = fmt_mean_std(float(r20.mean()), float(r20.std(ddof=1)) if len(r20) > 1 else float("nan"),
                                len(r20), show_n=False)
            minutes = ", ".join(f"{r.get('seconds', float('nan')) / 60:.0f}"
                                + ("" if r.get("device", "cpu") == "cpu" else f" ({r['device']})") for r in runs)
            lines.append(f"| {model} | {dataset} | {', '.join(str(r['seed']) for r in runs)} | {ours} | {pr} | "
                         f"{', '.join(str(r['best_epoch']) for r in runs)} | {minutes} |")
    return "\n".join(lines) + "\n"


def runtime_span(records: list[dict], models=("bpr", "lightgcn")) -> str:
    """The shortest and longest of the full-mode ``models`` runs with uniform negatives (Table 2's BPR and
    LightGCN rows), as "between 39 s (baby bpr) and 52 min (clothing lightgcn)", from their ``seconds``."""
    runs = [r for r in records if r["model"] in models and r.get("sampler", "uniform") == "uniform"
            and not r.get("variant") and r.get("seconds") is not None]
    if not runs:
        return "_no timed runs yet_"

    def fmt(r):
        sec = float(r["seconds"])
        return (f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.0f} min") + f" ({r['dataset']} {r['model']})"

    runs.sort(key=lambda r: float(r["seconds"]))
    return f"between {fmt(runs[0])} and {fmt(runs[-1])}"


#: issue 21's speed goal for the multi-modal baselines: the reference's (MMRec's; DiffMM: the authors') seconds per
#: epoch over ours
BENCH_GOAL = 2.0


def _ratio_cell(r: dict, what: str) -> str:
    """``r``'s wall ratio for ``what`` ("epoch" or "eval"), with the CPU-time ratio beside it where measured."""
    cpu = r.get(f"cpu_{what}_ratio")
    return f"{r[f'{what}_ratio']:.2f}x" + (f" ({cpu:.2f}x CPU)" if cpu is not None else "")


def _timing_cells(r: dict) -> str:
    """A benchmark row's cells, the reference's beside ours: seconds per epoch and their ratio, seconds per
    evaluation and their ratio (wall; CPU time in brackets where measured), validation Recall@20, CPU shares
    (both tables below)."""
    o, f = r["ours"], r["reference"]
    return (f"{f['epoch_s']:.2f} | {o['epoch_s']:.2f} | {_ratio_cell(r, 'epoch')} | {f['eval_s']:.2f} | "
            f"{o['eval_s']:.2f} | {_ratio_cell(r, 'eval')} | {f['recall@20']:.4f} / {o['recall@20']:.4f} | "
            f"{f['cpu_share']:.2f} / {o['cpu_share']:.2f}")


def _met(rows: list[dict], key: str, goal: float, name: str) -> tuple[list[str], list[str]]:
    """The ``name``s of ``rows`` whose ``key`` ratio reaches ``goal``, and of those (with that ratio) that do not."""
    have = [r for r in rows if key in r]
    return [r[name] for r in have if r[key] >= goal], [r[name] for r in have if r[key] < goal]


def bench_mm_markdown(path: str | Path | None = None) -> str:
    """``benchmarks/results/bench_mm_models.json`` (``benchmarks/bench_mm_models.py``) as Markdown: per model
    seconds per epoch and per full evaluation, ours and MMRec's class in the same process, their ratios,
    validation Recall@20 after the last epoch and each side's CPU share; or a line saying it is not measured."""
    path = Path(path) if path else benchmark_path("bench_mm_models")
    if not path.exists():
        return f"_not measured yet (`benchmarks/bench_mm_models.py --mmrec PATH` writes {path.name})_\n"
    b = json.loads(path.read_text())
    runs: dict[tuple, list[str]] = {}  # (commit, load average) -> models; rows of an --update run carry their own
    for r in b["results"]:
        runs.setdefault((str(r.get("commit", b["commit"]))[:9], r.get("load_average", b["load_average"])[0]),
                        []).append(r["model"])
    when = "; ".join(f"commit {c}, load average {la:.1f}" + (f" ({', '.join(ms)})" if len(runs) > 1 else "")
                     for (c, la), ms in runs.items())
    lines = [f"{b['dataset']}, modalities {b['modalities']}, {b['epochs']} epochs ({b['timed_epochs']} timed), "
             f"{b['threads']} thread, {b['cpu_count']} cores; {when}.", "",
             "| model | s/epoch reference | ours | reference / ours | s/eval reference | ours | reference / ours "
             "| valid R@20 reference / ours | CPU share reference / ours |", "|---|---|---|---|---|---|---|---|---|"]
    for r in b["results"]:
        o, f = r["ours"], r.get("reference")
        if f is None:
            lines.append(f"| {r['model']} | — | {o['epoch_s']:.2f} | — | — | {o['eval_s']:.2f} | — | — / "
                         f"{o['recall@20']:.4f} | — / {o['cpu_share']:.2f} |")
            continue
        lines.append(f"| {r['model']} | {_timing_cells(r)} |")
    notes = [f"* {r['model']}: {r['reference_note']}" for r in b["results"] if r.get("reference") is None]
    timed = [r for r in b["results"] if r.get("reference") is not None]
    if timed:
        met, missed = _met(timed, "epoch_ratio", BENCH_GOAL, "model")
        verdict = (f"met by every model with a reference ({', '.join(met)})" if not missed else
                   f"met by {', '.join(met) or 'none'}; not met by {', '.join(missed)}")
        cpu_met, cpu_missed = _met(timed, "cpu_epoch_ratio", BENCH_GOAL, "model")
        if cpu_met or cpu_missed:
            verdict += (f"; in CPU seconds (measured for {', '.join(cpu_met + cpu_missed)}): met by "
                        f"{', '.join(cpu_met) or 'none'}" + (f", not by {', '.join(cpu_missed)}" if cpu_missed else ""))
        notes.append(f"* The goal, at least {BENCH_GOAL:g}x the reference's seconds per epoch: {verdict}.")
    return "\n".join(lines + [""] + notes) + "\n"


def _last_line(error: str) -> str:
    """The last non-empty line of a chapter's error (its exception), for a table cell."""
    lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
    return (lines[-1] if lines else error).replace("|", "/")[:160]


def bench_device_markdown(path: str | Path | None = None, notebooks: str | Path | None = None) -> str:
    """``benchmarks/results/bench_device.json`` (``benchmarks/bench_device.py``) and ``device_notebooks.json``
    (``benchmarks/run_notebooks.py`` on the accelerator) as Markdown: per model seconds per epoch and per
    evaluation on the device and on the same machine's CPU, their ratios and validation Recall@20 of both; per
    chapter whether its latest smoke run with ``device=cuda`` went through (else the error's last line)."""
    path = Path(path) if path else benchmark_path("bench_device")
    if not path.exists():
        return f"_not measured yet (`benchmarks/device_check.sh` on a GPU machine writes {path.name})_\n"
    b = json.loads(path.read_text())
    lines = [f"{b['dataset']}, text features, {b['device_name']} against its machine's CPU ({b['threads']} torch "
             f"threads, {b['cpu_count']} cores), {b['epochs']} epochs on each (epochs 2.. timed), seed {b['seed']}, "
             f"torch {b['torch']}, commit {str(b['commit'])[:9]}.", "",
             "| model | s/epoch GPU | CPU | CPU / GPU | s/eval GPU | CPU | CPU / GPU | valid R@20 GPU / CPU |",
             "|---|---|---|---|---|---|---|---|"]
    for r in b["results"]:
        d, c = r["device"], r["cpu"]
        lines.append(f"| {r['model']} | {d['epoch_s']:.2f} | {c['epoch_s']:.2f} | {r['epoch_ratio']:.1f}x | "
                     f"{d['eval_s']:.3f} | {c['eval_s']:.3f} | {r['eval_ratio']:.1f}x | "
                     f"{d['recall@20']:.4f} / {c['recall@20']:.4f} |")
    gap = max(b["results"], key=lambda r: abs(r["device"]["recall@20"] - r["cpu"]["recall@20"]))
    lines += ["", f"Validation R@20 differs between the devices by at most "
                  f"{abs(gap['device']['recall@20'] - gap['cpu']['recall@20']):.4f} ({gap['model']})."]
    nb_path = Path(notebooks) if notebooks else benchmark_path("device_notebooks")
    if nb_path.exists():
        latest: dict[str, dict] = {}
        for run in json.loads(nb_path.read_text())["runs"]:
            for row in run["results"]:
                latest[row["chapter"]] = row
        ok = [c for c, r in sorted(latest.items()) if r["ok"]]
        lines += ["", f"Chapters in smoke mode with `device=cuda` (the latest run of each): {len(ok)} of "
                      f"{len(latest)} ran through ({', '.join(ok) or 'none'}).", ""]
        lines += [f"* {c}: {_last_line(r['error'])}" for c, r in sorted(latest.items()) if not r["ok"]]
    return "\n".join(lines) + "\n"


#: the trainer's aims against the plain reference LightGCN (issue 21): per training epoch, per full evaluation
TRAIN_GOALS = {"epoch": 3.0, "eval": 5.0}


def bench_train_markdown(path: str | Path | None = None) -> str:
    """``benchmarks/results/bench_train.json`` (``benchmarks/bench_train.py``) as Markdown: per dataset seconds
    per LightGCN epoch and per full evaluation, the reference's and ours, their ratios against the aims
    (:data:`TRAIN_GOALS`), validation Recall@20 of both and the CPU shares; or a line saying it is not measured."""
    path = Path(path) if path else benchmark_path("bench_train")
    if not path.exists():
        return f"_not measured yet (`benchmarks/bench_train.py` writes {path.name})_\n"
    b = json.loads(path.read_text())
    repeats = f"; each ratio the median of {b['repeats']} runs of both, in alternating order" if b.get("repeats") else ""
    lines = [f"LightGCN, {b['epochs']} epochs ({b['timed_epochs']} timed), {b['threads']} thread, {b['cpu_count']} cores; "
             f"commit {str(b['commit'])[:9]}, load average {b['load_average'][0]:.1f}{repeats}.", "",
             "| dataset | s/epoch reference | ours | reference / ours | s/eval reference | ours | reference / ours "
             "| valid R@20 reference / ours | CPU share reference / ours |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {_timing_cells(r)} |" for r in b["results"]]
    aims = []
    for what, goal in TRAIN_GOALS.items():
        met, _ = _met(b["results"], f"{what}_ratio", goal, "dataset")
        cpu_met, cpu_missed = _met(b["results"], f"cpu_{what}_ratio", goal, "dataset")
        cpu = (f" (in CPU seconds: on {', '.join(cpu_met) or 'none'} of {len(cpu_met + cpu_missed)})"
               if cpu_met or cpu_missed else "")
        aims.append(f"{goal:g}x per {'epoch' if what == 'epoch' else 'evaluation'}: met on "
                    f"{', '.join(met) or 'none'} of {len(b['results'])}{cpu}")
    notes = ["* The aims, " + "; ".join(aims) + "."]
    spread = [r for r in b["results"] if r.get("repeat_epoch_ratios")]
    if spread:
        notes.append("* Epoch ratio of each repeat: " + "; ".join(
            f"{r['dataset']} " + ", ".join(f"{x:.2f}x" for x in r["repeat_epoch_ratios"]) for r in spread) + ".")
    floors = [r for r in b["results"] if "floor" in r and "epoch_cpu_s" in r["ours"]]
    if floors:
        notes.append("* What bounds ours, in CPU seconds (`floor`: the work any LightGCN does, timed alone with our "
                     "kernels; a propagation is one batch's forward and backward through the layers): " + "; ".join(
                         f"{r['dataset']}: the {r['floor']['propagations_per_epoch']} propagations of an epoch "
                         f"take {r['floor']['epoch_cpu_s']:.2f} of ours' {r['ours']['epoch_cpu_s']:.2f} s, the score "
                         f"product and top-20 {r['floor']['eval_cpu_s']:.2f} of ours' {r['ours']['eval_cpu_s']:.2f} s "
                         f"per evaluation, so no trainer on these kernels gets past "
                         f"{r['reference']['epoch_cpu_s'] / r['floor']['epoch_cpu_s']:.1f}x per epoch and "
                         f"{r['reference']['eval_cpu_s'] / r['floor']['eval_cpu_s']:.1f}x per evaluation"
                         for r in floors) + ".")
    return "\n".join(lines + [""] + notes) + "\n"


def bench_neggen_markdown(path: str | Path | None = None) -> str:
    """``benchmarks/results/bench_neggen.json`` (``benchmarks/bench_neggen.py``) as Markdown: seconds per NegGen
    epoch and per evaluation with the causal module computed as printed and as ours, their ratios, validation
    Recall@20 and CPU shares; or a line saying it is not measured."""
    path = Path(path) if path else benchmark_path("bench_neggen")
    if not path.exists():
        return f"_not measured yet (`benchmarks/bench_neggen.py` writes {path.name})_\n"
    b = json.loads(path.read_text())
    head = (f"NegGen (`{b['objective']}`) on {b['dataset']}, {b['features']} features, {b['epochs']} epochs, "
            f"{b['threads']} thread, {b['cpu_count']} cores; commit {str(b['commit'])[:9]}, load average "
            f"{b['load_average'][0]:.1f}; each ratio the median of {b['repeats']} runs of both, in alternating order "
            f"(each repeat's epoch ratio: {', '.join(f'{x:.2f}x' for x in b['repeat_epoch_ratios'])}).")
    return "\n".join([head, "", "| dataset | s/epoch printed | ours | printed / ours | s/eval printed | ours | "
                      "printed / ours | valid R@20 printed / ours | CPU share printed / ours |",
                      "|---|---|---|---|---|---|---|---|---|", f"| {b['dataset']} | {_timing_cells(b)} |"]) + "\n"


def neggen_markdown(df: pd.DataFrame, dataset: str) -> str:
    """NegGen's runs of Eq. 19-21 as printed on ``dataset`` (a :func:`load_neggen` frame) as markdown: the
    variants (mean ± std over seeds beside Table 5, the same-seed base, the stored t-test per seed), runs with
    changed settings, and the Fig. 7 sweeps. Runs of the ranking objectives are left to
    :func:`neggen_lite.results.experiment.experiment_markdown` and ``ablations_markdown``."""
    d = df[(df["dataset"] == dataset) & (df["objective"] == "printed")] if len(df) else df
    if d.empty:  # the ranking objectives' runs are the controlled experiment's (:mod:`.experiment`)
        return f"_no full-mode NegGen runs on {dataset}_\n"
    main = d[(d["setting"] == "default") & d["param"].isna()]
    lines = ["| variant | seeds | test recall@20 ours (mean ± std) / paper | test ndcg@20 ours / paper | "
             "same-seed LightGCN base recall@20 | mean difference | paired t-test p per seed | best epochs |",
             "|---|---|---|---|---|---|---|---|"]
    for v in NEGGEN_VARIANTS:
        x = main[main["variant"] == v].sort_values("seed")
        if not len(x):
            continue
        paper = PAPER_TABLE5.get((dataset, v))
        pr, pn = (f"{paper[1]:.4f}", f"{paper[3]:.4f}") if paper else ("—", "—")
        lines.append(f"| {v} | {', '.join(map(str, x.seed))} | "
                     f"{fmt_mean_std(x['recall@20'].mean(), x['recall@20'].std(), len(x), show_n=False)} / {pr} | "
                     f"{x['ndcg@20'].mean():.4f} / {pn} | {x['base recall@20'].mean():.4f} | "
                     f"{x['diff recall@20'].mean():+.4f} | {', '.join(f'{p:.2g}' for p in x['p recall@20'])} | "
                     f"{', '.join(map(str, x.best_epoch))} |")
    other = d[~d["setting"].isin(["default", "sweep"])]
    if len(other):
        lines.append("")
        for _, r in other.sort_values(["setting", "seed"]).iterrows():
            lines.append(f"* `{r.setting}` (seed {r.seed}): test recall@20 {r['recall@20']:.4f} (base "
                         f"{r['base recall@20']:.4f}, p = {r['p recall@20']:.2g}, best epoch {r.best_epoch})")
    sw = d[d["setting"] == "sweep"].sort_values(["param", "value", "seed"])
    if len(sw):
        lines += ["", "| sweep | value | seed | test recall@20 | test ndcg@20 | best epoch |", "|---|---|---|---|---|---|"]
        for _, r in sw.iterrows():
            lines.append(f"| {r.param} | {r.value:g} | {r.seed} | {r['recall@20']:.4f} | {r['ndcg@20']:.4f} | {r.best_epoch} |")
    return "\n".join(lines) + "\n"


def significance_markdown(dataset: str, records: list[dict], table: pd.DataFrame | None = None) -> str:
    """The tested rows of :func:`significance_table` (``table`` where the caller has it) as markdown (rows without a
    test are left out)."""
    df = significance_table(dataset, records) if table is None else table
    lines = ["| dataset | variant | seed | best baseline (seed) | ours R@20 | baseline R@20 | mean difference | t | p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        if r["p"] != r["p"]:
            continue
        lines.append(f"| {dataset} | {r['variant']} | {r['seed']} | {r['baseline']} ({int(r['baseline seed'])}) | "
                     f"{r['ours']:.4f} | {r['theirs']:.4f} | {r['mean_diff']:+.4f} | {r['t']:.2f} | {r['p']:.1e} |")
    return "\n".join(lines) + "\n"


def fig6_markdown(records: list[dict]) -> str:
    """:func:`fig6_frame` as markdown, with the paper's Table 2 Recall@20 of each sampler row."""
    lines = ["| dataset | method | seeds | convergence epoch | epochs incl. base | test NDCG@20 (± std) | test R@20 | "
             "paper R@20 (Table 2) | seconds per run |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in fig6_frame(records).iterrows():
        paper = PAPER_TABLE2.get(("lightgcn" if r["method"] == "uniform" else r["method"], r["dataset"]))
        std = f" ± {r['ndcg@20 std']:.4f}" if r["ndcg@20 std"] == r["ndcg@20 std"] else ""
        pr = "—" if not paper or r["method"] == "neggen w/o CF" else f"{paper[1]:.4f}"
        lines.append(f"| {r['dataset']} | {r['method']} | {r['seeds']} | {r['convergence epoch']:.1f} | "
                     f"{r['epochs incl. base']:.1f} | {r['ndcg@20']:.4f}{std} | {r['recall@20']:.4f} | {pr} | "
                     f"{r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def sampler_markdown(records: list[dict], metric: str = "recall@20", min_seeds: int = 3) -> str:
    """:func:`sampler_vs_uniform` as markdown, ours beside the paper's Table 2: each hard-negative sampler's
    mean test ``metric`` over seeds (± the sample standard deviation when there are several), its change
    relative to the same dataset's uniform LightGCN, and the convergence epochs (sampler / uniform). The
    paper's change is relative to its own LightGCN row. Under the table, a computed summary (how many cells
    converge sooner / end higher than uniform, the ranges of convergence epochs and of seed spreads) and a
    line listing, per dataset with a uniform run, the samplers with fewer than ``min_seeds`` seeds (the
    runs still owed)."""

    sv = sampler_vs_uniform(records, metric)
    lines = [f"| dataset | sampler | seeds | test {metric} ours | vs our uniform | convergence epoch (uniform) | "
             f"paper {metric} | paper vs its LightGCN |", "|---|---|---|---|---|---|---|---|"]
    owed = []
    for d, x in sv.groupby("dataset", sort=True):
        x = x.set_index("sampler")
        seeds = x["seeds"].reindex(HARD_SAMPLERS, fill_value=0)  # 0 for a sampler with no run yet
        short = [f"{s} ({n})" for s, n in seeds.items() if n < min_seeds]
        for s, r in x.drop(index="uniform").iterrows():
            ours = f"{r[metric]:.4f}" + (f" ± {r[metric + ' std']:.4f}" if r["seeds"] > 1 else "")
            p = r[f"paper {metric}"]
            pc = f"{p:.4f} | {r['paper vs its LightGCN']:+.1%}" if p == p else "— | —"
            lines.append(f"| {d} | {s} | {r['seeds']} | {ours} | {r['vs uniform']:+.1%} | "
                         f"{r['convergence epoch']:.0f} ({r['uniform convergence epoch']:.0f}) | {pc} |")
        if short:
            owed.append(f"{d}: {', '.join(short)}")
    hard, uni = sv[sv["sampler"] != "uniform"], sv[sv["sampler"] == "uniform"]
    summary = ""
    if len(hard):
        spread = hard.loc[hard["seeds"] > 1, f"{metric} std"]
        cells = lambda n: f"{n} cell{'s' * (n != 1)}"  # noqa: E731
        summary = (f"Over {cells(len(hard))} (dataset, sampler): {int(hard['sooner'].sum())} converge sooner than "
                   f"uniform, at mean best epochs {hard['convergence epoch'].min():.0f}-"
                   f"{hard['convergence epoch'].max():.0f} against uniform's {uni['convergence epoch'].min():.0f}-"
                   f"{uni['convergence epoch'].max():.0f}; {int(hard['better'].sum())} end with a higher test {metric}"
                   + (f"; seed std of test {metric} {spread.min():.4f}-{spread.max():.4f} over the "
                      f"{cells(len(spread))} with several seeds" if len(spread) else "") + ".\n\n")
    tail = (f"Fewer than {min_seeds} seeds so far (seeds in brackets): {'; '.join(owed)}." if owed
            else f"Every sampler has at least {min_seeds} seeds on every dataset with a uniform run.")
    return "\n".join(lines) + "\n\n" + summary + tail + "\n"


def fig2_markdown(records: list[dict]) -> str:
    """:func:`fig2_table` as markdown, with computed lines saying, per text-term weight, on which datasets
    Direct Generation negatives end below uniform sampling (the paper's Fig. 2: below on Baby and Beauty),
    and the paired t-tests of :func:`fig2_significance`."""
    t = fig2_table(records)
    if t.empty:
        return ("No dataset has both a uniform and a Direct Generation FREEDOM run yet "
                "(`python -m neggen_lite study --dataset baby`).\n")
    lines = ["| dataset | variant | text-term weight | negatives | seeds | R@10 | R@20 | N@10 | N@20 | R@20 vs uniform | "
             "generated share of train positives | generator |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        cell = lambda m: f"{r[m]:.4f}" + (f" ± {r[m + ' std']:.4f}" if r["seeds"] > 1 else "")  # noqa: E731
        direct = r["negatives"] == "direct"
        lines.append(f"| {r['dataset']} | {r['variant']} | {_weight_label(r['text weight'])} | {r['negatives']} | "
                     f"{r['seeds']} | " + " | ".join(cell(m) for m in METRICS)
                     + (f" | {r['recall@20 vs uniform']:+.1%} | {r['generated share']:.1%} | {r['generator']} |"
                        if direct else " | — | — | — |"))
    summary = []
    for w, d in t[t["negatives"] == "direct"].groupby("text weight", sort=True):
        below = d.loc[d["recall@20 vs uniform"] < 0, "dataset"].tolist()
        above = d.loc[d["recall@20 vs uniform"] >= 0, "dataset"].tolist()
        summary.append(f"With text-term weight {_weight_label(w)}, Direct Generation negatives end below uniform "
                       f"sampling in test Recall@20 on {', '.join(below) or 'no dataset'}"
                       + (f" and at or above it on {', '.join(above)}" if above else "")
                       + (" (the paper's Fig. 2: below on Baby and Beauty)." if is_mmrec_weight(w) else "."))
    sig = fig2_significance(records)
    tested = sig[sig["n_users"] > 0]
    if len(tested):
        def test(r) -> str:
            p = f"p = {r['p']:.2g}" if np.isfinite(r["p"]) else "every user's value identical"
            return f"{r['dataset']}, weight {r['text weight']:g}, seed {r['seed']}: {r['mean_diff']:+.4f}, {p}"

        summary.append("Paired t-tests over test users, each direct run against the uniform run of its seed "
                       "(Recall@20, direct - uniform): " + "; ".join(test(r) for _, r in tested.iterrows()) + ".")
    return "\n".join(lines) + "\n\n" + " ".join(summary) + "\n"


def _weight_label(w: float) -> str:
    return f"{w:g} (MMRec)" if is_mmrec_weight(w) else f"{w:g}"


def tuning_rows(records: list[dict], reported: list[dict] = ()) -> list[dict]:
    """Hyper-parameter searches (``records``, runs under ``<dataset>/tuning/``) with the ``reported`` run of each
    searched (dataset, model, seed) beside them: ``{dataset, model, seed, reg, lr, best_epoch, valid, test,
    reported}``, ``reported`` True on the row whose L2 weight and learning rate the reported run uses (a row of
    its own when no search run has them)."""
    def row(r, reported=False):
        return {"dataset": r["dataset"], "model": r["model"], "seed": r["seed"], "reg": r["config"]["reg"],
                "lr": r["config"].get("lr"), "best_epoch": r["best_epoch"], "valid": r["valid"]["recall@20"],
                "test": r["test"]["recall@20"], "reported": reported}

    rows = [row(r) for r in records]
    searched = {(r["dataset"], r["model"], r["seed"]) for r in rows}
    for r in reported:
        key = (r["dataset"], r["model"], r["seed"])
        if key not in searched or r.get("variant") not in (None, "T"):
            continue
        mine = row(r, True)
        same = [t for t in rows if (t["dataset"], t["model"], t["seed"], t["reg"], t["lr"]) == (*key, mine["reg"],
                                                                                               mine["lr"])]
        for t in same:
            t["reported"] = True
        if not same:
            rows.append(mine)
    return sorted(rows, key=lambda t: (t["dataset"], t["model"], t["seed"], t["reg"], t["lr"] or 0))


def tuning_markdown(records: list[dict], reported: list[dict] = ()) -> str:
    """:func:`tuning_rows` as markdown: L2 weight, learning rate (the reported run's marked), best epoch, valid
    and test."""
    lines = ["| dataset | model | seed | L2 weight | learning rate | best epoch | valid R@20 | test R@20 | reported |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in tuning_rows(records, reported):
        lr = "" if t["lr"] is None else f"{t['lr']:g}"
        lines.append(f"| {t['dataset']} | {t['model']} | {t['seed']} | {t['reg']:g} | {lr} | {t['best_epoch']} | "
                     f"{t['valid']:.4f} | {t['test']:.4f} | {'yes' if t['reported'] else ''} |")
    return "\n".join(lines) + "\n"


README_TEMPLATE = RESULTS_DIR / "README.template.md"


def _runtime_label(man: dict) -> str:
    """How a cache's model ran, from its manifest: llama.cpp on the GGUF, or transformers in its dtype."""
    if man.get("runtime") == "llama.cpp" or ran_on_llamacpp(man.get("generator", "")):
        return "llama.cpp (GGUF q4_k_m)"
    dtype = man.get("dtype") or (man.get("header") or {}).get("runtime", {}).get("dtype")
    return f"transformers {'bf16' if dtype == 'bfloat16' else dtype or 'fp32'}"


def generations_markdown(results_dir: str | Path = RESULTS_DIR) -> str:
    """One row per generation cache under ``<results_dir>/generations/`` (Sec. 3.2, issue 18.3), from its
    manifest: items written (of the dataset's items with text, where the manifest records them; a
    *snapshot* is a cache still growing), the share the model wrote that passed validation (the rest are
    counted rule-based fallbacks), refusals, seconds per item per process (a sharded run's processes
    summed), how the model ran, and hardness: the mean cosine (the manifest's encoder) of the negative to
    the item's original text, beside the rule-based negative of the same items and a random item. A cache
    without a manifest is listed as such."""
    root = Path(results_dir) / "generations"
    lines = ["| dataset | cache | pipeline | items | model-written | refusals | s / item | runtime "
             "| cosine to original: model / rule / random |", "|---|---|---|---|---|---|---|---|---|"]
    for cache in sorted(root.glob(f"*/*{CACHE_SUFFIX}")):
        name = cache_stem(cache)
        mp = manifest_path(cache)
        if not mp.is_file():
            lines.append(f"| {cache.parent.name} | `{name}` | no manifest | | | | | | |")
            continue
        man = json.loads(mp.read_text(encoding="utf-8"))
        items = int(man.get("items", 0))
        of = man.get("items_with_text")
        shown = f"{items:,}" + (f" of {int(of):,}" if of else "") + (" (snapshot)" if man.get("snapshot") else "")
        refusals = man.get("refusals_share")
        h = manifest_hardness(man)
        hard = (" / ".join("–" if v is None else f"{v:.3f}" for v in (h["model"], h["rule"], h["random"]))
                if h["model"] is not None else "–")
        lines.append(f"| {man.get('dataset', cache.parent.name)} | `{name}` | {man.get('pipeline', '?')} | {shown} "
                     f"| {100 * float(man.get('valid_rate', float('nan'))):.1f} % "
                     f"| {'–' if refusals is None else f'{100 * refusals:.1f} %'} "
                     f"| {float(man['seconds']) / max(1, items):.2f} | {_runtime_label(man)} | {hard} |")
    return "\n".join(lines)


def revalidated_markdown(results_dir: str | Path = RESULTS_DIR, load_dataset=None) -> str:
    """Every generation cache with a manifest re-checked by today's validator
    (:func:`neggen_lite.generation.pipeline.revalidate`, which reads only): the model outputs the validator of
    the day accepted, and how many of them today's would reject, by reason. The manifests, and the runs that
    read a cache, count what was accepted when it was written. ``load_dataset(name)`` (default
    :func:`neggen_lite.core.data.load`) gives each cache's dataset."""
    load_dataset = load_dataset or data.load
    datasets: dict = {}
    lines = ["| dataset | cache | outputs accepted | rejected today | why |", "|---|---|---|---|---|"]
    for cache in sorted((Path(results_dir) / "generations").glob(f"*/*{CACHE_SUFFIX}")):
        if not manifest_path(cache).is_file():
            continue
        name = cache.parent.name
        if name not in datasets:
            datasets[name] = load_dataset(name)
        r = pipeline.revalidate(cache, datasets[name])
        checked, rejected = sum(r["checked"].values()), r["rejected_total"]
        why = "; ".join(f"{reason} {n:,}" for step in r["rejected"].values()
                        for reason, n in sorted(step.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"| {name} | `{cache_stem(cache)}` | {checked:,} | {rejected:,} "
                     f"({100 * rejected / max(1, checked):.1f} %) | {why or '–'} |")
    return "\n".join(lines)


def render_readme(template: str, results_dir: str | Path = RESULTS_DIR) -> str:
    """Fill ``results/README.template.md``'s placeholders with tables and readings computed from the result files.

    A placeholder is ``{KEY}`` or ``{KEY:<arg>}`` (a dataset, or a part of a reading); the two tables below map
    each key to the function that writes it (``{TABLE2}``: :func:`markdown_table`, ``{SIG:baby}``:
    :func:`significance_markdown`, the readings: :mod:`neggen_lite.results.readings`, the controlled experiment:
    :mod:`neggen_lite.results.experiment`, ...). An unknown placeholder is a ``ValueError`` naming it and its line."""

    recs = load_results(results_dir, mode="full")
    cache: dict = {}

    def neggen_frame():
        if "neg" not in cache:
            cache["neg"] = load_neggen(records=recs)
        return cache["neg"]

    def sig(dataset: str):  # the paired t-tests against the best baseline, read once per dataset
        if ("sig", dataset) not in cache:
            cache[("sig", dataset)] = significance_table(dataset, recs, results_dir=results_dir)
        return cache[("sig", dataset)]

    def sampler_box(dataset: str) -> str:
        controls = sampler_controls(dataset, recs)
        text = (sampler_findings(dataset, experiment_table(dataset, recs), sampler_audits(dataset, results_dir),
                                 controls) or f"No audit of the sampler objective's negatives on {dataset} yet.")
        return text + (f"\n\nThe sampler objective by pick (generated arm; `--pick`):\n\n"
                       f"{sampler_controls_markdown(controls)}" if len(controls) > 1 else "")

    plain = {
        "TABLE2": lambda: markdown_table(recs), "FIG6": lambda: fig6_markdown(recs),
        "SAMPLERS": lambda: sampler_markdown(recs), "FIG2": lambda: fig2_markdown(recs),
        "TUNING": lambda: tuning_markdown(load_results(results_dir, mode="full", tuning=True), recs),
        "GENERATIONS": lambda: generations_markdown(results_dir),
        "REVALIDATED": lambda: revalidated_markdown(results_dir), "BASELINES": lambda: baselines_markdown(recs),
        "BENCHMM": bench_mm_markdown, "BENCHTRAIN": bench_train_markdown, "BENCHDEVICE": bench_device_markdown,
        "BENCHNEGGEN": bench_neggen_markdown, "RUNTIMES": lambda: runtime_span(recs),
        "READING": lambda: table2_reading(recs), "SEEDS": lambda: seeds_markdown(recs),
        "SAMPLERREADING": lambda: sampler_reading(recs), "FREEDOM": lambda: freedom_reading(recs),
        "SAMESEED": lambda: same_seed_reading(recs),
        "PRINTED": lambda: printed_reading(neggen_frame(), recs,
                                           {d: sig(d) for d in sorted(set(neggen_frame()["dataset"]))}),
    }
    with_arg = {
        "SIG": lambda d: significance_markdown(d, recs, sig(d)), "EXPERIMENT": lambda d: experiment_markdown(d, recs),
        "FINDINGS": lambda d: experiment_findings(d, recs, results_dir=results_dir), "SAMPLER": sampler_box,
        "ABLATIONS": lambda d: ablations_markdown(d, recs), "FIG2READING": lambda part: fig2_reading(recs, part),
        "NEGGEN": lambda d: neggen_markdown(neggen_frame(), d),
    }

    def fill(m: re.Match) -> str:
        key, _, arg = m.group(1).partition(":")
        if arg and key in with_arg:
            return with_arg[key](arg)
        if not arg and key in plain:
            return plain[key]()
        line = template.count("\n", 0, m.start()) + 1
        raise ValueError(f"README template, line {line}: unknown placeholder {m.group(0)!r}")

    return re.sub(r"\{([A-Z][A-Z0-9]*(?::[a-z]+)?)\}", fill, template)


def run_summary(rec: dict, out) -> str:
    """What a finished training run prints: its identity, best epoch, test metrics and file; NegGen adds its
    same-seed base and t-test, FREEDOM the Eq. 3 probe of a few epochs."""
    name = "/".join(str(x) for x in (rec["model"], rec["sampler"], rec.get("variant")) if x)
    lines = [f"{rec['dataset']} {name} seed {rec['seed']}: best epoch {rec['best_epoch']} of {rec['epochs']}, test "
             + " ".join(f"{k}={v:.4f}" for k, v in rec["test"].items()) + f" ({rec['seconds']:.0f}s) -> {out}"]
    if "base" in rec:
        sig = rec["significance"]["test"]["recall@20"]
        lines.append(f"  same-seed LightGCN base: recall@20={rec['base']['test']['recall@20']:.4f}; "
                     f"paired t-test over {sig['n_users']} users: diff {sig['mean_diff']:+.4f}, p={sig['p']:.3g}")
    probe = [h for h in rec["history"] if probe_key("t") in h or probe_key("v") in h]
    if probe:
        lines.append("  mean ||dL_BPR/de_neg|| per epoch (Eq. 3): " + "; ".join(
            f"ep{h['epoch']} {probe_line(h)}" for h in (probe if len(probe) <= 4 else probe[:3] + probe[-1:])))
    return "\n".join(lines)


def significance_record(df, dataset: str, metric: str) -> dict:
    """What ``significance --write`` stores in ``results/<dataset>/significance.json``."""
    return {"dataset": dataset, "metric": metric, "rows": df.astype(object).where(df.notna(), None).to_dict("records")}


def write_significance(dataset: str, metric: str = "recall@20", results_dir: str | Path = RESULTS_DIR,
                       write: bool = False):
    """:func:`~neggen_lite.results.tables.significance_table` as markdown, and with ``write`` also as
    ``<dataset>/significance.json`` (the one explicit write path: without it nothing is written); returns
    ``(markdown, path or None)``, or ``(None, None)`` without NegGen runs."""
    df = significance_table(dataset, metric=metric, results_dir=results_dir)
    if df.empty:
        return None, None
    fmt = lambda v: "" if v is None or v != v else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    md = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    md += "".join("| " + " | ".join(fmt(v) for v in rec) + " |\n" for rec in df.itertuples(index=False))
    if not write:
        return md, None
    out = Path(results_dir) / dataset / "significance.json"
    atomic_write_json(out, significance_record(df, dataset, metric))
    return md, out


def write_fig6(results_dir: str | Path = RESULTS_DIR):
    """Fig. 6's data (:func:`~neggen_lite.results.tables.fig6_frame`) as ``fig6.csv``; returns ``(frame, path)``,
    or ``(empty frame, None)`` without runs."""
    df = fig6_frame(load_results(results_dir, mode="full"))
    if df.empty:
        return df, None
    out = Path(results_dir) / "fig6.csv"
    atomic_write_bytes(out, df.to_csv(index=False, float_format="%.6g").encode())
    return df, out


def write_readme(results_dir: str | Path = RESULTS_DIR) -> Path:
    """``README.md`` from ``README.template.md`` in ``results_dir`` (:func:`render_readme`); a missing template
    is a ``FileNotFoundError``, a bad placeholder a ``ValueError``."""
    tpl = Path(results_dir) / "README.template.md"
    if not tpl.exists():
        raise FileNotFoundError(f"no template {tpl}")
    text = render_readme(tpl.read_text(), results_dir)
    out = Path(results_dir) / "README.md"
    atomic_write_bytes(out, text.encode())
    return out
