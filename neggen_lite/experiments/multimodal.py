"""The multi-modal recommenders of Table 2 -- VBPR, FREEDOM, MMGCN, BM3, DRAGON, LGMRec, DiffMM -- trained through
the common trainer on loaded item features (Sec. 2, Table 1/2 rows)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from torch import nn

from ..core.features import MODALITIES, VARIANTS, ItemFeatures, MissingModality, normalize_modalities
from ..core.runtime import resolve_device, seed_everything, set_threads
from ..generation.encoding import DEFAULT_ENCODER
from ..generation.features import (available_modalities, check_full_dataset, direct_cache_path,
                                   direct_negative_features, load_features, missing_modality_message)
from ..models import bm3, diffmm, dragon, lgmrec, mmgcn
from ..models.freedom import FREEDOM, N_UI_LAYERS, FreedomConfig
from ..models.vbpr import VBPR
from ..training.trainer import config_for_mode, fit

#: the baselines with published per-dataset settings: name -> (class, ``config_for(dataset)``); each config's
#: ``lr``/``reg``/``n_layers`` (and DiffMM's ``batch_size``) are the trainer's defaults for the model
BASELINES = {"mmgcn": (mmgcn.MMGCN, mmgcn.config_for), "bm3": (bm3.BM3, bm3.config_for),
             "dragon": (dragon.DRAGON, dragon.config_for), "lgmrec": (lgmrec.LGMRec, lgmrec.config_for),
             "diffmm": (diffmm.DiffMM, diffmm.config_for)}
MODELS = ("freedom", "vbpr", *BASELINES)


def build(model: str, ds, features: ItemFeatures, cfg, freedom: FreedomConfig | None = None,
          generated=None, device=None, settings=None) -> nn.Module:
    """Model ``model`` (one of :data:`MODELS`) for ``ds`` under the trainer config ``cfg`` (seeded first); a
    baseline of :data:`BASELINES` takes ``settings``, by default its published ones for ``ds``
    (:func:`baseline_config`)."""
    seed_everything(cfg.seed)
    key = model.lower()
    if key == "freedom":
        m = FREEDOM(ds, features, freedom, cfg.dim, cfg.n_layers, seed=cfg.seed, generated=generated)
    elif key in ("vbpr", *BASELINES):
        if generated is not None:
            raise ValueError("direct-generation negatives are implemented for FREEDOM only")
        if key == "vbpr":
            m = VBPR(ds, features, cfg.dim)
        else:
            seed = {"seed": cfg.seed} if key == "diffmm" else {}  # its per-epoch edge-dropout draws
            m = BASELINES[key][0](ds, features, settings or baseline_config(key, ds), cfg.dim, cfg.n_layers, **seed)
    else:
        raise ValueError(f"unknown multi-modal model {model!r}; choose one of {MODELS}")
    return m.to(resolve_device(device))


def baseline_config(model: str, ds):
    """The published settings of baseline ``model`` for dataset ``ds`` (a dataset or its name; the Baby values
    where none are published)."""
    return BASELINES[model][1](getattr(ds, "name", ds))


def train(ds, model: str = "freedom", modalities=None, mode: str = "full", device=None, features_dir=None,
          negatives: str = "uniform", generator: str = "auto", encoder=DEFAULT_ENCODER, seed: int | None = None,
          checkpoint=None, progress: bool = True, threads: int | None = None, features: ItemFeatures | None = None,
          freedom: FreedomConfig | None = None, log=None, **train_overrides) -> dict:
    """Train one of :data:`MODELS` through :func:`neggen_lite.training.trainer.fit`; the result record plus
    ``modalities``, ``features`` (per modality: dim, coverage, source) and ``negatives`` (where the negatives
    came from).

    ``modalities=None``: every modality with features; a requested one without features raises
    :class:`MissingModality`. ``negatives="direct"``: Direct Generation negatives (FREEDOM)."""
    set_threads(threads)
    key = model.lower()
    if negatives not in ("uniform", "direct"):
        raise ValueError(f"negatives must be 'uniform' or 'direct', got {negatives!r}")
    if negatives == "direct":  # fail before any encoding when the generations are missing
        if key != "freedom":
            raise ValueError("direct-generation negatives are implemented for FREEDOM only")
        check_full_dataset(ds)
        direct_cache_path(ds.name, generator)
    if features is None:
        features = load_features(ds, modalities, features_dir, encoder, device, progress)
    elif modalities is not None:
        features = features.select(modalities)
    fcfg = freedom or FreedomConfig()
    if key == "freedom" and train_overrides.get("n_layers") is None:
        train_overrides["n_layers"] = N_UI_LAYERS
    if key == "vbpr" and train_overrides.get("n_layers") is None:
        train_overrides["n_layers"] = 0          # no propagation
    if key in BASELINES:                         # published lr / reg / layers (/ batch size) unless given
        bcfg = baseline_config(key, ds)
        for k in ("lr", "reg", "n_layers", "batch_size"):
            if train_overrides.get(k) is None and getattr(bcfg, k, None) is not None:
                train_overrides[k] = getattr(bcfg, k)
    kwargs: dict[str, Any] = {"modalities": list(features.modalities), "negatives": negatives,
                              "features": {m: s for m, s in features.sources.items()}}
    if key == "freedom":
        kwargs["freedom"] = asdict(fcfg)
    if key in BASELINES:                         # the settings this run trains with, overrides included
        settings = asdict(baseline_config(key, ds))
        settings.update({k: v for k, v in train_overrides.items() if k in settings and v is not None})
        kwargs[key] = settings
    if negatives == "direct":
        kwargs.update(generator=generator, encoder=encoder if isinstance(encoder, str) else "custom")
    cfg = config_for_mode(mode, model=key, sampler="uniform", seed=seed, model_kwargs=kwargs, **train_overrides)
    generated, neg_info = None, {"source": "uniform"}
    if negatives == "direct":
        if "t" not in features.modalities:
            raise MissingModality("direct-generation negatives are text: train with the textual modality")
        g, gm, neg_info = direct_negative_features(ds, generator, encoder, device, progress)
        generated = (g, gm)
        pos_items = ds.train[:, 1]
        neg_info.update(source="direct", share_of_train_positives=float(gm[pos_items].mean()),
                        fallback_for_the_rest="the uniformly sampled item's text feature")
    m = build(key, ds, features, cfg, fcfg, generated, device)
    res = fit(ds, cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads,
              model=m, log=log)
    res["modalities"] = list(features.modalities)
    res["features"] = features.summary()
    res["negatives"] = neg_info
    return res


def result_suffix(modalities) -> str | None:
    """File-name suffix for a modality subset: ``None`` for V&T (the paper's setting), else ``t`` / ``v``."""
    mods = normalize_modalities(modalities)
    return None if mods == MODALITIES else "".join(mods)


def choose_modalities(ds, requested=None, features_dir=None) -> tuple[tuple[str, ...] | None, list[str]]:
    """The modalities to train: ``requested``, else every one with features; and notes on those left out."""
    avail = available_modalities(ds, features_dir)
    if requested:
        return normalize_modalities(requested), []
    mods = avail or None
    notes = [f"note: {missing_modality_message(ds.name, m)} Running variant {VARIANTS[mods]} (not the paper's V&T)."
             for m in MODALITIES if avail and m not in avail]
    return mods, notes
