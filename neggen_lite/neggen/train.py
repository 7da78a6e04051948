"""NegGen end to end: features from the shipped generations, a pre-trained base, training, sweeps.

``train(ds, mode, ...)`` (and ``python -m neggen_lite train --model neggen``):

1. *Features* (Eq. 8-9): for every item with text, ``e_m`` = encoder(original attributes) and ``e_m*`` =
   encoder(generated negative) from the generation cache of ``generator`` (``results/generations/``);
   items with text but without a finished generation get the rule-based negative of
   :func:`neggen_lite.generation.validation.rule_complete` (``generator="rule"``: all items do); items without text
   get zero tokens (see :mod:`neggen_lite.neggen.causal`, point 4). Counts go into the result's ``negatives``.
2. *Base*: LightGCN with uniform BPR under the same seed and settings, trained once and cached in
   ``.cache/base/`` (its result is reported beside NegGen's; a run of the same seed started meanwhile waits).
3. *NegGen* (Eq. 13-21) through the common trainer and evaluator, then a paired t-test over test users
   against the same-seed base.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import torch

from ..core.attributes import item_attributes
from ..core.data import DataError
from ..core.features import ItemFeatures
from ..core.metrics import evaluate_embeddings, paired_ttest
from ..core.paths import CACHE_SUFFIX, base_path, cache_stem, checkpoint_path, generation_cache_path
from ..core.runtime import atomic_torch_save, resolve_device, seed_everything, set_threads
from ..core.safety import load_checkpoint, wait_unlocked
from ..generation.encoding import (DEFAULT_ENCODER, LazyEncoder, encode, encode_cached, encode_negatives, hardness,
                                   load_encoder)
from ..generation.features import direct_cache_path
from ..generation.offline_models import cache_name
from ..generation.pipeline import GenerationCache, negatives, summarize
from ..generation.validation import Vocabulary, is_refusal, rule_complete, rule_mask
from ..models.lightgcn import build_model
from ..training.trainer import TrainConfig, config_for_mode, fit
from . import causal
from .objectives import NearestToGeneratedSampler, sampler_audit

#: the offline model whose generations NegGen reads by default (``generator="auto"``)
DEFAULT_GENERATOR = "qwen2.5-coder-1.5b"
SWEEPS = {"lam": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
          "tau": [0.07, 0.1, 0.2, 0.3, 1.0]}


#: ``generator="auto"``: the first of these caches that exists (the bulk default with transformers in bf16
#: (Baby), the same model and prompts run by llama.cpp (Beauty), then the paper's three steps); ``"direct"``:
#: Sec. 2.1's Direct Generation cache (Fig. 2)
AUTO_CACHES = (("qwen2.5-coder-1.5b-instruct-q4_k_m-bf16", "text", "rule"),
               ("qwen2.5-coder-1.5b-instruct-q4_k_m-llamacpp", "text", "rule"),
               ("qwen2.5-coder-1.5b-instruct-q4_k_m", "model", "model"))


def generation_cache(ds_name: str, generator: str) -> Path | None:
    """The generation cache that ``generator`` names for ``ds_name``: ``"rule"`` -> ``None`` (rule-based
    negatives); ``"auto"`` -> the first of :data:`AUTO_CACHES` that exists, else ``None``; ``"direct"`` ->
    the Direct Generation cache that :func:`~neggen_lite.generation.features.direct_cache_path` picks; a
    path to a ``.jsonl.gz`` cache; or an offline model's / a generator's name (its three-step cache;
    ``NAME:text`` / ``NAME:text-rulemask`` for its ``describe="text"`` caches). A missing explicit cache is
    an error."""
    if generator == "rule":
        return None
    if generator == "auto":
        for name, describe, mask in AUTO_CACHES:
            path = generation_cache_path(ds_name, name, describe=describe, mask=mask)
            if path.exists():
                return path
        return None
    if generator.endswith(CACHE_SUFFIX):
        path = Path(generator)
    elif generator == "direct":
        return direct_cache_path(ds_name)  # raises MissingGenerations, with the command, when there is none
    else:
        name, _, kind = generator.partition(":")
        describe, _, rulemask = kind.partition("-")
        path = generation_cache_path(ds_name, cache_name(name), describe=describe or "model",
                                     mask="rule" if rulemask == "rulemask" else "model")
    if path.exists():
        return path
    have = sorted(p.name for p in path.parent.glob("*" + CACHE_SUFFIX)) if path.parent.exists() else []
    raise FileNotFoundError(f"no generations for {ds_name} by {generator!r} ({path}); available: {have or 'none'}. "
                            f"Run: python -m neggen_lite generate --dataset {ds_name} --generator {generator}, "
                            "or pass generator='rule' for rule-based negatives")


def require_text(ds, attrs=None) -> None:
    """NegGen needs item text (e_m, Eq. 8): a :class:`DataError` for a dataset without any."""
    if not any(a is not None for a in (attrs if attrs is not None else item_attributes(ds))):
        raise DataError(f"{ds.name} has no item text offline: NegGen needs e_m (Eq. 8); "
                        "supply text or features for it")


def negative_texts(ds, generator: str = "auto", seed: int = 0) -> tuple[list, list, dict]:
    """Per item: the text ``e_m`` encodes (``None`` without text), the text ``e_m*`` encodes, and counts
    per source (``model_refusal``: a refusal an older validator accepted, replaced by the rule-based one). A model's negative comes with its positive in the same metadata (``original_text`` /
    ``negative_text`` of :func:`neggen_lite.generation.pipeline.negatives`); a rule-based one masks and
    refills the item's whole attribute text."""
    attrs = item_attributes(ds)
    original = [a.render() if a is not None else None for a in attrs]
    require_text(ds, attrs)
    path = generation_cache(ds.name.split("-")[0], generator)
    gen = negatives(path, ds) if path is not None and "-" not in ds.name else {}
    vocab = Vocabulary([t for t in original if t])
    neg, counts = [], {"model_ok": 0, "model_fallback": 0, "rule": 0, "no_text": 0, "model_refusal": 0}
    for i, text in enumerate(original):
        if text is None:
            neg.append(None)
            counts["no_text"] += 1
        elif i in gen and not is_refusal(gen[i]["negative"]):
            original[i] = gen[i]["original_text"]
            neg.append(gen[i]["negative_text"])
            counts["model_ok" if gen[i]["status"] == "ok" else "model_fallback"] += 1
        else:  # no generation, or a refusal an older validator accepted (it names no item)
            neg.append(rule_complete(rule_mask(text, vocab), vocab, text, seed=seed * 1_000_003 + i))
            counts["model_refusal" if i in gen else "rule"] += 1
    counts["generator"] = cache_stem(path) if path is not None else "rule"
    return original, neg, counts


