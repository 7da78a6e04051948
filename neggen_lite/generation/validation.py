"""Parse and validate each generation step's output; rule-based fallbacks (paper Sec. 3.2.1-3.2.3).

A step's output is accepted only if it does what the step asks:

* every step: not an echo of the prompt, not repetitive (<= 25 % repeated word 4-grams: small models loop);
* description: non-empty, at most ``MAX_WORDS`` words (an unfinished last sentence is cut);
* masked description: contains ``[MASK]``, keeps the non-masked words (>= 80 % of its other words
  occur in the source, and it keeps >= 50 % of the source's words), masks at most 60 % of the words;
* masked description: besides, every ``[MASK]`` replaces at least one word of the source, and at least
  one of them a word that is not a stop word (a mask appended to the text, or one on "a", is no mask);
* completion: no ``[MASK]`` and no leftover of one (``MASK``, ``<mask>``, ``[MASK`` ...), differs from the
  original description, fills the masks (not the masked text with the masks deleted), is no refusal or
  placeholder ("None", "N/A", "...", "I cannot ...", a JSON null), has no bracketed fill the masked text
  does not hold ("[UNKNOWN]", "[PRODUCT_NAME]", "[BLACK]": a placeholder, or a word left in a mask's
  brackets), has no token over ``MAX_TOKEN_CHARS``
  characters, is not an echo of the prompt, not empty, at most twice as long as the masked input plus 20
  words.

When a model fails ``retries`` times, :func:`rule_mask` / :func:`rule_complete` produce a word-level
fallback from the dataset's own attribute vocabulary (rare content words are masked; masks are filled
with other words of the vocabulary), and the record says so.
"""
from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

MASK = "[MASK]"
MAX_WORDS = 160
MAX_TOKEN_CHARS = 60
_MASK_RE = re.compile(r"\[\s*mask\s*\]", re.IGNORECASE)
#: what is left of a mask after a model half-copies it: a bare upper-case MASK (also "_MASK"; a lower-case
#: "mask" is a word of its own: face masks are Beauty items), and <mask>, "[MASK", "MASK]" or "___"
_MASK_UPPER_RE = re.compile(r"(?<![A-Za-z])MASK(?![a-z])")
_MASK_LEFTOVER_RE = re.compile(r"<\s*/?\s*mask\s*>|\[\s*mask|mask\s*\]|_{3,}", re.IGNORECASE)
#: whole outputs that name no item: refusals and placeholders
_REFUSAL_RE = re.compile(
    r"^\W*(?:none|null|nil|n/?a|na|nothing|unknown|empty|not applicable|no (?:negative )?attributes?"
    r"(?: (?:found|available|generated))?|\.{2,}|…+|-+)\W*$"
    r"|^\W*(?:i\s*(?:cannot|can't|can not|am unable|'m unable|am sorry|'m sorry|apologi[sz]e|do not|don't)"
    r"|sorry\b|as an ai\b|unfortunately\b)", re.IGNORECASE)
#: a bracketed span: a fill such as "[UNKNOWN]" or "[BLACK]" where the masked text has none
_BRACKETED_RE = re.compile(r"\[[^\]]*\]")
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


def is_refusal(text: str) -> bool:
    """A refusal or placeholder instead of an answer ("None", "N/A", "...", "I cannot help ...")."""
    return bool(_REFUSAL_RE.search(text.strip()))


def masked_words(masked: str, source: str) -> list[list[str]]:
    """Per ``[MASK]`` of ``masked``, the (lower-cased) words of ``source`` it replaces, from a word-level
    alignment of the two texts; an empty list for a mask that replaces nothing (an inserted mask)."""
    toks = _mask_tokens(masked)
    src = [w.lower() for w in words(source)]
    slot = {j: k for k, j in enumerate(j for j, x in enumerate(toks) if x == MASK)}
    out: list[list[str]] = [[] for _ in slot]
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(a=src, b=toks, autojunk=False).get_opcodes():
        masks = [j for j in range(b0, b1) if toks[j] == MASK]
        if tag != "replace" or not masks:
            continue
        part = src[a0:a1]  # the replaced words, shared among this span's masks in order
        for n, j in enumerate(masks):
            lo, hi = len(part) * n // len(masks), len(part) * (n + 1) // len(masks)
            out[slot[j]] += part[lo:max(hi, lo + 1)] if lo < len(part) else []
    return out


def _mask_tokens(text: str) -> list[str]:
    parts = normalize_masks(text).split(MASK)
    toks: list[str] = []
    for k, p in enumerate(parts):
        if k:
            toks.append(MASK)
        toks += [w.lower() for w in words(p)]
    return toks


def check_masked(output: str, source: str) -> Check:
    t = clean_output(output)
    if not t:
        return Check(False, "empty", t)
    if _echoes_prompt(t):
        return Check(False, "echoes the prompt", t)
    n_mask = t.count(MASK)
    if n_mask == 0:
        return Check(False, "no [MASK]", t)
    if _MASK_UPPER_RE.search(t.replace(MASK, " ")):
        return Check(False, "a mask without its brackets", t)
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
    covered = masked_words(t, source)
    if any(not c for c in covered):
        return Check(False, "a mask that replaces no word", t)
    if all(all(w in STOPWORDS for w in c) for c in covered):
        return Check(False, f"masks only stop words ({', '.join(sorted({w for c in covered for w in c}))})", t)
    return Check(True, "", t)


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


def check_completion(output: str, masked: str, original: str) -> Check:
    t = clean_output(output)
    if not t:
        return Check(False, "empty", t)
    if MASK in t:
        return Check(False, "still contains [MASK]", t)
    if _MASK_LEFTOVER_RE.search(t) or _MASK_UPPER_RE.search(t):
        return Check(False, "a leftover of a mask", t)
    if MASK in normalize_masks(masked) and t.count("\n") > masked.count("\n"):
        return Check(False, "more lines than the masked text", t)
    if is_refusal(t):
        return Check(False, "a refusal or placeholder", t)
    held = set(_BRACKETED_RE.findall(normalize_masks(masked)))
    bracketed = [b for b in _BRACKETED_RE.findall(t) if b not in held]
    if bracketed:
        return Check(False, f"a bracketed fill ({bracketed[0]})", t)
    if _echoes_prompt(t):
        return Check(False, "echoes the prompt", t)
    longest = max((len(x) for x in t.split()), default=0)
    if longest > MAX_TOKEN_CHARS:
        return Check(False, f"a token of {longest} characters", t)
    if repetition(t) > MAX_REPETITION:
        return Check(False, f"repetitive ({repetition(t):.0%} repeated 4-grams)", t)
    if _norm(t) == _norm(original):
        return Check(False, "identical to the original", t)
    if MASK in normalize_masks(masked) and _norm(t) == _norm(normalize_masks(masked).replace(MASK, " ")):
        return Check(False, "fills no mask (the masked text with the masks deleted)", t)
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
