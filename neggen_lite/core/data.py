"""The four Amazon 5-core datasets in MMRec format (Baby, Beauty, Clothing, Sports).

The files are vendored, gzip-compressed, under ``data/<name>/`` (see ``data/README.md`` for their
provenance and caveats). ``load(name)`` reads and validates them and returns a :class:`Dataset`.

Split convention (MMRec): ``x_label`` 0 = train, 1 = valid, 2 = test. Item ids are the rank of the
sorted ASIN; ``n_users``/``n_items`` come from the id-mapping files, and every id in the ``.inter``
file must lie in that range.

Side information that exists offline (no visual signal for any dataset):

==========  ===========================================================================
baby        ``title`` (3,416 items), ``description`` (978), ``image_url`` (7,037)
beauty      ``title`` (12,086), ``attributes`` (brand if frequent, then category path)
sports      ``keywords`` -- *model-derived* by IDGenRec's ID generator, not original text
clothing    none (ASINs only)
==========  ===========================================================================
"""
from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .paths import DATA_DIR, REPO_ROOT
from .safety import ExpectedError, SettingsError, sha256_content

DATASETS = ("baby", "beauty", "clothing", "sports")
SPLITS = {0: "train", 1: "valid", 2: "test"}
INTER_COLUMNS = ("userID", "itemID", "x_label")

#: Table 3 of the paper, as printed (Sports' 33,598 users is a typo for 35,598, see data/README.md).
PAPER_TABLE3 = {
    "baby": dict(users=19445, items=7050, interactions=139110, density=0.00101),
    "beauty": dict(users=22363, items=12101, interactions=172188, density=0.00064),
    "clothing": dict(users=39387, items=23033, interactions=278677, density=0.00031),
    "sports": dict(users=33598, items=18357, interactions=296337, density=0.00048),
}

#: What each side-information field is, for fields that are not plain original text.
SIDE_NOTES = {
    "keywords": ("model-derived keywords: IDGenRec's ID generator wrote them from the item's original "
                 "text; they are not a title or description and are a weak textual modality"),
    "attributes": "brand (only if it occurs >= 5 times in the dataset), then the category path(s)",
    "image_url": "2014 Amazon image URL; no image files or image features are available offline",
}


class DataError(ExpectedError, ValueError):
    """A data file is malformed; the message names the file and, where it applies, the line."""


@dataclass
class Dataset:
    """One dataset: interactions split into train/valid/test plus the item side information.

    ``train``/``valid``/``test`` are ``int64`` arrays of shape ``(n, 2)`` holding ``(user, item)``.
    ``side`` maps a field name (``title``, ``description``, ``image_url``, ``attributes``,
    ``keywords``) to a list with one entry per item id, ``None`` where the item has no value.
    """

    name: str
    n_users: int
    n_items: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    side: dict[str, list[Any]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def side_notes(self) -> dict[str, str]:
        return {k: v for k, v in SIDE_NOTES.items() if k in self.side}

    def _csr(self, pairs: np.ndarray) -> sp.csr_matrix:
        data = np.ones(len(pairs), dtype=np.float32)
        m = sp.csr_matrix((data, (pairs[:, 0], pairs[:, 1])), shape=(self.n_users, self.n_items))
        m.sort_indices()
        return m

    @cached_property
    def train_csr(self) -> sp.csr_matrix:
        """User x item CSR matrix of training interactions (values 1.0)."""
        return self._csr(self.train)

    @cached_property
    def valid_csr(self) -> sp.csr_matrix:
        return self._csr(self.valid)

    @cached_property
    def test_csr(self) -> sp.csr_matrix:
        return self._csr(self.test)

    @cached_property
    def train_sets(self) -> list[frozenset]:
        """Per-user sets of training items."""
        ptr, idx = self.train_csr.indptr, self.train_csr.indices
        return [frozenset(idx[ptr[u]:ptr[u + 1]].tolist()) for u in range(self.n_users)]

    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "valid", "test"):
            raise ValueError(f"unknown split {name!r}; expected train, valid or test")
        return getattr(self, name)

    def csr(self, name: str) -> sp.csr_matrix:
        self.split(name)
        return getattr(self, f"{name}_csr")

    def stats(self) -> dict[str, Any]:
        """The paper's Table 3 columns, computed from the files (two interaction counts, see README)."""
        n_all = len(self.train) + len(self.valid) + len(self.test)
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": n_all,
            "train+valid": len(self.train) + len(self.valid),
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
            "density": n_all / (self.n_users * self.n_items),
            "side_info": ", ".join(f"{k} ({self.side_coverage(k)})" for k in self.side) or "none",
        }

    def subset(self, n_users: int, seed: int = 0) -> "Dataset":
        """``n_users`` random users with all their interactions, items re-indexed to those they touch
        (side information follows the items). For smoke runs and tests, never for reported numbers."""
        if not 0 < n_users <= self.n_users:
            raise SettingsError(f"--subset-users: need 1..{self.n_users} ({self.name} has {self.n_users} users), "
                                f"got {n_users}")
        users = np.sort(np.random.default_rng(seed).choice(self.n_users, n_users, replace=False))
        umap = np.full(self.n_users, -1, dtype=np.int64)
        umap[users] = np.arange(n_users)
        parts = {k: getattr(self, k)[umap[getattr(self, k)[:, 0]] >= 0] for k in ("train", "valid", "test")}
        items = np.unique(np.concatenate([v[:, 1] for v in parts.values()]))
        imap = np.full(self.n_items, -1, dtype=np.int64)
        imap[items] = np.arange(len(items))
        remap = {k: np.stack([umap[v[:, 0]], imap[v[:, 1]]], axis=1) for k, v in parts.items()}
        side = {k: [v[i] for i in items] for k, v in self.side.items()}
        return Dataset(f"{self.name}-{n_users}u", n_users, len(items), remap["train"], remap["valid"],
                       remap["test"], side, self.path)

    def side_coverage(self, key: str) -> int:
        """Number of items with a non-empty value for side-information field ``key``."""
        return sum(1 for v in self.side.get(key, []) if v)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, "
                f"train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}, "
                f"side={list(self.side)})")


