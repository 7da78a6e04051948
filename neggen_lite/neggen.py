"""NegGen end to end: features from the shipped generations, a pre-trained base, training, sweeps.

``train(ds, mode, ...)`` (and ``python -m neggen_lite train --model neggen``):

1. *Features* (Eq. 8-9): for every item with text, ``e_m`` = encoder(original attributes) and ``e_m*`` =
   encoder(generated negative) from the generation cache of ``generator`` (``results/generations/``);
   items with text but without a finished generation get the rule-based negative of
   :func:`neggen_lite.validation.rule_complete` (``generator="rule"``: all items do); items without text
   get zero tokens (see :mod:`neggen_lite.causal`, point 4). Counts go into the result's ``negatives``.
2. *Base*: LightGCN with uniform BPR under the same seed and settings, trained once and cached in
   ``.cache/base/`` (its result is reported beside NegGen's).
3. *NegGen* (Eq. 13-21) through the common trainer and evaluator, then a paired t-test over test users
   against the same-seed base.
"""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from . import causal
from .attributes import item_attributes
from .data import DataError
from .encoding import DEFAULT_ENCODER, encode_cached
from .metrics import evaluate_embeddings, paired_ttest
from .models import build_model
from .safety import load_checkpoint
from .train import TrainConfig, config_for_mode, fit
from .utils import REPO_ROOT, atomic_torch_save, resolve_device, seed_everything
from .validation import Vocabulary, rule_complete, rule_mask

BASE_CACHE = REPO_ROOT / ".cache" / "base"
SWEEPS = {"lam": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
          "tau": [0.07, 0.1, 0.2, 0.3, 1.0]}


def generation_cache(ds_name: str, generator: str) -> Path | None:
    """The generation cache of ``generator`` for ``ds_name`` (``None`` for ``"rule"``); ``"auto"``: the
    offline default's cache if it exists, else ``"rule"``. A missing explicit cache is an error."""
    from .offline_models import get as offline
    from .pipeline import default_cache_path

    if generator == "rule":
        return None
    name = generator
    if generator == "auto":
        name = "qwen2.5-coder-1.5b"
    try:
        name = offline(name).name
    except KeyError:
        pass
    path = default_cache_path(ds_name, name)
    if path.exists():
        return path
    if generator == "auto":
        return None
    have = sorted(p.name for p in path.parent.glob("*.jsonl.gz")) if path.parent.exists() else []
    raise FileNotFoundError(f"no generations for {ds_name} by {generator!r} ({path}); available: {have or 'none'}. "
                            f"Run: python -m neggen_lite generate --dataset {ds_name} --generator {generator}, "
                            "or pass generator='rule' for rule-based negatives")


def require_text(ds, attrs=None) -> None:
    """NegGen needs item text (e_m, Eq. 8): a :class:`DataError` for a dataset without any."""
    if not any(a is not None for a in (attrs if attrs is not None else item_attributes(ds))):
        raise DataError(f"{ds.name} has no item text offline: NegGen needs e_m (Eq. 8); "
                        "supply text or features for it")


def negative_texts(ds, generator: str = "auto", seed: int = 0) -> tuple[list, list, dict]:
    """Per item: original text (``None`` without text), negative text, and counts per source."""
    from .pipeline import negatives

    attrs = item_attributes(ds)
    original = [a.render() if a is not None else None for a in attrs]
    require_text(ds, attrs)
    path = generation_cache(ds.name.split("-")[0], generator)
    gen = negatives(path, ds) if path is not None and "-" not in ds.name else {}
    vocab = Vocabulary([t for t in original if t])
    neg, counts = [], {"model_ok": 0, "model_fallback": 0, "rule": 0, "no_text": 0}
    for i, text in enumerate(original):
        if text is None:
            neg.append(None)
            counts["no_text"] += 1
        elif i in gen:
            neg.append(gen[i]["negative"])
            counts["model_ok" if gen[i]["status"] == "ok" else "model_fallback"] += 1
        else:
            neg.append(rule_complete(rule_mask(text, vocab), vocab, text, seed=seed * 1_000_003 + i))
            counts["rule"] += 1
    counts["generator"] = path.name.replace(".jsonl.gz", "") if path is not None else "rule"
    return original, neg, counts


def check_modalities(modalities) -> None:
    """Only the textual token can be built offline; anything else is a :class:`DataError` (a ``ValueError``)."""
    if tuple(modalities) != ("t",):
        raise DataError(f"modalities {tuple(modalities)}: offline there is no visual modality (the item "
                        "description is written from text, not from images), so only ('t',) can be built. "
                        "Variants V and V&T need image descriptions from a vision model.")


def build_features(ds, generator: str = "auto", encoder: str = DEFAULT_ENCODER, modalities=("t",),
                   device=None, seed: int = 0, progress: bool = False) -> causal.Features:
    """Encode original and negative texts (Eq. 8-9) into ``[n_items, M, d]`` tokens (cached on disk)."""
    check_modalities(modalities)
    original, neg, counts = negative_texts(ds, generator, seed)
    from .encoding import load_encoder

    idx = [i for i, t in enumerate(original) if t is not None]
    enc = load_encoder(encoder, device)
    e_o = encode_cached(f"{ds.name}-original", [original[i] for i in idx], encoder, device, progress=progress,
                        encoder=enc)
    e_n = encode_cached(f"{ds.name}-{counts['generator']}-negative-s{seed}", [neg[i] for i in idx], encoder,
                        device, progress=progress, encoder=enc)
    d = e_o.shape[1]
    orig = torch.zeros(ds.n_items, 1, d)
    negt = torch.zeros(ds.n_items, 1, d)
    orig[idx, 0] = torch.from_numpy(e_o)
    negt[idx, 0] = torch.from_numpy(e_n)
    has = torch.zeros(ds.n_items, dtype=torch.bool)
    has[idx] = True
    return causal.Features(orig, negt, has, ("t",), counts["generator"], encoder, counts)


