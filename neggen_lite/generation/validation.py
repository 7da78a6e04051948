"""Parse and validate each generation step's output; rule-based fallbacks (paper Sec. 3.2.1-3.2.3).

A step's output is accepted only if it does what the step asks:

* every step: not an echo of the prompt, not repetitive (<= 25 % repeated word 4-grams: small models loop);
* description: non-empty, at most ``MAX_WORDS`` words (an unfinished last sentence is cut);
* masked description: contains ``[MASK]``, keeps the non-masked words (>= 80 % of its other words
  occur in the source, and it keeps >= 50 % of the source's words), masks at most 60 % of the words;
* completion: no ``[MASK]``, differs from the original description, not an echo of the prompt, not
  empty, at most twice as long as the masked input plus 20 words.

When a model fails ``retries`` times, :func:`rule_mask` / :func:`rule_complete` produce a word-level
fallback from the dataset's own attribute vocabulary (rare content words are masked; masks are filled
with other words of the vocabulary), and the record says so.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

MASK = "[MASK]"
MAX_WORDS = 160
_MASK_RE = re.compile(r"\[\s*mask\s*\]", re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'&\-\.]*[A-Za-z0-9])?")
_PREFIX_RE = re.compile(r"^\s*(?:output|answer|masked description|completed description|generated description|"
                        r"description|negative attributes|result)\s*(?:\([^)]*\))?\s*:\s*", re.IGNORECASE)
_ECHO_MARKERS = ("task overview", "instructions:", "input:", "input (", "only output", "[mask] tokens")
STOPWORDS = frozenset("""a an the and or of for to in on with by from at as is are was were be been it its this that
these those your you our we they their not no but if so than then into over under up down out off very can will
just more most other some such only own same too s t don should now per each all any both few""".split())


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def normalize_masks(text: str) -> str:
    return _MASK_RE.sub(MASK, text)


def clean_output(text: str) -> str:
    """Strip what models wrap answers in: code fences, quotes, an ``Output:``-style label, extra lines of
    commentary after a blank line."""
    t = text.strip()
    t = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", t).strip()
    for _ in range(2):
        t = _PREFIX_RE.sub("", t).strip()
    if "\n\n" in t:
        t = t.split("\n\n", 1)[0].strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        t = t[1:-1].strip()
    return normalize_masks(t)


def repetition(text: str, n: int = 4) -> float:
    """Share of repeated word ``n``-grams (0 = none; small models loop: "It is a device that ...")."""
    ws = [w.lower() for w in words(text)]
    grams = [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if len(grams) >= 4 else 0.0


MAX_REPETITION = 0.25


def trim_unfinished(text: str) -> str:
    """Cut a trailing unfinished sentence (generation stopped at the token limit), if a finished one exists."""
    t = text.rstrip()
    if t and t[-1] not in ".!?\"')":
        cut = max(t.rfind(". "), t.rfind("! "), t.rfind("? "))
        if cut > 0:
            return t[:cut + 1]
    return t


def _echoes_prompt(text: str) -> bool:
    low = text.lower()
    return any(m in low for m in _ECHO_MARKERS)


@dataclass
class Check:
    ok: bool
    reason: str = ""
    text: str = ""


def check_description(output: str, source: str) -> Check:
    t = trim_unfinished(clean_output(output))
    if not t:
        return Check(False, "empty", t)
    if _echoes_prompt(t):
        return Check(False, "echoes the prompt", t)
    if repetition(t) > MAX_REPETITION:
        return Check(False, f"repetitive ({repetition(t):.0%} repeated 4-grams)", t)
    if MASK in t:
        return Check(False, "contains [MASK]", t)
    if len(words(t)) > MAX_WORDS:
        return Check(False, f"too long ({len(words(t))} words > {MAX_WORDS})", t)
    if len(words(t)) < 3:
        return Check(False, "too short", t)
    return Check(True, "", t)


def check_masked(output: str, source: str) -> Check:
    t = clean_output(output)
    if not t:
        return Check(False, "empty", t)
    if _echoes_prompt(t):
        return Check(False, "echoes the prompt", t)
    n_mask = t.count(MASK)
    if n_mask == 0:
        return Check(False, "no [MASK]", t)
    if repetition(t) > MAX_REPETITION:
        return Check(False, f"repetitive ({repetition(t):.0%} repeated 4-grams)", t)
    src = [w.lower() for w in words(source)]
    kept = [w.lower() for w in words(t.replace(MASK, " ")) if w.lower() != "mask"]
    if not src:
        return Check(False, "empty source", t)
    src_set = set(src)
    in_source = sum(1 for w in kept if w in src_set) / max(1, len(kept))
    if kept and in_source < 0.8:
        return Check(False, f"changes the non-masked words ({in_source:.0%} kept from the source)", t)
    retained = len(set(kept) & src_set) / len(src_set)
    if retained < 0.5 and n_mask + len(kept) < 0.5 * len(src):
        return Check(False, f"drops most of the description ({retained:.0%} of its words kept)", t)
    if n_mask > 0.6 * (n_mask + len(kept)):
        return Check(False, f"masks too much ({n_mask} masks, {len(kept)} words)", t)
    return Check(True, "", t)


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


def check_completion(output: str, masked: str, original: str) -> Check:
    t = clean_output(output)
    if not t:
        return Check(False, "empty", t)
    if MASK in t:
        return Check(False, "still contains [MASK]", t)
    if _echoes_prompt(t):
        return Check(False, "echoes the prompt", t)
    if repetition(t) > MAX_REPETITION:
        return Check(False, f"repetitive ({repetition(t):.0%} repeated 4-grams)", t)
    if _norm(t) == _norm(original):
        return Check(False, "identical to the original", t)
    limit = 2 * len(words(masked)) + 20
    if len(words(t)) > limit:
        return Check(False, f"too long ({len(words(t))} words > {limit})", t)
    return Check(True, "", t)


class Vocabulary:
    """The dataset's own attribute vocabulary: content words with document frequencies (for IDF)."""

    def __init__(self, texts: list[str]):
        df: Counter = Counter()
        for t in texts:
            df.update({w.lower() for w in words(t)})
        self.n_docs = max(1, len(texts))
        self.df = df
        content = sorted(w for w in df if self.is_content(w))
        self.content_words = content
        freq = np.array([df[w] for w in content], dtype=np.float64)
        self.probs = freq / freq.sum() if len(freq) else freq

    @staticmethod
    def is_content(w: str) -> bool:
        return w.lower() not in STOPWORDS and len(w) > 2 and not w.isdigit()

    def idf(self, w: str) -> float:
        return math.log((1 + self.n_docs) / (1 + self.df.get(w.lower(), 0))) + 1


