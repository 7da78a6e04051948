"""The one run entry: a run is a :class:`RunSpec`; :func:`get` returns its record, :func:`missing` and
:func:`ensure` act on a plan (a list of specs). The CLI, the notebooks and the benchmarks go through here,
so a run's file name is decided once (:func:`path`, on :mod:`neggen_lite.core.paths`).

Modes: ``book`` reads the committed full-mode record (never trains); ``smoke`` (a few epochs) and ``full``
(the paper's settings) train in-process and write the record under ``results/[smoke/]``.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ..core import data
from ..core.features import normalize_modalities
from ..core.paths import CACHE_SUFFIX, checkpoint_path, result_path, safe_name, sweep_path
from ..core.runtime import resolve_device
from ..core.safety import check_writable, locked
from ..generation.encoding import DEFAULT_ENCODER
from ..neggen import train as neggen_train
from ..neggen.causal import NegGenConfig
from ..training.trainer import MODES, TrainConfig, config_for_mode, fit, save_result
from . import multimodal

RUN_MODES = ("book", *MODES)
#: NegGen's settings that name a run's file when they differ from the defaults, in this order
SETTINGS = ("lam", "alpha", "tau", "align", "base", "objective", "beta", "pick")
MODEL_NAMES = ("bpr", "lightgcn", "neggen", *multimodal.MODELS)


@dataclass(frozen=True)
class RunSpec:
    """What identifies a run (and its file): dataset, model, sampler (LightGCN: ``uniform``, ``dns``, ...;
    FREEDOM: ``uniform`` or ``direct``), seed; NegGen's ``variant``, changed ``settings`` (e.g.
    ``(("align", "printed"),)``) or Fig. 7 ``sweep`` ``(param, value)``; FREEDOM/VBPR's ``modalities``
    (``"t"``, ``"vt"``), text-term/L2 weight ``reg`` and learning rate ``lr`` (a search's runs; ``lr`` named only
    where it is not the model's default); ``folder`` under the dataset (``tuning``, ...);
    ``generator`` (NegGen, Direct Generation) and ``subset_users`` (smoke demos)."""

    dataset: str
    model: str = "lightgcn"
    sampler: str = "uniform"
    seed: int = TrainConfig.seed
    variant: str | None = None
    settings: tuple = ()
    sweep: tuple | None = None
    modalities: str | None = None
    reg: float | None = None
    lr: float | None = None
    folder: str | None = None
    generator: str = "auto"
    subset_users: int | None = None
    sampler_kwargs: tuple = field(default=(), compare=False)

    def __post_init__(self):
        if self.model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {MODEL_NAMES}, got {self.model!r}")
        if self.model == "neggen" and self.variant is None:
            object.__setattr__(self, "variant", "full")

    def neggen_config(self) -> NegGenConfig:
        """NegGen's settings for this run (defaults, the variant, changed settings, the swept value)."""
        kw = dict(self.settings)
        if self.sweep:
            kw[self.sweep[0]] = self.sweep[1]
        return NegGenConfig(variant=self.variant or "full", **kw)


def path(spec: RunSpec, mode: str = "full", results_dir: str | Path | None = None) -> Path:
    """The record file of ``spec`` (``book`` reads the ``full`` one)."""
    mode = "full" if mode == "book" else mode
    name = spec.dataset if spec.subset_users is None else f"{spec.dataset}-{spec.subset_users}u"
    if spec.sweep:
        return sweep_path(name, spec.sweep[0], float(spec.sweep[1]), spec.seed, mode, results_dir,
                          settings_tag(spec.settings) or None)
    sampler, variant = spec.sampler, None
    if spec.model == "neggen":
        sampler = negatives_arm(spec.generator) if spec.neggen_config().generated else "uniform"
        variant = "-".join(x for x in (spec.variant, settings_tag(spec.settings)) if x)
    elif spec.model in multimodal.MODELS:
        mods = multimodal.result_suffix(spec.modalities) if spec.modalities else None
        tags = (mods, f"reg{spec.reg:g}" if spec.reg is not None else None,
                f"lr{spec.lr:g}" if spec.lr is not None else None)
        variant = "-".join(x for x in tags if x) or None
    p = result_path(name, spec.model, sampler, spec.seed, mode, variant, results_dir)
    return p.parent / spec.folder / p.name if spec.folder else p


def settings_tag(settings) -> str:
    """The file-name part of NegGen's changed settings: ``(("objective", "joint"),)`` -> ``objective_joint``."""
    return "-".join(f"{k}_{v:g}" if isinstance(v, float) else f"{k}_{v}" for k, v in settings)


def negatives_arm(generator: str) -> str:
    """The file-name word for NegGen's negatives: ``generated`` (``auto``: the default language-model
    cache), ``direct`` (Direct Generation), ``rule`` (rule-based), else ``generated_<cache name>``."""
    if generator in ("auto", None):
        return "generated"
    if generator in ("direct", "rule"):
        return generator
    return "generated_" + safe_name(Path(generator).name.removesuffix(CACHE_SUFFIX).replace(":", "_"))


def spec_of(rec: dict, folder: str | None = None) -> RunSpec:
    """The :class:`RunSpec` of a stored record (the inverse of :func:`path`); ``folder``: the sub-folder it sits
    in under its dataset, whose runs carry their weight ``reg`` (and a learning rate other than the model's
    default, ``lr``) in the file name (``tuning``, ...)."""
    kw: dict[str, Any] = dict(dataset=rec["dataset"], model=rec["model"], seed=rec["seed"], folder=folder)
    if rec["model"] == "neggen":
        given = rec.get("model_kwargs") or rec["config"].get("model_kwargs") or {}
        defaults, sweep = asdict(NegGenConfig()), rec.get("sweep")
        objective = given.get("objective", "printed")
        implied = {"base"} if objective in ("joint", "repaired") else set()  # those train the base anyway
        if objective != "repaired":
            implied.add("beta")
        kw.update(variant=rec.get("variant") or "full", sweep=(sweep["param"], sweep["value"]) if sweep else None,
                  generator=given.get("generator", "auto"),
                  settings=tuple((k, given[k]) for k in SETTINGS
                                 if k in given and given[k] != defaults[k] and k not in implied
                                 and not (sweep and k == sweep["param"])))
    elif rec["model"] in multimodal.MODELS:
        lr = rec["config"].get("lr")
        kw.update(sampler=(rec.get("negatives") or {}).get("source", "uniform"), modalities="".join(rec["modalities"]),
                  reg=rec["config"]["reg"] if folder else None,
                  lr=lr if folder and lr is not None and lr != default_lr(rec["model"], rec["dataset"]) else None)
    else:
        kw.update(sampler=rec["sampler"])
    return RunSpec(**kw)


def default_lr(model: str, dataset: str) -> float:
    """The learning rate a run of ``model`` on ``dataset`` gets unless told: a baseline's published (or chosen)
    one, else the trainer's."""
    if model in multimodal.BASELINES:
        return multimodal.baseline_config(model, dataset).lr
    return TrainConfig.lr


def command(spec: RunSpec, device: str = "auto") -> list[str]:
    """The CLI arguments (after ``python -m neggen_lite``) that train ``spec`` in full mode."""
    settings = [x for k, v in spec.settings for x in (f"--{k}", str(v))]
    generator = ["--generator", spec.generator] if spec.generator != "auto" else []
    device_arg = ["--device", str(device)] if device not in ("auto", None) else []
    if spec.sweep:
        return (["sweep", "--dataset", spec.dataset, "--param", spec.sweep[0], "--values", f"{spec.sweep[1]:g}",
                 "--seed", str(spec.seed)] + settings + generator + device_arg)
    args = ["train", "--dataset", spec.dataset, "--model", spec.model, "--mode", "full", "--seed", str(spec.seed)]
    if spec.model != "neggen" and spec.sampler != "uniform":
        args += ["--sampler", spec.sampler]
    if spec.model == "neggen":
        args += ["--variant", spec.variant] + settings
    if spec.modalities:
        args += ["--modalities", spec.modalities]
    if spec.reg is not None:
        args += ["--reg", f"{spec.reg:g}"]
    if spec.lr is not None:
        args += ["--lr", f"{spec.lr:g}"]
    return args + generator + device_arg


def command_line(spec: RunSpec, device: str = "auto") -> str:
    return "python -m neggen_lite " + shlex.join(command(spec, device))


def read(spec: RunSpec, mode: str = "full", results_dir: str | Path | None = None) -> dict:
    """The stored record of ``spec`` (with ``_path``); ``FileNotFoundError`` names the command that makes it."""
    p = path(spec, mode, results_dir)
    if not p.is_file():
        raise FileNotFoundError(f"no {'full' if mode == 'book' else mode}-mode record {p}; "
                                f"train it with: {command_line(spec)}")
    rec = json.loads(p.read_text())
    rec["_path"] = str(p)
    return rec


def load_dataset(spec: RunSpec, side_info: bool = True, root=None):
    """The dataset of ``spec`` (its ``subset_users`` slice for smoke demos)."""
    ds = data.load(spec.dataset, root, side_info=side_info)
    return ds.subset(spec.subset_users, seed=0) if spec.subset_users else ds


def train(spec: RunSpec, mode: str, device="auto", *, threads: int | None = None, progress: bool = False,
          checkpoint: str | Path | None = None, encoder: str = DEFAULT_ENCODER, features_dir=None,
          features=None, log=None, data_root=None, **overrides) -> dict:
    """Train ``spec`` in-process in ``mode`` (``smoke`` or ``full``) on ``device`` (resolved here, once) and
    return the record (not written; :func:`run` writes it). ``overrides``: trainer settings (``epochs``, ...)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} to train, got {mode!r}")
    device = resolve_device(device)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if spec.reg is not None:
        overrides.setdefault("reg", spec.reg)
    if spec.lr is not None:
        overrides.setdefault("lr", spec.lr)
    if spec.model == "neggen":
        ds = load_dataset(spec, root=data_root)
        rec = neggen_train.train(ds, mode, device, spec.generator, encoder, spec.neggen_config(), spec.seed,
                                 checkpoint, progress, threads, features=features, **overrides)
        if spec.sweep:
            rec["sweep"] = {"param": spec.sweep[0], "value": spec.sweep[1]}
        return rec
    if spec.model in multimodal.MODELS:
        ds = load_dataset(spec, root=data_root)
        mods = normalize_modalities(spec.modalities) if spec.modalities else None
        return multimodal.train(ds, spec.model, mods, mode, device, features_dir, spec.sampler, spec.generator,
                                encoder, spec.seed, checkpoint, progress, threads, features, log=log, **overrides)
    ds = load_dataset(spec, side_info=False, root=data_root)
    cfg = config_for_mode(mode, model=spec.model, sampler=spec.sampler, seed=spec.seed,
                          sampler_kwargs=dict(spec.sampler_kwargs) or None, **overrides)
    return fit(ds, cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads, log=log)


def run(spec: RunSpec, mode: str, device="auto", out: str | Path | None = None, *, keep_checkpoint: bool = False,
        use_checkpoint: bool = True, results_dir: str | Path | None = None, **kw) -> dict:
    """:func:`train` with the record written to ``out`` (default :func:`path`) and a checkpoint beside it
    (resumed when it is there; removed after success unless ``keep_checkpoint``)."""
    out = Path(out) if out else path(spec, mode, results_dir)
    ckpt = Path(kw.pop("checkpoint")) if kw.get("checkpoint") else checkpoint_path(out)
    kw.pop("checkpoint", None)
    check_writable(out, "--out")  # before any work, not after it
    if use_checkpoint:
        check_writable(ckpt, "--checkpoint")
    with locked(out, "result"):  # a second run writing the same record stops at once
        rec = train(spec, mode, device, checkpoint=ckpt if use_checkpoint else None, **kw)
        save_result(rec, out)
    rec["_path"] = str(out)
    if use_checkpoint and not keep_checkpoint and ckpt.exists():
        ckpt.unlink()
    return rec


def get(spec: RunSpec, mode: str = "book", device="auto", results_dir: str | Path | None = None,
        **kw) -> dict[str, Any]:
    """A run's record: ``book`` reads the committed full-mode JSON; ``full`` reads it when it exists and trains
    (and writes) it otherwise; ``smoke`` trains a short run in-process (written under ``results/smoke/``)."""
    if mode not in RUN_MODES:
        raise ValueError(f"mode must be one of {RUN_MODES}, got {mode!r}")
    if mode == "book" or (mode == "full" and path(spec, mode, results_dir).is_file()):
        return read(spec, mode, results_dir)
    return run(spec, mode, device, results_dir=results_dir, **kw)


def missing(plan: Iterable[RunSpec], results_dir: str | Path | None = None) -> list[RunSpec]:
    """The specs of ``plan`` without a committed full-mode record."""
    return [s for s in plan if not path(s, "full", results_dir).is_file()]


def ensure(plan: Iterable[RunSpec], mode: str = "full", device="auto", results_dir: str | Path | None = None,
           **kw) -> list[dict]:
    """Every record of ``plan``, training (in ``mode``) those that are missing; ``book`` never trains."""
    device = device if mode == "book" else resolve_device(device)
    return [get(s, mode, device, results_dir, **kw) for s in plan]


def sweep(spec: RunSpec, param: str, values: Iterable[float], mode: str = "full", device="auto", force: bool = False,
          encoder: str = DEFAULT_ENCODER, progress: bool = False, say=print, **kw) -> list[dict]:
    """Fig. 7: NegGen ``spec`` once per value of ``param`` (default grid :data:`neggen_train.SWEEPS`), the
    features encoded once; a value whose record exists is skipped unless ``force``."""
    device = resolve_device(device)
    out, feats = [], None
    for v in values:
        s = replace(spec, sweep=(param, v))
        p = path(s, mode)
        if p.exists() and not force:
            say(f"{p} exists; skipped (--force to rerun)")
            continue
        if feats is None:
            ds = load_dataset(spec, root=kw.get("data_root"))
            feats = neggen_train.build_features(ds, spec.generator, encoder, s.neggen_config().modalities, device,
                                                progress=progress)
        out.append(run(s, mode, device, use_checkpoint=False, features=feats, encoder=encoder, progress=progress,
                       **kw))
    return out