def pretrained_base(ds, config: TrainConfig, device=None, mode: str = "custom", progress: bool = True,
                    threads: int | None = None):
    """LightGCN under ``config``'s seed and settings (uniform BPR), trained once and cached on disk.

    Returns ``(model, info)`` where ``info`` has the base run's ``valid``/``test`` metrics."""
    device = resolve_device(device)
    base_cfg = replace(config, model="lightgcn", sampler="uniform", model_kwargs={}, sampler_kwargs={})
    path = BASE_CACHE / f"{ds.name}-lightgcn-{base_cfg.key()}.pt"
    model = build_model("lightgcn", ds, device, base_cfg.dim, base_cfg.n_layers)
    if path.exists():
        ck = load_checkpoint(path, device)
        model.load_state_dict(ck["model"])
        return model, ck["info"]
    res = fit(ds, base_cfg, device=device, checkpoint=path.with_suffix(".ckpt"), progress=progress, mode=mode,
              threads=threads)
    info = {k: res[k] for k in ("valid", "test", "best_epoch", "epochs", "seconds")}
    model = res["_model"]
    atomic_torch_save({"model": model.state_dict(), "info": info, "config": asdict(base_cfg)}, path)
    path.with_suffix(".ckpt").unlink(missing_ok=True)
    return model, info


def train(ds, mode: str = "full", device=None, generator: str = "auto", encoder: str = DEFAULT_ENCODER,
          neggen: causal.NegGenConfig | None = None, seed: int | None = None, checkpoint=None,
          progress: bool = True, threads: int | None = None, features: causal.Features | None = None,
          **train_overrides) -> dict:
    """Pre-train (or load) the base, build features, train NegGen; the result record of :func:`fit`
    plus ``negatives`` (sources), ``base`` (same-seed LightGCN metrics) and ``significance``."""
    from .utils import set_threads

    set_threads(threads)
    device = resolve_device(device)
    ng = neggen or causal.NegGenConfig()
    cfg = config_for_mode(mode, seed=seed, **train_overrides)
    cfg = replace(cfg, model="neggen", sampler="uniform",
                  model_kwargs={**asdict(ng), "generator": generator, "encoder": encoder})
    if features is None:  # before the base's pre-training, not after it
        check_modalities(ng.modalities)
        require_text(ds)
    base, base_info = pretrained_base(ds, cfg, device, mode, progress, threads)
    with torch.no_grad():  # the pre-trained base, before any fine-tuning: the t-test's reference
        theirs = evaluate_embeddings(*base(), ds, "test", cfg.ks, per_user=True,
                                     exclude_valid_in_test=cfg.exclude_valid_in_test)
    feats = features or build_features(ds, generator, encoder, ng.modalities, device, seed=0, progress=progress)
    seed_everything(cfg.seed + 3)  # the causal module's init depends on the seed only, not on what ran before
    model = causal.NegGen(base, feats, ng, seed=cfg.seed)
    res = fit(ds, cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads,
              model=model)
    res["model_kwargs"] = cfg.model_kwargs
    res["negatives"] = feats.sources
    res["base"] = base_info
    res["significance"] = {"vs": "lightgcn, same seed (the pre-trained base, before any fine-tuning)",
                           "test": paired_ttest(res["_per_user"], theirs)}
    return res


def sweep_out(ds_name: str, param: str, value: float, seed: int, mode: str) -> Path:
    sub = "smoke" if mode == "smoke" else ""
    return REPO_ROOT / "results" / sub / ds_name / "sweeps" / f"neggen-{param}{value:g}-seed{seed}.json"


def load_json(path) -> dict:
    return json.loads(Path(path).read_text())


def quality_report(ds, generator: str = "qwen2.5-coder-1.5b", encoder: str = DEFAULT_ENCODER, seed: int = 0) -> dict:
    """Validity rates of a generation cache and how hard its negatives are (Sec. 3.2, issue report).

    ``hardness`` (mean cosine, :func:`neggen_lite.encoding.hardness`) for the model's negatives, for the
    rule-based negatives of the same items, and for a random other item -- the uniform-sampling baseline.
    """
    from .encoding import encode, encode_negatives, hardness, load_encoder
    from .pipeline import GenerationCache, negatives, summarize

    path = generation_cache(ds.name, generator)
    if path is None:
        raise FileNotFoundError(f"no generation cache for {ds.name} by {generator!r}")
    cache = GenerationCache(path)
    negs = negatives(cache, ds)
    items = sorted(negs)
    summary = summarize(cache, items, ["description_generation", "attribute_masking", "attribute_completion"])
    enc_model = load_encoder(encoder)
    name = path.name.replace(".jsonl.gz", "")
    model = hardness(encode_negatives(ds, negs, name, encoder), seed=seed)
    original, rule, _ = negative_texts(ds, "rule", seed)
    rule_h = hardness({"original": encode([original[i] for i in items], enc_model),
                       "negative": encode([rule[i] for i in items], enc_model)}, seed=seed)
    return {"dataset": ds.name, "generator": name, "encoder": encoder, "items": len(items),
            "valid_rate": summary["valid_rate"], "fallback_rate": summary["fallback_rate"], "steps": summary["steps"],
            "hardness_model": model, "hardness_rule_same_items": rule_h}
