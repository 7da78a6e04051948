"""Encoded item features from text (Eq. 8-9 for the multi-modal recommenders of Sec. 2): MMRec's text feature
rebuilt from the attributes, and the Direct Generation negatives of Sec. 2.1 (Fig. 2) in the same form.

* **Text features**: :func:`text_features` rebuilds MMRec's textual feature -- all-MiniLM-L6-v2 (Sentence-BERT)
  embedding of ``title + brand + categories + description`` joined by spaces -- from the attributes we have
  (Sports: model-derived keywords, a weak textual modality). Items without any text get a **zero row and
  ``mask = False``**, never an encoded empty string. The visual modality needs MMRec's ``image_feat.npy`` via
  ``features_dir`` and is never filled with anything else.
* **Direct-generation negatives** (Sec. 2.1, Fig. 2): the encoded output of the Direct Generation prompt for
  each positive item, in the items' own sentence form (labels dropped, :func:`plain_text`); FREEDOM puts it in
  place of the negative item's text feature in its text BPR term (:mod:`neggen_lite.models.freedom`).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..core.attributes import item_attributes
from ..core.features import (FEATURE_FILES, MODALITIES, ItemFeatures, MissingGenerations, MissingModality,
                             missing_modality_message, normalize_modalities, read_feature_file)
from ..core.paths import CACHE_SUFFIX, cache_stem, generation_cache_path, repo_relative
from .backends import LLAMACPP_SUFFIX, dtype_suffix
from .encoding import DEFAULT_ENCODER, encode_cached, hardness
from .offline_models import cache_name
from .pipeline import negatives


PAPER_DIRECT_GENERATOR = "meta-llama/Llama-3.2-11B-Vision-Instruct"
#: the offline Direct Generation model and its precision: Qwen2.5-Coder-0.5B in bf16 does a Baby item in about
#: 2 s on a 2-core CPU; the 1.5B took 30 s in fp32 (a shipped 16-item cache of it remains for comparison)
OFFLINE_DIRECT_GENERATOR = "qwen2.5-coder-0.5b"
OFFLINE_DIRECT_DTYPE = "bfloat16"


def mmrec_sentence(attrs) -> str | None:
    """MMRec's text for one item: ``title brand categories description`` joined by spaces (its
    ``preprocessing/3feat-encoder``), plus Sports' model-derived keywords; ``None`` without any text."""
    if attrs is None:
        return None
    parts = [attrs.title, attrs.brand, *attrs.categories, attrs.description, attrs.keywords]
    text = " ".join(p for p in parts if p).replace("\n", " ").strip()
    return text or None


