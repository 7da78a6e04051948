"""Items' original attributes (paper Sec. 3.2: "existing textual metadata, i.e. brand name, product title").

:func:`item_attributes` assembles, for every item, what its dataset has -- title, brand, categories,
description, keywords -- HTML entities decoded, in one fixed structured form; items with no text at
all are ``None`` and are listed by :func:`coverage`, never given an empty string.
"""
from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field

FIELDS = ("title", "brand", "categories", "description", "keywords")
_WS = re.compile(r"\s+")
#: brand placeholders in the Amazon metadata that carry no information
_NO_BRAND = {"unknown", "n/a", "na", "none", "generic"}


def clean(text: str | None) -> str | None:
    """Decode HTML entities (twice: the metadata holds ``&amp;amp;``), strip tags and collapse spaces."""
    if text is None:
        return None
    t = html.unescape(html.unescape(str(text)))
    t = re.sub(r"<[^>]+>", " ", t)
    t = _WS.sub(" ", t).strip()
    return t or None


@dataclass
class ItemAttributes:
    """One item's original attributes; ``None`` / empty where the dataset has nothing."""

    item: int
    title: str | None = None
    brand: str | None = None
    categories: list[str] = field(default_factory=list)
    description: str | None = None
    keywords: str | None = None

    def render(self) -> str:
        """The fixed structured text form used in prompts and encoded by Eq. 8."""
        parts = []
        if self.title:
            parts.append(f"Title: {self.title}")
        if self.brand:
            parts.append(f"Brand: {self.brand}")
        if self.categories:
            parts.append(f"Categories: {'; '.join(self.categories)}")
        if self.description:
            parts.append(f"Description: {self.description}")
        if self.keywords:
            parts.append(f"Keywords: {self.keywords}")
        return "\n".join(parts)

    @property
    def core_field(self) -> str:
        """The field that carries the item's own words, masked when the description step is skipped
        (``describe="text"``): the title, else the keywords, the description, the categories or the brand."""
        for f in ("title", "keywords", "description", "categories", "brand"):
            if getattr(self, f):
                return f
        raise ValueError(f"item {self.item} has no text")

    def core(self) -> str:
        v = getattr(self, self.core_field)
        return "; ".join(v) if isinstance(v, list) else v

    def render_with(self, field: str, text: str) -> str:
        """:meth:`render` with ``field`` replaced by ``text`` and everything else as it is: the same
        metadata beside an original text and beside its generated negative (Sec. 3.2.4, Eq. 8-9)."""
        value = [text] if field == "categories" else text
        return ItemAttributes(**{**asdict(self), field: value}).render()

    def to_dict(self) -> dict:
        return asdict(self)


def _split_beauty_attributes(lists: list[list[str] | None]) -> list[tuple[str | None, list[str]]]:
    """Beauty's attribute lists are ``[brand?] + category path``: the brand is the first entry when it
    never occurs as a category (every category name appears after position 0 somewhere)."""
    cat_vocab = {a for lst in lists if lst for a in lst[1:]}
    out = []
    for lst in lists:
        if not lst:
            out.append((None, []))
            continue
        if lst[0] not in cat_vocab:
            brand = clean(lst[0])
            out.append((None if brand is None or brand.lower() in _NO_BRAND else brand,
                        [c for c in (clean(x) for x in lst[1:]) if c]))
        else:
            out.append((None, [c for c in (clean(x) for x in lst) if c]))
    return out


def item_attributes(ds) -> list[ItemAttributes | None]:
    """Per item id, its :class:`ItemAttributes`, or ``None`` when the dataset has no text for it."""
    side = ds.side
    n = ds.n_items
    titles = side.get("title", [None] * n)
    descs = side.get("description", [None] * n)
    keywords = side.get("keywords", [None] * n)
    brands_cats = _split_beauty_attributes(side["attributes"]) if "attributes" in side else [(None, [])] * n
    out: list[ItemAttributes | None] = []
    for i in range(n):
        brand, cats = brands_cats[i]
        a = ItemAttributes(i, clean(titles[i]), brand, cats, clean(descs[i]), clean(keywords[i]))
        has_text = a.title or a.description or a.keywords or a.brand or a.categories
        out.append(a if has_text else None)
    return out


def coverage(ds, attrs: list[ItemAttributes | None] | None = None) -> dict:
    """How many items have any text, per field, and which items have none (listed, not hidden)."""
    attrs = attrs if attrs is not None else item_attributes(ds)
    present = [a for a in attrs if a is not None]
    per_field = {f: sum(1 for a in present if getattr(a, f)) for f in FIELDS}
    missing = [i for i, a in enumerate(attrs) if a is None]
    return {"dataset": ds.name, "items": ds.n_items, "with_text": len(present), "without_text": len(missing),
            "share_with_text": len(present) / ds.n_items if ds.n_items else 0.0, "per_field": per_field,
            "items_without_text": missing}