# --------------------------------------------------------------------------------------------
# file helpers


def _find(directory: Path, stem: str) -> Path:
    """``stem`` or ``stem.gz`` inside ``directory``, checked against its listed sha256 (:func:`verify_sha256`)."""
    for cand in (directory / stem, directory / f"{stem}.gz"):
        if cand.exists():
            return verify_sha256(cand, expected_sha256(directory))
    raise DataError(f"{directory / stem}: file not found (nor {stem}.gz)")


def expected_sha256(directory: Path) -> dict[str, str]:
    """The sha256 sums listed for ``directory``'s files in ``<root>/README.md``, section ``### <name>/``
    (table rows ``| `file` | <sha256> |``, of the uncompressed content); ``{}`` without such a README."""
    readme = directory.parent / "README.md"
    if not readme.is_file():
        return {}
    text = readme.read_text(encoding="utf-8")
    marker = f"### {directory.name}/"
    if marker not in text:
        return {}
    section = text.split(marker, 1)[1].split("\n### ", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)` \| ([0-9a-f]{64}) \|", section, flags=re.M))


def verify_sha256(path: Path, sums: dict[str, str]) -> Path:
    """Check ``path`` (``x`` or ``x.gz``) against the sum listed for ``x``; a file not listed passes."""
    name = path.name.removesuffix(".gz")
    want = sums.get(name)
    if want is None:
        return path
    try:
        got = sha256_content(path)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    if got != want:
        raise DataError(f"{path}: sha256 of the content is {got}, but {path.parent.parent / 'README.md'} lists "
                        f"{want} for {name}: the file was changed or damaged; restore it (git checkout -- {path})")
    return path


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _read_table(path: Path, sep: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a headed table, check the columns and that they are non-negative integers."""
    try:
        with _open_text(path) as fh:
            df = pd.read_csv(fh, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot parse: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}, line 1: missing column(s) {missing}; header has {list(df.columns)}")
    out = {}
    for col in columns:
        num = pd.to_numeric(df[col], errors="coerce")
        bad = num.isna() | (num < 0) | (num != np.floor(num))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}, line {row + 2}: column {col!r} has {df[col].iloc[row]!r}, "
                            f"expected a non-negative integer")
        out[col] = num.to_numpy(dtype=np.int64)
    return pd.DataFrame(out)


def _mapping_size(path: Path, id_col: str) -> int:
    ids = _read_table(path, "\t", (id_col,))[id_col].to_numpy()
    expected = np.arange(len(ids))
    if not np.array_equal(np.sort(ids), expected):
        raise DataError(f"{path}: {id_col} values are not exactly 0..{len(ids) - 1}")
    return len(ids)


def _read_jsonl(path: Path, n_items: int, key: str) -> list[Any]:
    """Per-item values of ``key`` from a JSONL file with one ``{"itemID": ..}`` object a line."""
    values: list[Any] = [None] * n_items
    seen = np.zeros(n_items, dtype=bool)
    try:
        lines = list(_iter_lines(path))
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {lineno}: invalid JSON: {exc.msg}") from exc
        for f in ("itemID", key):
            if f not in rec:
                raise DataError(f"{path}, line {lineno}: missing field {f!r}")
        iid = rec["itemID"]
        if not isinstance(iid, int) or not 0 <= iid < n_items:
            raise DataError(f"{path}, line {lineno}: itemID {iid!r} out of range [0, {n_items})")
        if seen[iid]:
            raise DataError(f"{path}, line {lineno}: itemID {iid} appears twice")
        seen[iid] = True
        val = rec[key]
        values[iid] = val if val not in ("", []) else None
    return values


def _iter_lines(path: Path):
    with _open_text(path) as fh:
        yield from enumerate(fh, 1)


def read_inter(path: Path, n_users: int, n_items: int) -> dict[str, np.ndarray]:
    """Read and validate an MMRec ``.inter`` file; return ``{"train"|"valid"|"test": pairs}``."""
    df = _read_table(path, "\t", INTER_COLUMNS)
    u, i, lab = (df[c].to_numpy() for c in INTER_COLUMNS)
    for arr, col, n in ((u, "userID", n_users), (i, "itemID", n_items)):
        bad = np.flatnonzero(arr >= n)
        if len(bad):
            raise DataError(f"{path}, line {bad[0] + 2}: {col} {arr[bad[0]]} out of range [0, {n}) "
                            f"(the id mapping file has {n} rows)")
    bad = np.flatnonzero(~np.isin(lab, list(SPLITS)))
    if len(bad):
        raise DataError(f"{path}, line {bad[0] + 2}: x_label {lab[bad[0]]} not in {sorted(SPLITS)}")
    key = u * n_items + i
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    if len(dup):
        first, second = sorted((order[dup[0]], order[dup[0] + 1]))
        raise DataError(f"{path}, line {second + 2}: duplicate pair (userID {u[second]}, itemID {i[second]}), "
                        f"first seen on line {first + 2}")
    train_deg = np.bincount(u[lab == 0], minlength=n_users)
    no_train = np.flatnonzero(train_deg == 0)
    if len(no_train):
        user = int(no_train[0])
        rows = np.flatnonzero(u == user)
        where = f"its rows: lines {', '.join(str(r + 2) for r in rows[:5])}" if len(rows) else "no rows at all"
        raise DataError(f"{path}: userID {user} has no training interactions (x_label 0); {where}"
                        + (f"; {len(no_train)} such users in all" if len(no_train) > 1 else ""))
    for k in (1, 2):
        if not (lab == k).any():
            raise DataError(f"{path}: no rows with x_label {k} ({SPLITS[k]}): a model could not be validated "
                            "and tested on this split")
    return {name: np.stack([u[lab == k], i[lab == k]], axis=1) for k, name in SPLITS.items()}


def _load_side(name: str, directory: Path, n_items: int) -> dict[str, list[Any]]:
    side: dict[str, list[Any]] = {}
    if name == "baby":
        path = _find(directory, "item_meta.jsonl")
        for key, out in (("title", "title"), ("description", "description"), ("imUrl", "image_url")):
            side[out] = _read_jsonl(path, n_items, key)
    elif name == "beauty":
        side["title"] = _read_jsonl(_find(directory, "item_titles.jsonl"), n_items, "title")
        side["attributes"] = _read_jsonl(_find(directory, "item_attributes.jsonl"), n_items, "attributes")
    elif name == "sports":
        side["keywords"] = _read_jsonl(_find(directory, "item_keywords.jsonl"), n_items, "keywords")
    return side


def load(name: str, root: str | Path | None = None, side_info: bool = True) -> Dataset:
    """Load and validate dataset ``name`` from ``root`` (default: the vendored ``data/``).

    Raises :class:`DataError` naming the file and line for a missing column, a non-integer value,
    an id out of range, an unknown split label, a duplicate pair or a user with no training item.
    """
    key = name.lower()
    directory = Path(root) / key if root is not None else DATA_DIR / key
    if not directory.is_dir():
        raise DataError(f"{directory}: no such dataset directory; known datasets: {', '.join(DATASETS)}")
    n_users = _mapping_size(_find(directory, "u_id_mapping.csv"), "userID")
    n_items = _mapping_size(_find(directory, "i_id_mapping.csv"), "itemID")
    splits = read_inter(_find(directory, f"{key}.inter"), n_users, n_items)
    side = _load_side(key, directory, n_items) if side_info else {}
    return Dataset(key, n_users, n_items, splits["train"], splits["valid"], splits["test"], side, directory)


def stats(names: tuple[str, ...] | list[str] = DATASETS, root: str | Path | None = None,
          show: bool = True) -> pd.DataFrame:
    """Table 3 of the paper computed from the files, beside the paper's printed numbers."""
    rows = []
    for n in names:
        s = load(n, root).stats()
        paper = PAPER_TABLE3.get(n, {})
        s["paper users"] = paper.get("users")
        s["paper interactions"] = paper.get("interactions")
        s["paper density"] = paper.get("density")
        rows.append(s)
    df = pd.DataFrame(rows).set_index("dataset")
    if show:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(df.drop(columns=["side_info"]).to_string(float_format=lambda x: f"{x:.5f}"))
    return df