def rule_mask(text: str, vocab: Vocabulary, share: float = 0.25, max_masks: int = 6) -> str:
    """Mask the most specific content words (highest IDF in the dataset), ``share`` of them, 1..max_masks."""
    tokens = re.split(r"(\s+)", text.strip())
    cand = [(vocab.idf(w), j) for j, tok in enumerate(tokens)
            for w in [_WORD_RE.match(tok).group(0) if _WORD_RE.match(tok) else ""]
            if w and vocab.is_content(w)]
    if not cand:
        cand = [(0.0, j) for j, tok in enumerate(tokens) if tok.strip()]
    k = max(1, min(max_masks, round(share * len(cand))))
    chosen = {j for _, j in sorted(cand, key=lambda x: (-x[0], x[1]))[:k]}
    out = []
    for j, tok in enumerate(tokens):
        if j in chosen:
            m = _WORD_RE.match(tok)
            out.append(MASK + tok[m.end():] if m else MASK)
        else:
            out.append(tok)
    return "".join(out)


def rule_complete(masked: str, vocab: Vocabulary, original: str, seed: int = 0) -> str:
    """Fill each ``[MASK]`` with a content word drawn from the vocabulary (by frequency), never one of
    the original description's words."""
    rng = np.random.default_rng(seed)
    banned = {w.lower() for w in words(original)}
    parts = normalize_masks(masked).split(MASK)
    out = [parts[0]]
    for p in parts[1:]:
        word = None
        if len(vocab.content_words):
            for _ in range(50):
                w = vocab.content_words[int(rng.choice(len(vocab.content_words), p=vocab.probs))]
                if w not in banned:
                    word = w
                    break
        out.append((word or "other") + p)
    return "".join(out)