def check_modalities(modalities) -> None:
    """Only the textual token can be built offline; anything else is a :class:`DataError` (a ``ValueError``)."""
    if tuple(modalities) != ("t",):
        raise DataError(f"modalities {tuple(modalities)}: offline there is no visual modality (the item "
                        "description is written from text, not from images), so only ('t',) can be built. "
                        "Variants V and V&T need image descriptions from a vision model.")


def build_features(ds, generator: str = "auto", encoder: str = DEFAULT_ENCODER, modalities=("t",),
                   device=None, seed: int = 0, progress: bool = False) -> ItemFeatures:
    """Encode original and negative texts (Eq. 8-9) into ``[n_items, M, d]`` tokens (cached on disk)."""
    check_modalities(modalities)
    original, neg, counts = negative_texts(ds, generator, seed)
    idx = [i for i, t in enumerate(original) if t is not None]
    enc = LazyEncoder(encoder, device)
    e_o = encode_cached(f"{ds.name}-original", [original[i] for i in idx], encoder, device, progress=progress,
                        encoder=enc)
    e_n = encode_cached(f"{ds.name}-{counts['generator']}-negative-s{seed}", [neg[i] for i in idx], encoder,
                        device, progress=progress, encoder=enc)
    orig = torch.zeros(ds.n_items, e_o.shape[1])
    negt = torch.zeros(ds.n_items, e_o.shape[1])
    orig[idx] = torch.from_numpy(e_o)
    negt[idx] = torch.from_numpy(e_n)
    has = torch.zeros(ds.n_items, dtype=torch.bool)
    has[idx] = True
    return ItemFeatures({"t": orig}, {"t": has}, {"t": f"item attributes encoded by {encoder}"}, {"t": negt}, counts)