def text_features(ds, encoder=DEFAULT_ENCODER, device=None, progress: bool = False,
                  cache_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(features [n_items, d], mask [n_items])``: the MMRec sentence of every item with text encoded
    (cached on disk); items without text get a zero row and ``mask`` False. ``encoder``: a name or an
    object with ``encode``."""
    texts = [mmrec_sentence(a) for a in item_attributes(ds)]
    idx = [i for i, t in enumerate(texts) if t]
    if not idx:
        raise MissingModality(f"{ds.name} has no item text offline (see data/README.md), so no textual "
                              f"features can be built; supply MMRec's {FEATURE_FILES['t']} via features_dir")
    name = encoder if isinstance(encoder, str) else getattr(encoder, "name", type(encoder).__name__)
    enc = None if isinstance(encoder, str) else encoder  # loaded by encode_cached only on a cache miss
    emb = encode_cached(f"{ds.name}-mmrec-text", [texts[i] for i in idx], name, device, progress=progress,
                        cache_dir=cache_dir, encoder=enc)
    out = np.zeros((ds.n_items, emb.shape[1]), dtype=np.float32)
    out[idx] = emb
    mask = np.zeros(ds.n_items, dtype=bool)
    mask[idx] = True
    return out, mask


def available_modalities(ds, features_dir=None) -> tuple[str, ...]:
    """Modalities that have features for ``ds``: a supplied file, or (text only) item text offline."""
    out = []
    for m in MODALITIES:
        if features_dir is not None and (Path(features_dir) / FEATURE_FILES[m]).is_file():
            out.append(m)
        elif m == "t" and any(a is not None for a in item_attributes(ds)):
            out.append(m)
    return tuple(out)


def load_features(ds, modalities=None, features_dir=None, encoder=DEFAULT_ENCODER, device=None,
                  progress: bool = False) -> ItemFeatures:
    """Features of ``modalities`` (default: all available) for ``ds``: MMRec files from ``features_dir``
    where present (validated), else text rebuilt from the attributes; a modality with neither raises
    :class:`MissingModality`. A supplied file's all-zero rows count as missing (``mask`` False)."""
    mods = normalize_modalities(modalities) if modalities is not None else available_modalities(ds, features_dir)
    if not mods:
        raise MissingModality(missing_modality_message(ds.name, "t") + " " + missing_modality_message(ds.name, "v"))
    feats, masks, sources = {}, {}, {}
    for m in mods:
        path = Path(features_dir) / FEATURE_FILES[m] if features_dir is not None else None
        if path is not None and path.is_file():
            arr = read_feature_file(path, ds.n_items, ds.name)
            feats[m], masks[m], sources[m] = arr, np.abs(arr).sum(1) > 0, str(path)
        elif m == "t":
            feats[m], masks[m] = text_features(ds, encoder, device, progress)
            fields = "title brand categories description" + (" keywords" if "keywords" in ds.side else "")
            enc_name = encoder if isinstance(encoder, str) else "custom encoder"
            sources[m] = f"rebuilt offline: MMRec sentence ({fields}) encoded by {enc_name}"
        else:
            raise MissingModality(missing_modality_message(ds.name, m))
    return ItemFeatures({m: torch.from_numpy(np.ascontiguousarray(f)) for m, f in feats.items()},
                        {m: torch.from_numpy(np.asarray(k, dtype=bool)) for m, k in masks.items()}, sources)


# --------------------------------------------------------------------------------------------
# FREEDOM's two graphs


def generate_command(ds_name: str, generator: str | None = None) -> str:
    if generator in (None, "auto", OFFLINE_DIRECT_GENERATOR):
        return (f"python -m neggen_lite generate --dataset {ds_name} --direct --generator {OFFLINE_DIRECT_GENERATOR}"
                f" --dtype {OFFLINE_DIRECT_DTYPE} --batch-size 16")
    return f"python -m neggen_lite generate --dataset {ds_name} --direct --generator {generator}"


def default_direct_cache_names() -> tuple[str, ...]:
    """The offline Direct Generation caches ``"auto"`` takes, first found: the default model run by llama.cpp
    (the same GGUF and prompt; Beauty's: 2.4x faster than transformers in ``benchmarks/bench_generation.py``), then the cache
    :func:`generate_command` writes (transformers, model name plus its precision suffix; Baby's)."""
    base = cache_name(OFFLINE_DIRECT_GENERATOR)
    return base + LLAMACPP_SUFFIX, base + dtype_suffix(OFFLINE_DIRECT_DTYPE, "cpu")


def direct_cache_path(ds_name: str, generator: str = "auto") -> Path:
    """The Direct Generation cache of ``generator`` (a name, or a ``.jsonl.gz`` path) for ``ds_name``;
    ``"auto"``: the first of :func:`default_direct_cache_names` that is there, else the only
    ``*.direct.jsonl.gz``. Raises :class:`MissingGenerations` with the command."""
    if generator not in (None, "auto") and Path(generator).is_file():
        return Path(generator)
    folder = generation_cache_path(ds_name, "_", direct=True).parent
    have = sorted(folder.glob("*.direct" + CACHE_SUFFIX)) if folder.is_dir() else []
    if generator in (None, "auto"):
        for name in default_direct_cache_names():
            default = generation_cache_path(ds_name, name, direct=True)
            if default in have:
                return default
        if len(have) == 1:
            return have[0]
        if len(have) > 1:
            raise MissingGenerations(f"several Direct Generation caches for {ds_name}: "
                                     f"{[p.name for p in have]}; pick one with --generator")
        path = folder / f"<generator>.direct{CACHE_SUFFIX}"
    else:
        path = generation_cache_path(ds_name, cache_name(generator), direct=True)
        if path.exists():
            return path
    raise MissingGenerations(
        f"no Direct Generation cache for {ds_name} ({path}; found: {[p.name for p in have] or 'none'}). "
        f"Generate one with\n  {generate_command(ds_name, generator)}\n(offline model; the paper used "
        f"{PAPER_DIRECT_GENERATOR}: {generate_command(ds_name, PAPER_DIRECT_GENERATOR)} --device cuda)")


_LABELS = {"title", "brand", "categories", "description", "keywords"}


def plain_text(rendered: str) -> str:
    """A Direct Generation output (``Title: ...`` lines, the input's :meth:`ItemAttributes.render` form)
    in MMRec's sentence form -- values joined by spaces, labels dropped -- so that a generated negative
    and an item's own feature (:func:`mmrec_sentence`) are encoded from the same kind of text."""
    parts = []
    for line in str(rendered).splitlines():
        head, sep, rest = line.partition(":")
        value = rest if sep and head.strip().lower() in _LABELS else line
        if sep and head.strip().lower() == "categories":
            value = " ".join(c.strip() for c in value.split(";"))
        value = " ".join(value.split())
        if value:
            parts.append(value)
    return " ".join(parts) or str(rendered).strip()


def check_full_dataset(ds) -> None:
    if "-" in ds.name:
        raise MissingGenerations(f"{ds.name}: direct-generation negatives need a full dataset (a subset "
                                 "re-indexes the items of the generation cache)")


def direct_negative_features(ds, generator: str = "auto", encoder=DEFAULT_ENCODER, device=None,
                             progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(features [n_items, d], mask [n_items], info)``: per positive item, the encoded output of the
    Direct Generation prompt (:func:`neggen_lite.generation.pipeline.negatives` with ``direct=True``), in the same
    sentence form as the items' own text features (:func:`plain_text`)."""
    check_full_dataset(ds)
    path = direct_cache_path(ds.name, generator)
    negs = negatives(path, ds, direct=True)
    items = [i for i, r in sorted(negs.items()) if r["negative"] and str(r["negative"]).strip()]
    if not items:
        raise MissingGenerations(f"{path}: no finished Direct Generation outputs; run "
                                 f"{generate_command(ds.name, generator)}")
    name = encoder if isinstance(encoder, str) else getattr(encoder, "name", type(encoder).__name__)
    enc = None if isinstance(encoder, str) else encoder  # loaded by encode_cached only on a cache miss
    stem = cache_stem(path)
    emb = encode_cached(f"{ds.name}-{stem}-negative", [plain_text(negs[i]["negative"]) for i in items], name,
                        device, progress=progress, encoder=enc)
    out = np.zeros((ds.n_items, emb.shape[1]), dtype=np.float32)
    out[items] = emb
    mask = np.zeros(ds.n_items, dtype=bool)
    mask[items] = True
    info = {"cache": repo_relative(path), "generator": stem, "items_generated": len(items),
            "model_ok": sum(1 for i in items if negs[i]["status"] == "ok"),
            "model_fallback": sum(1 for i in items if negs[i]["status"] != "ok")}
    return out, mask, info


def direct_hardness(ds, generator: str = "auto", encoder=DEFAULT_ENCODER, device=None, seed: int = 0,
                    features: ItemFeatures | None = None) -> dict:
    """How close the Direct Generation negatives sit to their positives (:func:`neggen_lite.generation.encoding.hardness`):
    mean cosine similarity between an item's text feature and the encoded generated negative, against the
    same for a uniformly drawn other item with a negative -- the uniform-sampling baseline; over the items of
    the cache, split by whether the model or the rule-based fallback wrote the negative."""
    g, gm, info = direct_negative_features(ds, generator, encoder, device)
    t = (features or load_features(ds, ("t",), None, encoder, device)).select("t")
    items = np.flatnonzero(gm & t.masks["t"].numpy())
    out = {"generator": info["generator"], "items": int(len(items)),
           **hardness({"original": t.feats["t"].numpy()[items], "negative": g[items]}, seed=seed)}
    status = negatives(direct_cache_path(ds.name, generator), ds, direct=True)
    model_items = np.array([i for i in items if status[i]["status"] == "ok"], dtype=np.int64)
    if len(model_items) >= 2:
        neg = [status[i]["negative"] for i in model_items]
        out["model_written"] = {
            "items": int(len(model_items)),
            **hardness({"original": t.feats["t"].numpy()[model_items], "negative": g[model_items]}, seed=seed),
            # the prompt asks for "the same structure as the positive item": the same attribute labels
            "same_fields_share": float(np.mean([field_labels(n) == field_labels(status[i]["original"])
                                                for i, n in zip(model_items, neg)])),
            "under_3_words_share": float(np.mean([len(plain_text(n).split()) < 3 for n in neg])),
            # the validator rejects exact copies; a copy that drops the labels or changes case slips through
            "copies_share": float(np.mean([_norm(plain_text(n)) == _norm(plain_text(status[i]["original"]))
                                           for i, n in zip(model_items, neg)])),
            # a refusal ("None", "No negative attributes.") passes the validator but names no item
            "refusals_share": float(np.mean([bool(_REFUSAL.match(_norm(plain_text(n)))) for n in neg]))}
    return out


_REFUSAL = re.compile(r"^(none|n/?a|nothing|no negative( attributes?| items?)?)\W*$")


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def field_labels(rendered: str) -> list[str]:
    """The attribute labels of a rendered item (``Title: ...`` lines), in order."""
    heads = (line.partition(":")[0].strip().lower() for line in str(rendered).splitlines() if ":" in line)
    return [h for h in heads if h in _LABELS]
