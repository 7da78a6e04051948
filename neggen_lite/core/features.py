"""Item features, one container for every model: per modality (``v`` visual, ``t`` textual) a ``[n_items, d]``
float tensor and a mask (False: the item has no such feature, its row is zero). MMRec's feature files
(``image_feat.npy``, ``text_feat.npy``) are read and validated here; offline there is no visual signal."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .data import DataError
from .safety import SettingsError


MODALITIES = ("v", "t")
MODALITY_NAMES = {"v": "visual", "t": "textual"}
FEATURE_FILES = {"v": "image_feat.npy", "t": "text_feat.npy"}
#: Table 1 / Table 4 names of the modality variants.
VARIANTS = {("v", "t"): "V&T", ("t",): "T", ("v",): "V"}


class MultimodalError(DataError):
    """Features or generations a multi-modal run needs are missing or malformed (message says which)."""


class FeatureError(MultimodalError):
    """A feature file is missing, unreadable, or does not match the dataset."""


class MissingModality(MultimodalError):
    """A requested modality has no features for this dataset (offline: always the visual one)."""


class MissingGenerations(MultimodalError):
    """No Direct Generation cache for the dataset."""


def normalize_modalities(modalities) -> tuple[str, ...]:
    """``"t"``, ``"vt"``, ``"v,t"``, ``("t", "v")`` ... -> canonical ``("v", "t")`` order; validated."""
    if isinstance(modalities, str):
        modalities = [c for c in modalities.replace(",", "").replace("&", "").replace("+", "").lower()]
    mods = tuple(m.lower() for m in modalities)
    bad = [m for m in mods if m not in MODALITIES]
    if bad or not mods or len(set(mods)) != len(mods):
        raise SettingsError(f"--modalities: modalities must be a non-empty subset of {MODALITIES} (e.g. 't', 'v', "
                            f"'vt'), got {modalities!r}")
    return tuple(m for m in MODALITIES if m in mods)


@dataclass
class ItemFeatures:
    """Per modality: ``feats[m]`` ``[n_items, d_m]`` float32, ``masks[m]`` ``[n_items]`` bool (False = the
    item has no such feature; its row is zero), ``sources[m]`` (where the features came from). NegGen's
    inputs also carry ``negatives[m]``, the encoded generated negative of each item (Eq. 9; zero rows where
    the item has no text), and ``negative_counts`` (how many negatives came from which source)."""

    feats: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    sources: dict[str, str] = field(default_factory=dict)
    negatives: dict[str, torch.Tensor] = field(default_factory=dict)
    negative_counts: dict = field(default_factory=dict)

    def __post_init__(self):
        for m, f in self.feats.items():
            if m not in MODALITIES:
                raise ValueError(f"unknown modality {m!r}")
            if f.dim() != 2 or self.masks[m].shape != (f.shape[0],):
                raise ValueError(f"modality {m}: features {tuple(f.shape)} / mask {tuple(self.masks[m].shape)}")
        if len({f.shape[0] for f in self.feats.values()}) > 1:
            raise ValueError("modalities disagree on the number of items")
        for m, f in self.negatives.items():
            if m not in self.feats or f.shape != self.feats[m].shape:
                raise ValueError(f"negatives of modality {m}: {tuple(f.shape)}, features "
                                 f"{tuple(self.feats[m].shape) if m in self.feats else 'missing'}")

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m in MODALITIES if m in self.feats)

    @property
    def n_items(self) -> int:
        return next(iter(self.feats.values())).shape[0]

    def select(self, modalities) -> "ItemFeatures":
        mods = normalize_modalities(modalities)
        missing = [m for m in mods if m not in self.feats]
        if missing:
            raise MissingModality(f"no {', '.join(MODALITY_NAMES[m] for m in missing)} features loaded "
                                  f"(have {self.modalities or 'none'})")
        return ItemFeatures({m: self.feats[m] for m in mods}, {m: self.masks[m] for m in mods},
                            {m: self.sources.get(m, "") for m in mods})

    def tokens(self, negative: bool = False) -> torch.Tensor:
        """The modality tokens of every item, ``[n_items, M, d]`` in :data:`MODALITIES` order (Eq. 8; Eq. 9 with
        ``negative=True``), as NegGen's causal module reads them (all modalities need the same ``d``)."""
        src = self.negatives if negative else self.feats
        missing = [m for m in self.modalities if m not in src]
        if missing:
            raise MissingModality(f"no {'negative ' if negative else ''}tokens for modalities {missing}")
        return torch.stack([src[m] for m in self.modalities], dim=1)

    def summary(self) -> dict:
        return {m: {"dim": int(self.feats[m].shape[1]), "items_with_feature": int(self.masks[m].sum()),
                    "items": self.n_items, "source": self.sources.get(m, "")} for m in self.modalities}


def read_feature_file(path, n_items: int, dataset: str = "the dataset") -> np.ndarray:
    """Load an MMRec feature file (``.npy``, ``[n_items, d]``, rows in itemID order) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"{path}: feature file not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise FeatureError(f"{path}: cannot read as a .npy array: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != n_items or arr.shape[1] == 0:
        raise FeatureError(f"{path}: shape {tuple(arr.shape)}, expected ({n_items}, d): one row per item of "
                           f"{dataset} ({n_items} items), in itemID order")
    if not np.issubdtype(arr.dtype, np.number):
        raise FeatureError(f"{path}: dtype {arr.dtype}, expected a numeric array")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise FeatureError(f"{path}: row {bad[0]} (itemID {bad[0]}) has non-finite values "
                           f"({len(bad)} such rows)")
    return arr.astype(np.float32, copy=False)


def missing_modality_message(ds_name: str, modality: str) -> str:
    if modality == "v":
        return (f"{ds_name}: no visual features. Offline there is no visual signal for any dataset (no "
                f"image_feat.npy, images or captions; data/README.md, caveat 1). Supply MMRec's "
                f"{FEATURE_FILES['v']} (4096-d CNN features of the 2014 Amazon images) with --features-dir DIR.")
    return (f"{ds_name}: no textual features: the dataset has no item text offline; supply MMRec's "
            f"{FEATURE_FILES['t']} with --features-dir DIR.")
