"""Result records (one JSON per run under ``results/``) and the paper's tables to compare them with."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .utils import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")

#: Table 2 of the paper (test metrics), the rows this project reproduces so far.
PAPER_TABLE2 = {
    ("bpr", "baby"): (0.0359, 0.0572, 0.0193, 0.0244),
    ("bpr", "beauty"): (0.0568, 0.0953, 0.0274, 0.0311),
    ("bpr", "clothing"): (0.0207, 0.0302, 0.0114, 0.0137),
    ("bpr", "sports"): (0.0431, 0.0650, 0.0238, 0.0297),
    ("lightgcn", "baby"): (0.0458, 0.0698, 0.0236, 0.0309),
    ("lightgcn", "beauty"): (0.0676, 0.1041, 0.0403, 0.0519),
    ("lightgcn", "clothing"): (0.0328, 0.0504, 0.0184, 0.0226),
    ("lightgcn", "sports"): (0.0547, 0.0819, 0.0305, 0.0381),
}


def load_results(results_dir: str | Path = RESULTS_DIR, mode: str | None = "full") -> list[dict]:
    """All result records under ``results_dir`` (recursively), optionally only those of ``mode``."""
    out = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(rec, dict) or "test" not in rec or "dataset" not in rec:
            continue
        if mode is None or rec.get("mode") == mode:
            rec["_path"] = str(path)
            out.append(rec)
    return out


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """Our test metrics (mean over seeds) beside the paper's Table 2, one row per (dataset, model)."""
    rows = []
    for rec in records:
        rows.append({"dataset": rec["dataset"], "model": rec["model"], "sampler": rec["sampler"], "seed": rec["seed"],
                     "epochs": rec["epochs"], "best_epoch": rec["best_epoch"], **{m: rec["test"][m] for m in METRICS}})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    g = df.groupby(["dataset", "model"], sort=True)
    ours = g[list(METRICS)].mean()
    ours["seeds"] = g["seed"].nunique()
    ours["best_epoch"] = g["best_epoch"].mean()
    table = []
    for (dataset, model), r in ours.iterrows():
        paper = PAPER_TABLE2.get((model, dataset))
        row = {"dataset": dataset, "model": model, "seeds": int(r["seeds"]), "best epoch": r["best_epoch"]}
        for j, m in enumerate(METRICS):
            row[f"ours {m}"] = r[m]
            row[f"paper {m}"] = paper[j] if paper else float("nan")
        row["R@20 ours/paper"] = r["recall@20"] / paper[1] if paper else float("nan")
        table.append(row)
    return pd.DataFrame(table).set_index(["dataset", "model"])


def markdown_table(records: list[dict]) -> str:
    """The comparison as a markdown table: ``ours / paper`` in each cell."""
    df = comparison_table(records)
    if df.empty:
        return "_no full-mode results yet_\n"
    head = "| dataset | model | seeds | best epoch | " + " | ".join(f"{m} ours / paper" for m in METRICS) + " |"
    lines = [head, "|" + "---|" * (4 + len(METRICS))]
    for (dataset, model), r in df.iterrows():
        cells = " | ".join(f"{r[f'ours {m}']:.4f} / {r[f'paper {m}']:.4f}" for m in METRICS)
        lines.append(f"| {dataset} | {model} | {int(r['seeds'])} | {r['best epoch']:.0f} | {cells} |")
    return "\n".join(lines) + "\n"
