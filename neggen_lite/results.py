"""Result records (one JSON per run under ``results/``) and the paper's tables to compare them with."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .safety import ResultFileError
from .utils import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")

#: Table 2 of the paper (test R@10, R@20, N@10, N@20), every row; keys ``(row, dataset)`` where ``row`` is
#: the lower-case model name (``"dns"`` is the paper's DNS(M,N), ``"neggen"`` its NegGen).
PAPER_TABLE2 = {
    ("bpr", "baby"): (0.0359, 0.0572, 0.0193, 0.0244),
    ("bpr", "beauty"): (0.0568, 0.0953, 0.0274, 0.0311),
    ("bpr", "clothing"): (0.0207, 0.0302, 0.0114, 0.0137),
    ("bpr", "sports"): (0.0431, 0.0650, 0.0238, 0.0297),
    ("lightgcn", "baby"): (0.0458, 0.0698, 0.0236, 0.0309),
    ("lightgcn", "beauty"): (0.0676, 0.1041, 0.0403, 0.0519),
    ("lightgcn", "clothing"): (0.0328, 0.0504, 0.0184, 0.0226),
    ("lightgcn", "sports"): (0.0547, 0.0819, 0.0305, 0.0381),
    ("irgan", "baby"): (0.0441, 0.0673, 0.0268, 0.0322),
    ("irgan", "beauty"): (0.0569, 0.0951, 0.0379, 0.0484),
    ("irgan", "clothing"): (0.0312, 0.0481, 0.0186, 0.0245),
    ("irgan", "sports"): (0.0477, 0.0715, 0.0322, 0.0390),
    ("mixgcf", "baby"): (0.0456, 0.0691, 0.0281, 0.0341),
    ("mixgcf", "beauty"): (0.0617, 0.0978, 0.0406, 0.0557),
    ("mixgcf", "clothing"): (0.0321, 0.0492, 0.0199, 0.0277),
    ("mixgcf", "sports"): (0.0529, 0.0773, 0.0339, 0.0435),
    ("dens", "baby"): (0.0451, 0.0708, 0.0287, 0.0350),
    ("dens", "beauty"): (0.0629, 0.0988, 0.0415, 0.0568),
    ("dens", "clothing"): (0.0326, 0.0501, 0.0204, 0.0282),
    ("dens", "sports"): (0.0537, 0.0784, 0.0343, 0.0446),
    ("dns", "baby"): (0.0457, 0.0725, 0.0290, 0.0358),
    ("dns", "beauty"): (0.0628, 0.0986, 0.0417, 0.0566),
    ("dns", "clothing"): (0.0328, 0.0510, 0.0211, 0.0286),
    ("dns", "sports"): (0.0540, 0.0785, 0.0337, 0.0431),
    ("ahns", "baby"): (0.0465, 0.0737, 0.0292, 0.0361),
    ("ahns", "beauty"): (0.0635, 0.0992, 0.0426, 0.0572),
    ("ahns", "clothing"): (0.0335, 0.0528, 0.0237, 0.0291),
    ("ahns", "sports"): (0.0554, 0.0851, 0.0352, 0.0462),
    ("vbpr", "baby"): (0.0412, 0.0637, 0.0203, 0.0251),
    ("vbpr", "beauty"): (0.0637, 0.1002, 0.0371, 0.0471),
    ("vbpr", "clothing"): (0.0283, 0.0411, 0.0156, 0.0189),
    ("vbpr", "sports"): (0.0558, 0.0853, 0.0298, 0.0375),
    ("mmgcn", "baby"): (0.0441, 0.0685, 0.0192, 0.0264),
    ("mmgcn", "beauty"): (0.0628, 0.1005, 0.0341, 0.0459),
    ("mmgcn", "clothing"): (0.0227, 0.0360, 0.0121, 0.0154),
    ("mmgcn", "sports"): (0.0380, 0.0631, 0.0201, 0.0272),
    ("bm3", "baby"): (0.0542, 0.0873, 0.0296, 0.0365),
    ("bm3", "beauty"): (0.0728, 0.1187, 0.0425, 0.0567),
    ("bm3", "clothing"): (0.0451, 0.0672, 0.0242, 0.0297),
    ("bm3", "sports"): (0.0663, 0.0981, 0.0354, 0.0438),
    ("freedom", "baby"): (0.0614, 0.0973, 0.0306, 0.0398),
    ("freedom", "beauty"): (0.0771, 0.1247, 0.0441, 0.0579),
    ("freedom", "clothing"): (0.0617, 0.0904, 0.0317, 0.0409),
    ("freedom", "sports"): (0.0714, 0.1073, 0.0368, 0.0457),
    ("dragon", "baby"): (0.0643, 0.0996, 0.0325, 0.0412),
    ("dragon", "beauty"): (0.0792, 0.1256, 0.0455, 0.0584),
    ("dragon", "clothing"): (0.0621, 0.0915, 0.0322, 0.0418),
    ("dragon", "sports"): (0.0732, 0.1085, 0.0389, 0.0482),
    ("diffmm", "baby"): (0.0625, 0.0971, 0.0306, 0.0401),
    ("diffmm", "beauty"): (0.0783, 0.1249, 0.0447, 0.0579),
    ("diffmm", "clothing"): (0.0622, 0.0907, 0.0313, 0.0397),
    ("diffmm", "sports"): (0.0715, 0.1043, 0.0350, 0.0431),
    ("lgmrec", "baby"): (0.0631, 0.1002, 0.0327, 0.0422),
    ("lgmrec", "beauty"): (0.0781, 0.1243, 0.0448, 0.0578),
    ("lgmrec", "clothing"): (0.0531, 0.0817, 0.0296, 0.0364),
    ("lgmrec", "sports"): (0.0723, 0.1066, 0.0385, 0.0477),
    ("neggen", "baby"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("neggen", "beauty"): (0.0823, 0.1285, 0.0473, 0.0604),
    ("neggen", "clothing"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("neggen", "sports"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Table 2's last row: p-values of paired t-tests of NegGen against *the best baseline* (R@10, R@20, N@10, N@20).
PAPER_TABLE2_PVALUES = {
    "baby": (0.0093, 0.0080, 0.0028, 0.0263),
    "beauty": (0.0221, 0.0101, 0.0017, 0.0003),
    "clothing": (0.0098, 0.0068, 0.0423, 0.0062),
    "sports": (0.0044, 0.0026, 0.0079, 0.0045),
}

#: Table 1 of the paper (FREEDOM with varying modalities; test R@10, R@20, N@10, N@20).
PAPER_TABLE1 = {
    ("baby", "V&T"): (0.0614, 0.0973, 0.0306, 0.0398),
    ("baby", "T"): (0.0643, 0.0991, 0.0323, 0.0411),
    ("baby", "V"): (0.0574, 0.0899, 0.0314, 0.0416),
    ("beauty", "V&T"): (0.0792, 0.1256, 0.0455, 0.0584),
    ("beauty", "T"): (0.0801, 0.1254, 0.0458, 0.0597),
    ("beauty", "V"): (0.0763, 0.1239, 0.0439, 0.0576),
}

#: The paper's names for the rows of Table 2.
PAPER_ROW_NAMES = {"bpr": "BPR", "lightgcn": "LightGCN", "irgan": "IRGAN", "mixgcf": "MixGCF", "dens": "DENS",
                   "dns": "DNS(M,N)", "ahns": "AHNS", "vbpr": "VBPR", "mmgcn": "MMGCN", "bm3": "BM3",
                   "freedom": "FREEDOM", "dragon": "DRAGON", "diffmm": "DiffMM", "lgmrec": "LGMRec",
                   "neggen": "NegGen"}

#: Table 4 (modalities; test R@10, R@20, N@10, N@20); keys ``(dataset, variant)``. Note: Beauty's V&T R@10
#: (0.0832) differs from NegGen's R@10 on Beauty in Table 2 (0.0823); both are copied as printed.
PAPER_TABLE4 = {
    ("baby", "V"): (0.0667, 0.0934, 0.0307, 0.0401),
    ("baby", "T"): (0.0678, 0.0956, 0.0327, 0.0412),
    ("baby", "V&T"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("beauty", "V"): (0.0794, 0.1213, 0.0426, 0.0548),
    ("beauty", "T"): (0.0803, 0.1231, 0.0439, 0.0586),
    ("beauty", "V&T"): (0.0832, 0.1285, 0.0473, 0.0604),
    ("clothing", "V"): (0.0621, 0.0910, 0.0327, 0.0412),
    ("clothing", "T"): (0.0632, 0.0930, 0.0338, 0.0426),
    ("clothing", "V&T"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("sports", "V"): (0.0667, 0.0940, 0.0336, 0.0415),
    ("sports", "T"): (0.0687, 0.1064, 0.0357, 0.0443),
    ("sports", "V&T"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Table 5 (module ablation; test R@10, R@20, N@10, N@20); keys ``(dataset, variant)``, ``"full"`` = NegGen.
PAPER_TABLE5 = {
    ("baby", "w/o NEG"): (0.0571, 0.0896, 0.0307, 0.0401),
    ("baby", "w/o CF"): (0.0641, 0.0992, 0.0321, 0.0414),
    ("baby", "w/o both"): (0.0466, 0.0684, 0.0235, 0.0317),
    ("baby", "full"): (0.0701, 0.1065, 0.0342, 0.0438),
    ("beauty", "w/o NEG"): (0.0714, 0.1165, 0.0416, 0.0538),
    ("beauty", "w/o CF"): (0.0805, 0.1263, 0.0457, 0.0590),
    ("beauty", "w/o both"): (0.0682, 0.1083, 0.0402, 0.0531),
    ("beauty", "full"): (0.0832, 0.1285, 0.0473, 0.0604),
    ("clothing", "w/o NEG"): (0.0626, 0.0910, 0.0327, 0.0420),
    ("clothing", "w/o CF"): (0.0637, 0.0922, 0.0341, 0.0432),
    ("clothing", "w/o both"): (0.0336, 0.0531, 0.0187, 0.0232),
    ("clothing", "full"): (0.0654, 0.0961, 0.0350, 0.0441),
    ("sports", "w/o NEG"): (0.0627, 0.0940, 0.0336, 0.0415),
    ("sports", "w/o CF"): (0.0714, 0.1055, 0.0374, 0.0471),
    ("sports", "w/o both"): (0.0539, 0.0813, 0.0304, 0.0375),
    ("sports", "full"): (0.0763, 0.1114, 0.0411, 0.0506),
}

#: Fig. 7 gives no numbers in the text; these are the trends Sec. 4.6 states, quoted.
PAPER_FIG7_TRENDS = {
    "lam": ("performance improves as lambda increases from 0 to 0.4, but stabilizes or slightly declines when "
            "lambda > 0.6 [...] the optimal range for lambda is between 0.4 and 0.6. [...] setting lambda to 0 "
            "causes a significant performance drop"),
    "alpha": ("NegGen performs stably and robustly across a wide range of alpha values, from 1e-4 to 1. However, "
              "performance slightly degrades when alpha becomes too large"),
    "tau": ("Varying tau across [0.07, 0.1, 0.2, 0.3, 1], we find that smaller values generally lead to better "
            "performance. Specifically, when tau is set to 1, the logits distribution becomes overly smooth"),
}

#: NegGen's default settings (Sec. 4.1.4/4.6; :class:`neggen_lite.causal.NegGenConfig`), used to tell a main
#: run from one with a changed setting.
NEGGEN_DEFAULTS = {"lam": 0.5, "alpha": 1e-2, "tau": 0.1, "align": "bounded", "base": "frozen"}
#: MMRec's published FREEDOM ``reg_weight``: the weight of FREEDOM's per-modality BPR terms (the trainer's
#: ``reg``); a FREEDOM run with another weight is no Table 1/2 row (:func:`table_row`)
FREEDOM_REG_WEIGHT = 1e-4
NEGGEN_VARIANTS = ("full", "w/o NEG", "w/o CF", "w/o both")


def modality_weight(rec: dict) -> float:
    """The weight of a FREEDOM record's per-modality BPR terms (its trainer ``reg``; MMRec's by default)."""
    return float((rec.get("config") or {}).get("reg", FREEDOM_REG_WEIGHT))


def load_results(results_dir: str | Path = RESULTS_DIR, mode: str | None = "full", tuning: bool = False) -> list[dict]:
    """All result records under ``results_dir`` (recursively), optionally only those of ``mode``.

    Runs under a ``tuning/`` folder (hyper-parameter searches judged on validation, e.g. VBPR's L2 weight)
    are left out unless ``tuning=True``, which returns only them: they are not results to report."""
    out, seen = [], {}
    for path in sorted(Path(results_dir).rglob("*.json")):
        parts = path.relative_to(results_dir).parts
        if ("tuning" in parts[:-1]) != tuning or not is_result_file(path, results_dir):
            continue
        rec = read_result(path)
        if mode is None or rec.get("mode") == mode:
            key = run_key(rec)
            if key in seen:
                raise ResultFileError(f"{path}: the same run as {seen[key]} (dataset {rec['dataset']}, model "
                                      f"{rec['model']}, seed {rec['seed']}, same settings); remove one of the two, "
                                      "or it would count twice in the means")
            seen[key] = path
            rec["_path"] = str(path)
            out.append(rec)
    return out


#: Fields every result file has (``test``: a dict of metrics)
RESULT_FIELDS = {"dataset": str, "model": str, "seed": int, "test": dict}


def is_result_file(path: Path, results_dir: str | Path = RESULTS_DIR) -> bool:
    """A ``*.json`` under the results folder is a run record unless it is a known other file: a dataset's
    ``significance.json``, a ``*manifest.json`` or ``*.quality.json``, or anything under ``generations/``."""
    name = Path(path).name
    return not (name == "significance.json" or name.endswith(("manifest.json", ".quality.json"))
                or "generations" in Path(path).relative_to(results_dir).parts[:-1])


def read_result(path: str | Path) -> dict:
    """One result file, checked: valid UTF-8 JSON, an object with :data:`RESULT_FIELDS`; else a
    :class:`ResultFileError` naming the file and the field."""
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultFileError(f"{path}: not UTF-8 text (byte {exc.start}); a result file is JSON") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(rec, dict):
        raise ResultFileError(f"{path}: a {type(rec).__name__}, not a JSON object (a run record)")
    for field, kind in RESULT_FIELDS.items():
        if field not in rec:
            raise ResultFileError(f"{path}: no field {field!r}; not a run record (move it out of the results folder)")
        if not isinstance(rec[field], kind) or isinstance(rec[field], bool):
            raise ResultFileError(f"{path}: field {field!r} is {rec[field]!r}, expected a {kind.__name__}")
    return rec


def run_key(rec: dict) -> str:
    """What makes two records the same run: dataset, mode, every setting in ``config`` that changes the
    numbers, modalities, negative source and sweep point."""
    cfg = {k: v for k, v in (rec.get("config") or {}).items()
           if k not in ("checkpoint_every", "eval_batch_size", "diagnostics")}
    ident = {"dataset": rec["dataset"], "mode": rec.get("mode"), "model": rec["model"], "sampler": rec.get("sampler"),
             "variant": rec.get("variant"), "seed": rec["seed"], "config": cfg, "modalities": rec.get("modalities"),
             "negatives": (rec.get("negatives") or {}).get("source") if isinstance(rec.get("negatives"), dict) else None,
             "model_kwargs": rec.get("model_kwargs"), "sweep": rec.get("sweep")}
    return json.dumps(ident, sort_keys=True, default=str)


def _model_kwargs(rec: dict) -> dict:
    """A record's model settings: ``model_kwargs``, or those inside its ``config``, or ``{}``."""
    return rec.get("model_kwargs") or (rec.get("config") or {}).get("model_kwargs") or {}


def neggen_setting(rec: dict) -> str:
    """``"default"`` for a NegGen run with the default settings (any variant), ``"sweep"`` for a Fig. 7 sweep
    run, else the changed settings, e.g. ``"align=printed"`` or ``"base=finetune"``."""
    if rec.get("sweep"):
        return "sweep"
    kw = _model_kwargs(rec)
    changed = []
    for k, default in NEGGEN_DEFAULTS.items():
        v = kw.get(k, default)
        same = (abs(float(v) - default) <= 1e-12 * max(1.0, abs(default))) if isinstance(default, float) else v == default
        if not same:
            changed.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return ",".join(changed) or "default"


def table_row(rec: dict) -> str | None:
    """The Table 2 row a record belongs to: ``"bpr"``/``"lightgcn"`` (uniform sampling), the sampler's name
    for LightGCN with another sampler (``"dns"``, ``"mixgcf"``, ...), ``"neggen"`` for NegGen's full variant
    with default settings, ``None`` for runs that are not a Table 2 row (ablations, sweeps, changed settings).

    Multi-modal recommenders are Table 2 rows (``"freedom"``, ``"vbpr"``) only with both modalities, as in
    the paper; with fewer they are their own row, ``"freedom (T)"``, compared with Table 1 where it has
    the row. Runs with direct-generation negatives (Fig. 2), and FREEDOM runs whose modality terms have
    another weight than MMRec's (:data:`FREEDOM_REG_WEIGHT`), are no Table 2 row."""
    model, sampler = str(rec.get("model", "")).lower(), str(rec.get("sampler", "uniform")).lower()
    if model == "neggen":
        ok = rec.get("variant", "full") in (None, "full") and neggen_setting(rec) == "default"
        return "neggen" if ok else None
    if rec.get("modalities") is not None:
        if (rec.get("negatives") or {}).get("source", "uniform") != "uniform":
            return None
        if model == "freedom" and not is_mmrec_weight(modality_weight(rec)):
            return None
        if set(rec["modalities"]) != {"v", "t"}:
            return f"{model} ({rec.get('variant') or '+'.join(rec['modalities']).upper()})"
    if sampler == "uniform":
        return model
    if model == "lightgcn":
        return sampler
    return f"{model}-{sampler}"


def _paper_table1_row(row: str, dataset: str):
    """Table 1's numbers for a FREEDOM row with fewer modalities (``"freedom (T)"``), else ``None``."""
    if row.startswith("freedom (") and row.endswith(")"):
        return PAPER_TABLE1.get((dataset, row[len("freedom ("):-1]))
    return None


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """Our test metrics (mean and standard deviation over seeds) beside the paper's Table 2, one row per
    (dataset, Table 2 row); records that are no Table 2 row (see :func:`table_row`) are left out."""
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
        paper = PAPER_TABLE2.get((model, dataset)) or _paper_table1_row(model, dataset)
        row = {"dataset": dataset, "model": model, "seeds": int(r["seeds"]), "best epoch": r["best_epoch"]}
        for j, m in enumerate(METRICS):
            row[f"ours {m}"] = r[m]
            row[f"ours {m} std"] = spread.loc[(dataset, model), m]
            row[f"paper {m}"] = paper[j] if paper else float("nan")
        row["R@20 ours/paper"] = r["recall@20"] / paper[1] if paper else float("nan")
        table.append(row)
    order = {m: k for k, m in enumerate(PAPER_ROW_NAMES)}  # rows in the paper's order, unknown ones last
    table.sort(key=lambda r: (r["dataset"], order.get(r["model"], len(order)), r["model"]))
    return pd.DataFrame(table).set_index(["dataset", "model"])


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One tidy row per run record: identity, Table 2 row, convergence and the test metrics."""
    cols = ["dataset", "model", "sampler", "variant", "row", "seed", "epochs", "best_epoch", "seconds", *METRICS, "path"]
    rows = [{"dataset": r["dataset"], "model": r["model"], "sampler": r.get("sampler"), "variant": r.get("variant"),
             "row": table_row(r), "seed": r["seed"], "epochs": r["epochs"], "best_epoch": r["best_epoch"],
             "seconds": r.get("seconds", float("nan")), **{m: r["test"].get(m, float("nan")) for m in METRICS},
             "path": r.get("_path")} for r in records]
    return pd.DataFrame(rows, columns=cols)


def load_neggen(results_dir: str | Path = RESULTS_DIR, dataset: str | None = None, mode: str | None = "full",
                records: list[dict] | None = None) -> pd.DataFrame:
    """Every NegGen run under ``results_dir`` (sweeps included) as a tidy DataFrame, one row per run.

    Columns: ``dataset, variant, seed, setting`` (:func:`neggen_setting`), ``param, value`` (the swept
    hyper-parameter and its value; ``None``/NaN outside sweeps), ``lam, alpha, tau, align, base, generator``,
    ``epochs, best_epoch, seconds``, the test metrics, ``base <metric>`` (the same-seed pre-trained
    LightGCN's test metrics), ``base best_epoch``, ``diff <metric>`` and ``p <metric>`` (paired t-test over
    test users against that base, from the record's ``significance``; NaN where absent),
    ``model_negatives`` (items whose negative came from the language model) and ``path``.
    """
    recs = records if records is not None else load_results(results_dir, mode=mode)
    rows = []
    for r in recs:
        if str(r.get("model")).lower() != "neggen" or (dataset is not None and r["dataset"] != dataset):
            continue
        kw = _model_kwargs(r)
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
        row["model_negatives"] = neg.get("model_ok", 0) + neg.get("model_fallback", 0) if neg else float("nan")
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


def markdown_table(records: list[dict]) -> str:
    """The comparison as a markdown table: ``ours / paper`` in each cell."""
    df = comparison_table(records)
    if df.empty:
        return "_no full-mode results yet_\n"
    head = "| dataset | model | seeds | best epoch | " + " | ".join(f"{m} ours / paper" for m in METRICS) + " |"
    lines = [head, "|" + "---|" * (4 + len(METRICS))]
    for (dataset, model), r in df.iterrows():
        paper = {m: "—" if r[f"paper {m}"] != r[f"paper {m}"] else f"{r[f'paper {m}']:.4f}" for m in METRICS}
        cells = " | ".join(f"{r[f'ours {m}']:.4f} / {paper[m]}" for m in METRICS)
        lines.append(f"| {dataset} | {model} | {int(r['seeds'])} | {r['best epoch']:.0f} | {cells} |")
    return "\n".join(lines) + "\n"


def best_baseline(records: list[dict], dataset: str, metric: str = "recall@20") -> tuple[str | None, list[dict]]:
    """The baseline we ran with the highest mean test ``metric`` on ``dataset`` and its runs.

    A baseline is any Table 2 row other than NegGen (:func:`table_row`): BPR, LightGCN, the hard samplers,
    FREEDOM, VBPR. Returns ``(row, records)``, or ``(None, [])`` when there is none."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        row = table_row(r)
        if r["dataset"] == dataset and row not in (None, "neggen"):
            groups.setdefault(row, []).append(r)
    if not groups:
        return None, []
    best = max(groups, key=lambda k: sum(r["test"][metric] for r in groups[k]) / len(groups[k]))
    return best, sorted(groups[best], key=lambda r: r["seed"])


def significance_table(dataset: str, records: list[dict] | None = None, metric: str = "recall@20",
                       results_dir: str | Path = RESULTS_DIR) -> pd.DataFrame:
    """Paired t-tests over test users of each NegGen run (default settings, every variant) against the best
    baseline we ran (:func:`best_baseline`): the baseline run of the same seed where there is one, else its
    lowest seed. Needs the runs' per-user files (``<stem>.per_user.npz``, written by
    :func:`neggen_lite.train.save_result`); a run without one gets ``p`` NaN and says so in ``note``.

    Columns: ``variant, seed, baseline, baseline seed, ours, theirs, mean_diff, t, p, n_users, note``."""
    from .metrics import load_per_user, paired_ttest, per_user_path

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


def neggen_markdown(df: pd.DataFrame, dataset: str) -> str:
    """NegGen's runs on ``dataset`` (a :func:`load_neggen` frame) as markdown: the variants (mean ± std over
    seeds beside Table 5, the same-seed base, the stored t-test per seed), runs with changed settings,
    and the Fig. 7 sweeps."""
    d = df[df["dataset"] == dataset] if len(df) else df
    if d.empty:
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


def significance_markdown(dataset: str, records: list[dict]) -> str:
    """The tested rows of :func:`significance_table` as markdown (rows without a test are left out)."""
    df = significance_table(dataset, records)
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


def sampler_vs_uniform(records: list[dict], metric: str = "recall@20") -> pd.DataFrame:
    """Each LightGCN sampler against the same dataset's uniform-sampling LightGCN (Table 2's sampler rows,
    Fig. 6), from :func:`fig6_frame`; one row per (dataset, sampler) on datasets with a uniform run, uniform
    itself first, then the hard samplers in the paper's order. ``metric`` is ``"recall@20"`` or ``"ndcg@20"``.

    Columns: ``dataset, sampler, seeds``, ``<metric>`` and ``<metric> std`` (mean and sample std over seeds),
    ``vs uniform`` (relative change of the mean), ``convergence epoch``, ``uniform convergence epoch``,
    ``epochs vs uniform`` (ratio), ``sooner`` / ``better`` (converges sooner / ends higher than uniform),
    ``paper <metric>`` and ``paper vs its LightGCN`` (Table 2; NaN where the paper has no such row)."""
    from .hard_samplers import HARD_SAMPLERS  # the sampler registry, in the paper's order (imports torch)

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


def sampler_markdown(records: list[dict], metric: str = "recall@20", min_seeds: int = 3) -> str:
    """:func:`sampler_vs_uniform` as markdown, ours beside the paper's Table 2: each hard-negative sampler's
    mean test ``metric`` over seeds (± the sample standard deviation when there are several), its change
    relative to the same dataset's uniform LightGCN, and the convergence epochs (sampler / uniform). The
    paper's change is relative to its own LightGCN row. Under the table, a computed summary (how many cells
    converge sooner / end higher than uniform, the ranges of convergence epochs and of seed spreads) and a
    line listing, per dataset with a uniform run, the samplers with fewer than ``min_seeds`` seeds (the
    runs still owed)."""
    from .hard_samplers import HARD_SAMPLERS  # the sampler registry, in the paper's order (imports torch)

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
    each metric against the uniform row."""
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
            "best_epoch", "generator", "generated share", *(f"{m} vs uniform" for m in METRICS)]
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
    for m in METRICS:
        base = out[out["negatives"] == "uniform"].set_index(key)[m]
        ref = out.set_index(key).index.map(base)
        out[f"{m} vs uniform"] = np.where(out["negatives"] == "direct", out[m].to_numpy() / np.asarray(ref) - 1, np.nan)
    order = {"uniform": 0, "direct": 1}
    out = out.sort_values([*key, "negatives"], key=lambda c: c.map(order) if c.name == "negatives" else c)
    return out[cols].reset_index(drop=True)


def fig2_significance(records: list[dict], metric: str = "recall@20") -> pd.DataFrame:
    """Paired t-tests over test users for Fig. 2: each Direct Generation FREEDOM run against the uniform run
    of the same dataset, variant, text weight and seed (both need their ``<stem>.per_user.npz``). Columns:
    ``dataset, variant, text weight, seed, direct, uniform, mean_diff, t, p, n_users, note``
    (``mean_diff`` = direct - uniform)."""
    from .metrics import load_per_user, paired_ttest, per_user_path

    cols = ["dataset", "variant", "text weight", "seed", "direct", "uniform", "mean_diff", "t", "p", "n_users", "note"]
    runs = {(*key, rec["seed"]): rec for rec in records if (key := _fig2_key(rec)) is not None}
    out = []
    for (d, var, w, neg, seed), rec in sorted(runs.items(), key=lambda kv: (*kv[0][:3], kv[0][4])):
        uni = runs.get((d, var, w, "uniform", seed))
        if neg != "direct" or uni is None:
            continue
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


def fig2_markdown(records: list[dict]) -> str:
    """:func:`fig2_table` as markdown, with computed lines saying, per text-term weight, on which datasets
    Direct Generation negatives end below uniform sampling (the paper's Fig. 2: below on Baby and Beauty),
    and the paired t-tests of :func:`fig2_significance`."""
    t = fig2_table(records)
    if t.empty:
        return ("No dataset has both a uniform and a Direct Generation FREEDOM run yet "
                "(`python -m neggen_lite.multimodal study --dataset baby`).\n")
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


def is_mmrec_weight(w: float) -> bool:
    """Whether a text-term weight (:func:`modality_weight`) is MMRec's published one, the paper's setting."""
    return math.isclose(float(w), FREEDOM_REG_WEIGHT, rel_tol=1e-9)


def _weight_label(w: float) -> str:
    return f"{w:g} (MMRec)" if is_mmrec_weight(w) else f"{w:g}"


def tuning_markdown(records: list[dict]) -> str:
    """Hyper-parameter searches (records under ``<dataset>/tuning/``) as markdown: L2 weight, valid and test."""
    lines = ["| dataset | model | L2 weight | best epoch | valid R@20 | test R@20 |", "|---|---|---|---|---|---|"]
    for r in sorted(records, key=lambda r: (r["dataset"], r["model"], r["config"]["reg"])):
        lines.append(f"| {r['dataset']} | {r['model']} | {r['config']['reg']:g} | {r['best_epoch']} | "
                     f"{r['valid']['recall@20']:.4f} | {r['test']['recall@20']:.4f} |")
    return "\n".join(lines) + "\n"


README_TEMPLATE = RESULTS_DIR / "README.template.md"


def render_readme(template: str, results_dir: str | Path = RESULTS_DIR) -> str:
    """Fill ``results/README.template.md``'s placeholders with tables computed from the result files.

    Placeholders: ``{TABLE2}`` (:func:`markdown_table`), ``{NEGGEN:<dataset>}`` (:func:`neggen_markdown`),
    ``{SIG:<dataset>}`` (:func:`significance_markdown`), ``{FIG6}`` (:func:`fig6_markdown`),
    ``{SAMPLERS}`` (:func:`sampler_markdown`), ``{FIG2}`` (:func:`fig2_markdown`) and
    ``{TUNING}`` (:func:`tuning_markdown`). An unknown placeholder is a ``ValueError`` naming it and its line."""
    import re

    recs = load_results(results_dir, mode="full")
    neg = None

    def fill(m: re.Match) -> str:
        nonlocal neg
        key, _, arg = m.group(1).partition(":")
        if key == "TABLE2" and not arg:
            return markdown_table(recs)
        if key == "FIG6" and not arg:
            return fig6_markdown(recs)
        if key == "SAMPLERS" and not arg:
            return sampler_markdown(recs)
        if key == "FIG2" and not arg:
            return fig2_markdown(recs)
        if key == "TUNING" and not arg:
            return tuning_markdown(load_results(results_dir, mode="full", tuning=True))
        if key == "SIG" and arg:
            return significance_markdown(arg, recs)
        if key == "NEGGEN" and arg:
            neg = load_neggen(records=recs) if neg is None else neg
            return neggen_markdown(neg, arg)
        line = template.count("\n", 0, m.start()) + 1
        raise ValueError(f"README template, line {line}: unknown placeholder {m.group(0)!r}")

    return re.sub(r"\{([A-Z][A-Z0-9]*(?::[a-z]+)?)\}", fill, template)