def pretrained_base(ds, config: TrainConfig, device=None, mode: str = "custom", progress: bool = True,
                    threads: int | None = None):
    """LightGCN under ``config``'s seed and settings (uniform BPR), trained once and cached on disk; a run
    that finds another process training the same base waits for it and loads that base.

    Returns ``(model, info)`` where ``info`` has the base run's ``valid``/``test`` metrics."""
    device = resolve_device(device)
    base_cfg = replace(config, model="lightgcn", sampler="uniform", model_kwargs={}, sampler_kwargs={})
    path = base_path(ds.name, base_cfg.key())
    model = build_model("lightgcn", ds, device, base_cfg.dim, base_cfg.n_layers)
    # another run of the same seed may be training this base (e.g. two objectives queued side by side):
    # wait for it and load its base rather than fail on its lock or train a second copy
    wait_unlocked(checkpoint_path(path), "pre-trained base")
    if path.exists():
        ck = load_checkpoint(path, device)
        model.load_state_dict(ck["model"])
        return model, ck["info"]
    res = fit(ds, base_cfg, device=device, checkpoint=checkpoint_path(path), progress=progress, mode=mode,
              threads=threads)
    info = {k: res[k] for k in ("valid", "test", "best_epoch", "epochs", "seconds")}
    model = res["_model"]
    atomic_torch_save({"model": model.state_dict(), "info": info, "config": asdict(base_cfg)}, path)
    checkpoint_path(path).unlink(missing_ok=True)
    return model, info


def base_reference(ds, cfg: TrainConfig, device, mode: str, progress: bool, threads):
    """The same-seed pre-trained LightGCN (:func:`pretrained_base`), its info, and its per-user test metrics:
    the paired t-test's reference, taken before any fine-tuning."""
    base, base_info = pretrained_base(ds, cfg, device, mode, progress, threads)
    with torch.no_grad():
        theirs = evaluate_embeddings(*base(), ds, "test", cfg.ks, per_user=True,
                                     exclude_valid_in_test=cfg.exclude_valid_in_test)
    return base, base_info, theirs


def train(ds, mode: str = "full", device=None, generator: str = "auto", encoder: str = DEFAULT_ENCODER,
          neggen: causal.NegGenConfig | None = None, seed: int | None = None, checkpoint=None,
          progress: bool = True, threads: int | None = None, features: ItemFeatures | None = None,
          **train_overrides) -> dict:
    """Pre-train (or load) the base, build features, train NegGen; the result record of :func:`fit`
    plus ``negatives`` (sources), ``base`` (same-seed LightGCN metrics) and ``significance``."""
    set_threads(threads)
    device = resolve_device(device)
    ng = neggen or causal.NegGenConfig()
    cfg = config_for_mode(mode, seed=seed, **train_overrides)
    cfg = replace(cfg, model="neggen", sampler="uniform",
                  model_kwargs={**asdict(ng), "generator": generator, "encoder": encoder})
    if features is None:  # before the base's pre-training, not after it
        check_modalities(ng.modalities)
        require_text(ds)
    if ng.objective == "sampler":
        return train_with_nearest_sampler(ds, cfg, ng, device, generator, encoder, checkpoint, progress, threads,
                                          features, mode)
    base, base_info, theirs = base_reference(ds, cfg, device, mode, progress, threads)
    feats = features or build_features(ds, generator, encoder, ng.modalities, device, seed=0, progress=progress)
    seed_everything(cfg.seed + 3)  # the causal module's init depends on the seed only, not on what ran before
    model = causal.NegGen(base, feats, ng, seed=cfg.seed)
    res = fit(ds, cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads,
              model=model)
    res["model_kwargs"] = cfg.model_kwargs
    if ng.generated:  # w/o NEG and w/o both use no generated negative
        res["negatives"] = feats.negative_counts
    res["base"] = base_info
    res["significance"] = {"vs": "lightgcn, same seed (the pre-trained base, before any fine-tuning)",
                           "test": paired_ttest(res["_per_user"], theirs)}
    return res


