"""Run records: every run is one JSON under ``results/``; this module reads them and says what each is
(its Table 2 row, NegGen setting, FREEDOM text-term weight)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from ..core.metrics import METRICS
from ..core.paths import RESULTS_DIR
from ..core.safety import ResultFileError
from ..models.freedom import FREEDOM_REG_WEIGHT
from ..experiments.runs import SETTINGS as RUN_SETTINGS
from ..neggen.causal import NegGenConfig

#: NegGen's default settings (:class:`neggen_lite.neggen.causal.NegGenConfig`, Sec. 4.1.4/4.6), used to tell a
#: main run from one with a changed setting (the objective included: a run of the controlled experiment is no
#: Table 2 NegGen row).
NEGGEN_DEFAULTS = {k: v for k, v in asdict(NegGenConfig()).items() if k in RUN_SETTINGS}


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
    negs = rec.get("negatives")
    ident = {"dataset": rec["dataset"], "mode": rec.get("mode"), "model": rec["model"], "sampler": rec.get("sampler"),
             "variant": rec.get("variant"), "seed": rec["seed"], "config": cfg, "modalities": rec.get("modalities"),
             "negatives": negs.get("source") if isinstance(negs, dict) else None,
             "model_kwargs": rec.get("model_kwargs"), "sweep": rec.get("sweep")}
    return json.dumps(ident, sort_keys=True, default=str)


def model_kwargs(rec: dict) -> dict:
    """A record's model settings: ``model_kwargs``, or those inside its ``config``, or ``{}``."""
    return rec.get("model_kwargs") or (rec.get("config") or {}).get("model_kwargs") or {}


def neggen_setting(rec: dict) -> str:
    """``"default"`` for a NegGen run with the default settings (any variant), ``"sweep"`` for a Fig. 7 sweep
    run of the default settings, ``"sweep:<changed>"`` for one that holds other settings changed (the sweeps
    of a ranking objective: ``"sweep:objective=repaired"``), else the changed settings, e.g.
    ``"align=printed"`` or ``"base=finetune"``."""
    kw = model_kwargs(rec)
    swept = (rec.get("sweep") or {}).get("param")
    changed = []
    for k, default in NEGGEN_DEFAULTS.items():
        if k == swept:
            continue
        v = kw.get(k, default)
        same = (abs(float(v) - default) <= 1e-12 * max(1.0, abs(default))) if isinstance(default, float) else v == default
        if not same:
            changed.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    if rec.get("sweep"):
        return ":".join(["sweep", *([",".join(changed)] if changed else [])])
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


def runs_frame(records: list[dict]) -> pd.DataFrame:
    """One tidy row per run record: identity, Table 2 row, convergence and the test metrics."""
    cols = ["dataset", "model", "sampler", "variant", "row", "seed", "epochs", "best_epoch", "seconds", *METRICS, "path"]
    rows = [{"dataset": r["dataset"], "model": r["model"], "sampler": r.get("sampler"), "variant": r.get("variant"),
             "row": table_row(r), "seed": r["seed"], "epochs": r["epochs"], "best_epoch": r["best_epoch"],
             "seconds": r.get("seconds", float("nan")), **{m: r["test"].get(m, float("nan")) for m in METRICS},
             "path": r.get("_path")} for r in records]
    return pd.DataFrame(rows, columns=cols)


def is_mmrec_weight(w: float) -> bool:
    """Whether a text-term weight (:func:`modality_weight`) is MMRec's published one, the paper's setting."""
    return math.isclose(float(w), FREEDOM_REG_WEIGHT, rel_tol=1e-9)