def train_with_nearest_sampler(ds, cfg: TrainConfig, ng: causal.NegGenConfig, device, generator, encoder,
                               checkpoint, progress, threads, features, mode) -> dict:
    """The ``sampler`` objective (Sec. 4.4, Fig. 6): LightGCN from scratch with BPR whose negative is the
    real item nearest to the positive's generated negative (:class:`objectives.NearestToGeneratedSampler`);
    no causal module. The t-test's reference is the same-seed LightGCN with uniform negatives."""
    feats = features or build_features(ds, generator, encoder, ng.modalities, device, seed=0, progress=progress)
    sampler = NearestToGeneratedSampler(ds.train_csr, feats.feats["t"], feats.negatives["t"], feats.masks["t"],
                                        device=device, seed=cfg.seed + 1, pick=ng.pick)
    lg_cfg = replace(cfg, model="lightgcn", model_kwargs={}, sampler=sampler.name,
                     sampler_kwargs={"generator": generator, "encoder": encoder,
                                     **({"pick": ng.pick} if ng.pick != "nearest" else {})})
    _, base_info, theirs = base_reference(ds, cfg, device, mode, progress, threads)
    res = fit(ds, lg_cfg, device=device, checkpoint=checkpoint, progress=progress, mode=mode, threads=threads,
              sampler=sampler)
    res["model"], res["model_kwargs"] = "neggen", cfg.model_kwargs
    res["negatives"] = feats.negative_counts
    res["base"] = base_info
    res["significance"] = {"vs": "lightgcn, same seed, uniform negatives",
                           "test": paired_ttest(res["_per_user"], theirs)}
    return res


def sampler_report(ds, generator: str = "auto", encoder: str = DEFAULT_ENCODER, device=None, seed: int = 2025) -> dict:
    """:func:`objectives.sampler_audit` of the ``sampler`` objective's negatives built from ``generator``'s
    negatives (the same features and sampler as :func:`train_with_nearest_sampler`; ``seed`` seeds the
    sampler's uniform draws as a run of that seed does)."""
    feats = build_features(ds, generator, encoder, ("t",), device, seed=0)
    sampler = NearestToGeneratedSampler(ds.train_csr, feats.feats["t"], feats.negatives["t"], feats.masks["t"],
                                        device=device, seed=seed + 1)
    audit = sampler_audit(sampler, ds, feats.feats["t"], feats.masks["t"])
    return {"dataset": ds.name, "negatives": feats.negative_counts["generator"], "generator": generator,
            "encoder": encoder, "seed": seed, "k": sampler.table.shape[1], **audit}


def quality_report(ds, generator: str = DEFAULT_GENERATOR, encoder: str = DEFAULT_ENCODER, seed: int = 0) -> dict:
    """Validity rates of a generation cache and how hard its negatives are (Sec. 3.2, issue report).

    ``hardness`` (mean cosine, :func:`neggen_lite.generation.encoding.hardness`) for the model's negatives, for the
    rule-based negatives of the same items, and for a random other item -- the uniform-sampling baseline;
    ``hardness_model_same_metadata``: the model's negative against its positive as NegGen encodes them
    (Eq. 8-9: the masked text and its completion, each in the item's metadata).
    """
    path = generation_cache(ds.name, generator)
    if path is None:
        raise FileNotFoundError(f"no generation cache for {ds.name} by {generator!r}")
    cache = GenerationCache(path)
    negs = negatives(cache, ds)
    items = sorted(negs)
    steps = list(dict.fromkeys(r["step"] for r in cache.records))  # the cache's own steps, in order
    summary = summarize(cache, items, steps)
    enc_model = load_encoder(encoder)
    name = cache_stem(path)
    encoded = encode_negatives(ds, negs, name, encoder)
    model = hardness(encoded, seed=seed)
    same_text = hardness(encoded, seed=seed, pair=("original_text", "negative_text"))
    _, rule, _ = negative_texts(ds, "rule", seed)  # its originals are the items' attributes, encoded above
    rule_h = hardness({"original": encoded["original"], "negative": encode([rule[i] for i in items], enc_model)},
                      seed=seed)
    return {"dataset": ds.name, "generator": name, "encoder": encoder, "items": len(items),
            "valid_rate": summary["valid_rate"], "fallback_rate": summary["fallback_rate"], "steps": summary["steps"],
            "hardness_model": model, "hardness_model_same_metadata": same_text, "hardness_rule_same_items": rule_h}
