"""The negative-generation pipeline (paper Sec. 3.2.1-3.2.3) with a resumable, append-only cache.

For every item with text: *description generation* (offline there are no images, so the description is
written from the item's textual attributes -- this replaces the paper's image step), *attribute
masking* of that description, *attribute completion* of the masked text. With ``describe="text"`` the
description step is skipped: there is no image to describe, so the item's own core text (its title, else
keywords, description, categories or brand; :meth:`ItemAttributes.core`) is masked and completed -- two
short steps instead of three, and a negative that stays about the item rather than an invented
description of it (a deviation from the paper, named in the book); ``mask="rule"`` also leaves the
masking to :func:`rule_mask`, so the model writes only the completion. Each output is validated
(:mod:`neggen_lite.generation.validation`); a failed output is retried with another seed (sampling) up to
``retries`` times, then replaced by the rule-based fallback, and the record says which.

The cache is a gzip file made of one gzip *member* per flushed batch: appending a member is a single
``write`` + ``fsync``, a rerun skips every (item, step) already done, and a crash loses at most the batch
in flight (an incomplete last member is ignored by readers and cut off by the next run, which holds the
cache's lock). Reading never modifies a cache; a damaged member is a :class:`CacheError` naming its byte
offset, and :func:`repair` (``python -m neggen_lite repair``) keeps the readable members after a backup.
A *header* record states who wrote the cache (:func:`cache_identity`); resuming with another refuses.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tqdm.auto import tqdm

from ..core.attributes import item_attributes
from ..core.data import DataError
from ..core.paths import DESCRIBE, MASKERS, manifest_path
from ..core.runtime import atomic_write_bytes
from ..core.safety import ExpectedError, SettingsError, check_settings, check_writable, locked
from .prompts import (ATTRIBUTE_COMPLETION, ATTRIBUTE_MASKING, DESCRIPTION_GENERATION, DIRECT_GENERATION, Prompt,
                      prompt_hash, prompts_hash)
from .validation import (Check, Vocabulary, check_completion, check_description, check_masked, rule_complete,
                         rule_mask)

DONE = ("ok", "fallback")


class CacheError(ExpectedError, RuntimeError):
    """A generation cache cannot be read, or a write to it is refused; the message names the file."""


#: ``pipeline`` of a cache's header and manifest, by ``direct``
PIPELINES = {("direct", "model", "model"): "direct_generation",
             ("steps", "model", "model"): "description>masking>completion",
             ("steps", "text", "model"): "masking>completion",
             ("steps", "text", "rule"): "rule masking>completion"}


def pipeline_name(direct: bool = False, describe: str = "model", mask: str = "model") -> str:
    """The name of a cache's pipeline (header, manifest): its generation steps in order."""
    return PIPELINES[("direct", "model", "model") if direct else ("steps", describe, mask)]
_MAGIC = b"\x1f\x8b\x08"


def _decode_member(data: bytes, pos: int) -> tuple[int, bytes] | None | str:
    """The member at ``pos``: ``(end, payload)``; ``None`` if it is incomplete (the data ends inside it);
    the zlib message if it is damaged."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        payload = d.decompress(memoryview(data)[pos:])
    except zlib.error as exc:
        return str(exc)
    if not d.eof:
        return None
    return len(data) - len(d.unused_data), payload


def _next_member(data: bytes, pos: int) -> int | None:
    """Offset of the next complete, readable member after ``pos``, if any."""
    at = data.find(_MAGIC, pos + 1)
    while at != -1:
        got = _decode_member(data, at)
        if isinstance(got, tuple):
            return at
        at = data.find(_MAGIC, at + 1)
    return None


def scan_members(path: str | Path, data: bytes, salvage: bool = False):
    """``(start, end, payload)`` for each complete member of cache ``path`` (bytes ``data``). An incomplete
    member at the very end (a crash or a write in progress) ends the scan; a damaged member raises
    :class:`CacheError` naming its offset, or with ``salvage=True`` is skipped to the next readable one."""
    pos = 0
    while pos < len(data):
        got = _decode_member(data, pos)
        if isinstance(got, tuple):
            yield pos, got[0], got[1]
            pos = got[0]
            continue
        nxt = _next_member(data, pos)
        if got is None and nxt is None:
            return  # incomplete tail
        if not salvage:
            what = got or "incomplete member followed by more data"
            raise CacheError(f"{path}: damaged gzip member at byte {pos} of {len(data)} ({what}); reading "
                             f"changes nothing -- run: python -m neggen_lite repair {path}")
        if nxt is None:
            return
        pos = nxt


class GenerationCache:
    """Append-only JSONL records in a multi-member gzip file (see the module docstring); loading reads
    only. ``valid_bytes``: where the complete members end; ``truncated_bytes``: the incomplete tail."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []
        self.final: dict[tuple[int, str], dict] = {}
        self.attempts: Counter = Counter()
        self.header: dict | None = None
        self.valid_bytes = self.truncated_bytes = 0
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        for pos, end, payload in scan_members(self.path, data):
            try:
                recs = [json.loads(x) for x in payload.decode("utf-8").splitlines() if x.strip()]
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CacheError(f"{self.path}: bad JSON in the member at byte {pos}: {exc}") from exc
            for r in recs:
                self._index(r)
            self.valid_bytes = end
        self.truncated_bytes = len(data) - self.valid_bytes

    def _index(self, r: dict) -> None:
        if not isinstance(r, dict):
            raise CacheError(f"{self.path}: a record is not a JSON object: {r!r}")
        if "header" in r:
            if self.header is not None and r["header"] != self.header:
                raise CacheError(f"{self.path}: two different headers: {self.header} and {r['header']}")
            self.header = r["header"]
            return
        missing = [k for k in ("item", "step", "status", "output") if k not in r]
        if missing:
            raise CacheError(f"{self.path}: record without {missing}: {r}")
        self.records.append(r)
        key = (int(r["item"]), r["step"])
        self.attempts[key] += 1
        if r["status"] in DONE:
            self.final[key] = r

    def append(self, records: list[dict]) -> None:
        if not records:
            return
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        blob = gzip.compress(payload, compresslevel=6, mtime=0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            if fh.tell() != self.valid_bytes:
                raise CacheError(f"{self.path}: changed since it was read ({fh.tell()} bytes, expected "
                                 f"{self.valid_bytes}); is another process writing it?")
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        self.valid_bytes += len(blob)
        for r in records:
            self._index(r)

    def drop_incomplete_tail(self) -> int:
        """Cut the incomplete last member (a crashed write) off the file; for the writer holding the lock.
        Returns the bytes cut."""
        cut = self.truncated_bytes
        if cut:
            with open(self.path, "r+b") as fh:
                fh.truncate(self.valid_bytes)
            self.truncated_bytes = 0
        return cut

    def done(self, item: int, step: str) -> bool:
        return (item, step) in self.final

    def output(self, item: int, step: str) -> str | None:
        r = self.final.get((item, step))
        return r["output"] if r else None


@dataclass(frozen=True)
class Step:
    prompt: Prompt
    source: Callable[[int, dict], str]            # the step's input text for an item
    check: Callable[[str, int, dict], Check]      # validate a raw output
    fallback: Callable[[int, dict, int], str]     # rule-based output


def _steps(vocab: Vocabulary, cache: GenerationCache, attrs: dict[int, str]) -> list[Step]:
    desc = lambda i: cache.output(i, "description_generation")  # noqa: E731
    masked = lambda i: cache.output(i, "attribute_masking")  # noqa: E731
    return [
        Step(DESCRIPTION_GENERATION, lambda i, _: attrs[i],
             lambda out, i, _: check_description(out, attrs[i]),
             lambda i, _, s: attrs[i]),
        Step(ATTRIBUTE_MASKING, lambda i, _: desc(i),
             lambda out, i, _: check_masked(out, desc(i)),
             lambda i, _, s: rule_mask(desc(i), vocab)),
        Step(ATTRIBUTE_COMPLETION, lambda i, _: masked(i),
             lambda out, i, _: check_completion(out, masked(i), desc(i)),
             lambda i, _, s: rule_complete(masked(i), vocab, desc(i), seed=s * 1_000_003 + i)),
    ]


def _text_steps(vocab: Vocabulary, cache: GenerationCache, cores: dict[int, str], mask: str = "model") -> list[Step]:
    """``describe="text"``: mask the item's core text itself, then complete it (no description step).
    ``mask="rule"``: the masking is :func:`rule_mask` (the item's rarest content words in the dataset),
    no model step; the model writes only the completion."""
    if mask == "rule":
        masked_rule = {i: rule_mask(t, vocab) for i, t in cores.items()}
        return [Step(ATTRIBUTE_COMPLETION, lambda i, _: masked_rule[i],
                     lambda out, i, _: check_completion(out, masked_rule[i], cores[i]),
                     lambda i, _, s: rule_complete(masked_rule[i], vocab, cores[i], seed=s * 1_000_003 + i))]
    masked = lambda i: cache.output(i, "attribute_masking")  # noqa: E731
    return [
        Step(ATTRIBUTE_MASKING, lambda i, _: cores[i],
             lambda out, i, _: check_masked(out, cores[i]),
             lambda i, _, s: rule_mask(cores[i], vocab)),
        Step(ATTRIBUTE_COMPLETION, lambda i, _: masked(i),
             lambda out, i, _: check_completion(out, masked(i), cores[i]),
             lambda i, _, s: rule_complete(masked(i), vocab, cores[i], seed=s * 1_000_003 + i)),
    ]




def _steps_for(direct: bool, describe: str, mask: str, vocab: Vocabulary, cache: GenerationCache,
               attrs: dict[int, str], cores: dict[int, str]) -> list[Step]:
    """The steps of a pipeline: Direct Generation, the paper's three, or ``describe="text"``'s two."""
    if direct:
        return _direct_steps(vocab, attrs)
    return _text_steps(vocab, cache, cores, mask) if describe == "text" else _steps(vocab, cache, attrs)


def _direct_steps(vocab: Vocabulary, attrs: dict[int, str]) -> list[Step]:
    return [Step(DIRECT_GENERATION, lambda i, _: attrs[i],
                 lambda out, i, _: check_completion(out, attrs[i], attrs[i]),
                 lambda i, _, s: rule_complete(rule_mask(attrs[i], vocab), vocab, attrs[i], seed=s * 1_000_003 + i))]


def run(ds, generator, cache_path: str | Path, items: Iterable[int] | None = None, limit: int | None = None,
        retries: int = 2, batch_size: int = 8, seed: int = 0, direct: bool = False, progress: bool = True,
        temperature: float = 0.7, sort_window: int = 16, shard: tuple[int, int] | None = None,
        describe: str = "model", mask: str = "model") -> dict:
    """Run the pipeline (or, with ``direct=True``, the Direct Generation prompt of Sec. 2.1) for the
    items of ``ds`` that have text; returns :func:`summarize` of the cache for those items.

    Items go in their order, ``batch_size * sort_window`` at a time; inside such a window they are
    batched by input length, so a batch pads little (``sort_window=1``: no sorting). ``shard=(k, n)``: only
    every n-th of the chosen items from the k-th, so n processes (each with its own ``cache_path``) can
    share the items; their caches concatenate into one (gzip members). ``describe="text"``: skip the
    description step and mask the item's own core text (see the module docstring); ``mask="rule"`` (only
    with ``describe="text"``): :func:`rule_mask` masks, the model completes."""
    if describe not in DESCRIBE:
        raise SettingsError(f"--describe {describe!r}: choose one of {', '.join(DESCRIBE)}")
    if mask not in MASKERS or (mask == "rule" and (describe != "text" or direct)):
        raise SettingsError(f"--mask {mask!r}: choose one of {', '.join(MASKERS)}; 'rule' goes with --describe text")
    check_settings(limit=limit, retries=retries, batch_size=batch_size, sort_window=sort_window,
                   temperature=temperature)
    cache_path = check_writable(cache_path, "--out")
    with locked(cache_path, "generation cache"):
        return _run(ds, generator, cache_path, items, limit, retries, batch_size, seed, direct, progress,
                    temperature, sort_window, shard, describe, mask)


def _run(ds, generator, cache_path, items, limit, retries, batch_size, seed, direct, progress, temperature,
         sort_window, shard, describe, mask) -> dict:
    attrs_all = item_attributes(ds)
    with_text = [i for i, a in enumerate(attrs_all) if a is not None]
    chosen = list(items) if items is not None else with_text
    no_text = [i for i in chosen if attrs_all[i] is None]
    if no_text:
        raise ValueError(f"{ds.name}: items {no_text[:10]} have no text to generate from "
                         f"({len(no_text)} in all); see attributes.coverage()")
    if limit is not None:
        chosen = chosen[:limit]
    if shard is not None:
        k, n = shard
        if not 0 <= k < n:
            raise ValueError(f"shard {k}/{n}: need 0 <= k < n")
        chosen = chosen[k::n]
    if not chosen:
        raise DataError(f"{ds.name}: no items with text to generate from"
                        + (f" in shard {shard[0]}/{shard[1]}" if shard else "") + "; see attributes.coverage()")
    attrs = {i: attrs_all[i].render() for i in chosen}
    vocab = Vocabulary([a.render() for a in attrs_all if a is not None])
    cache = GenerationCache(cache_path)
    identity = cache_identity(generator, direct, describe, mask)
    check_identity(cache, identity)
    recovered = cache.drop_incomplete_tail()  # we hold the lock: the tail is a crashed write of ours
    if cache.header is None:
        cache.append([{"header": identity}])
    cores = {i: attrs_all[i].core() for i in chosen}
    steps = _steps_for(direct, describe, mask, vocab, cache, attrs, cores)
    src = cores if describe == "text" and not direct else attrs
    last = steps[-1].prompt.name
    todo = length_sorted([i for i in chosen if not cache.done(i, last)], lambda i: len(src[i]),
                         window=batch_size * sort_window)
    t_start = time.perf_counter()
    bar = tqdm(total=len(chosen), initial=len(chosen) - len(todo), unit="item", disable=not progress,
               desc=f"{ds.name}/{generator.name}", dynamic_ncols=True)
    for b in range(0, len(todo), batch_size):
        chunk = todo[b:b + batch_size]
        for step in steps:
            name = step.prompt.name
            pending = [i for i in chunk if not cache.done(i, name)]
            while pending:
                attempt = min(cache.attempts[(i, name)] for i in pending)
                group = [i for i in pending if cache.attempts[(i, name)] == attempt]
                if attempt > retries:
                    cache.append([_record(i, name, generator.name, step, attrs, step.fallback(i, attrs, seed),
                                          "fallback", attempt, seed, 0.0, "") for i in group])
                else:
                    s = seed + attempt
                    t0 = time.perf_counter()
                    outs = generator.generate([step.prompt.render(step.source(i, attrs)) for i in group],
                                              max_new_tokens=step.prompt.max_new_tokens, seed=s,
                                              temperature=0.0 if attempt == 0 else temperature)
                    dt = (time.perf_counter() - t0) / max(1, len(group))
                    recs = []
                    for i, out in zip(group, outs):
                        c = step.check(out, i, attrs)
                        recs.append(_record(i, name, generator.name, step, attrs, c.text if c.ok else out,
                                            "ok" if c.ok else "invalid", attempt, s, dt, c.reason))
                    cache.append(recs)
                pending = [i for i in chunk if not cache.done(i, name)]
        bar.update(len(chunk))
    bar.close()
    summary = summarize(cache, chosen, [s.prompt.name for s in steps])
    summary["seconds_this_run"] = time.perf_counter() - t_start
    summary["truncated_bytes_recovered"] = recovered
    return summary


def cache_identity(generator, direct: bool = False, describe: str = "model", mask: str = "model") -> dict:
    """What a cache's header records: generator, runtime (package and dtype), prompts hash and pipeline."""
    dtype = getattr(generator, "dtype", None)
    return {"generator": generator.name,
            "runtime": {"package_version": getattr(generator, "package_version", None),
                        "dtype": None if dtype is None else str(dtype).removeprefix("torch.")},
            "prompts_hash": prompts_hash(), "pipeline": pipeline_name(direct, describe, mask)}


def pipeline_of_steps(steps: set[str]) -> str:
    """The pipeline a cache written before headers ran, from the steps its records hold."""
    if steps == {DIRECT_GENERATION.name}:
        return pipeline_name(direct=True)
    if DIRECT_GENERATION.name in steps:
        return "mixed"
    if DESCRIPTION_GENERATION.name in steps:
        return pipeline_name()
    return pipeline_name(describe="text", mask="model" if ATTRIBUTE_MASKING.name in steps else "rule")


def check_identity(cache: GenerationCache, identity: dict) -> None:
    """Refuse to resume ``cache`` with another generator, runtime, prompts or pipeline than it was made
    with: its header, or for a cache written before headers, its records' models and steps and its
    manifest."""
    if cache.header is not None:
        recorded = cache.header
    elif cache.records:
        recorded = {}
        models = sorted({str(r.get("model")) for r in cache.records})
        recorded["generator"] = models[0] if len(models) == 1 else models
        recorded["pipeline"] = pipeline_of_steps({r["step"] for r in cache.records})
        mp = manifest_path(cache.path)
        if mp.is_file():
            try:
                m = json.loads(mp.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CacheError(f"{mp}: not valid JSON: {exc}") from None
            if m.get("prompts_hash") is not None:
                recorded["prompts_hash"] = m["prompts_hash"]
            recorded["runtime"] = {k: m[k] for k in ("package_version", "dtype") if m.get(k) is not None}
    else:
        return
    for key, want in identity.items():
        if key not in recorded:
            continue
        have = recorded[key]
        if key == "runtime":  # a field an old manifest lacks does not count
            want = {k: v for k, v in want.items() if k in have}
        if have != want:
            raise CacheError(f"{cache.path}: made with {key} {have!r}, this run has {want!r}; resuming would mix "
                             "two in one cache -- pass another --out (or the matching --generator/--direct)")


def merge(out: str | Path, inputs: Iterable[str | Path]) -> dict:
    """Write the records of the caches ``inputs`` (e.g. the shards of one run) into the new cache ``out``,
    in order, dropping records that are exact duplicates of an earlier one -- so every shard can resume
    from a copy of the combined cache and the copies merge back without double counts. ``out`` must not
    be an input (inputs are never written); it is written atomically under its lock. Inputs must share
    one header and end cleanly. Returns the counts of records read, written and dropped."""
    inputs, out = [Path(p) for p in inputs], Path(out)
    for path in inputs:
        if not path.is_file():
            raise CacheError(f"{path}: no such generation cache")
        if out.exists() and os.path.samefile(out, path):
            raise CacheError(f"{out}: is also an input; merge never writes its inputs -- write a new file and "
                             "move it over the old one after checking it")
    check_writable(out, "OUT")
    with locked(out, "generation cache"):
        seen, keep, read, headers = set(), [], 0, {}
        for path in inputs:
            cache = GenerationCache(path)
            if cache.truncated_bytes:
                raise CacheError(f"{path}: ends with an incomplete member at byte {cache.valid_bytes} (a crash, or "
                                 f"a write in progress); wait for the writer, or run: python -m neggen_lite repair {path}")
            if cache.header is not None:
                headers.setdefault(json.dumps(cache.header, sort_keys=True), (path, cache.header))
            for r in cache.records:
                read += 1
                key = json.dumps(r, sort_keys=True, ensure_ascii=False)
                if key not in seen:
                    seen.add(key)
                    keep.append(r)
        if len(headers) > 1:
            (pa, ha), (pb, hb) = list(headers.values())[:2]
            raise CacheError(f"{pb}: made by {hb}, but {pa} by {ha}; caches of different generators, runtimes, "
                             "prompts or pipelines cannot be merged")
        head = [{"header": h} for _, h in headers.values()]
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in head + keep).encode("utf-8")
        atomic_write_bytes(out, gzip.compress(payload, compresslevel=6, mtime=0))
    return {"read": read, "written": len(keep), "duplicates_dropped": read - len(keep),
            "items_done": len({int(r["item"]) for r in keep if r["status"] in DONE})}


def repair(path: str | Path) -> dict:
    """Keep the readable members of cache ``path``, drop damaged ones and an incomplete tail. The original
    is first copied to ``<path>.bak-<UTC time>``; the repaired file replaces it atomically (under the
    cache's lock). Nothing is written when there is nothing to repair. Returns what was kept and dropped."""
    path = Path(path)
    if not path.is_file():
        raise CacheError(f"{path}: no such generation cache")
    with locked(path, "generation cache"):
        data = path.read_bytes()
        members = list(scan_members(path, data, salvage=True))
        kept = b"".join(data[a:b] for a, b, _ in members)
        check = GenerationCache(os.devnull)  # the kept members must still parse
        check.path = path
        for _, _, payload in members:
            try:
                for x in payload.decode("utf-8").splitlines():
                    if x.strip():
                        check._index(json.loads(x))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CacheError(f"{path}: a member with intact gzip has bad JSON ({exc}); not repaired") from None
        out = {"members_kept": len(members), "records_kept": len(check.records),
               "bytes_dropped": len(data) - len(kept), "backup": None}
        if kept == data:
            return out
        stem = f"{path.name}.bak-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        backup, n = path.with_name(stem), 1
        while backup.exists():
            backup, n = path.with_name(f"{stem}.{n}"), n + 1
        shutil.copy2(path, backup)
        atomic_write_bytes(path, kept)
        out["backup"] = str(backup)
    return out


def length_sorted(items: list[int], length, window: int) -> list[int]:
    """``items`` cut into consecutive windows of ``window``, each sorted by ``length`` (stable)."""
    window = max(1, int(window))
    return [i for w in range(0, len(items), window) for i in sorted(items[w:w + window], key=length)]


def _record(item, step_name, model, step: Step, attrs, output, status, attempt, seed, seconds, reason) -> dict:
    src = step.source(item, attrs)
    return {"item": int(item), "step": step_name, "model": model, "prompt_hash": prompt_hash(step.prompt, src),
            "input": src, "output": output, "status": status, "attempt": int(attempt), "seed": int(seed),
            "seconds": round(float(seconds), 3), "reason": reason}


def summarize(cache: GenerationCache, items: list[int], steps: list[str]) -> dict:
    """Outcome rates: per step, the share of items accepted at the first try, after a retry, or by
    fallback; ``valid_rate`` = items whose every step passed validation (no fallback anywhere)."""
    items = [i for i in items if all(cache.done(i, s) for s in steps)]
    per_step = {}
    for s in steps:
        c: Counter = Counter()
        for i in items:
            r = cache.final[(i, s)]
            c["fallback" if r["status"] == "fallback" else "first_try" if r["attempt"] == 0 else "after_retry"] += 1
        n = max(1, len(items))
        per_step[s] = {k: c[k] / n for k in ("first_try", "after_retry", "fallback")}
    any_fb = sum(1 for i in items if any(cache.final[(i, s)]["status"] == "fallback" for s in steps))
    seconds = sum(r.get("seconds", 0.0) for r in cache.records if r["item"] in set(items))
    reasons: dict[str, Counter] = defaultdict(Counter)
    for r in cache.records:
        if r["status"] == "invalid":
            reasons[r["step"]][r.get("reason", "").split(" (")[0]] += 1
    return {"items": len(items), "valid_rate": 1 - any_fb / max(1, len(items)),
            "fallback_rate": any_fb / max(1, len(items)), "steps": per_step,
            "generation_seconds": seconds, "invalid_reasons": {k: dict(v) for k, v in reasons.items()}}


def negatives(cache: GenerationCache | str | Path, ds, direct: bool | None = None, describe: str | None = None
              ) -> dict[int, dict]:
    """Per item with a finished pipeline: ``original`` attributes, ``description`` (the text that was
    masked: the generated description, or with ``describe="text"`` the item's core text), ``masked``,
    ``negative`` (the completion) and the two texts Eq. 8-9 encode, the same metadata beside each:
    ``original_text`` (the masked text in its item's attributes) and ``negative_text`` (the completion in
    their place). ``describe=None``: read from the cache's records (a cache without a description step
    was made with ``describe="text"``); ``direct=None``: a cache of Direct Generation records is one."""
    cache = cache if isinstance(cache, GenerationCache) else GenerationCache(cache)
    attrs = item_attributes(ds)
    if direct is None:
        direct = any(s == "direct_generation" for _, s in cache.final)
    if describe is None:
        describe = "model" if direct or any(s == "description_generation" for _, s in cache.final) else "text"
    out = {}
    for (i, step), r in cache.final.items():
        if step != ("direct_generation" if direct else "attribute_completion"):
            continue
        a = attrs[i]
        rec = {"original": a.render() if a else None, "negative": r["output"], "status": r["status"]}
        if direct:
            rec["original_text"], rec["negative_text"] = rec["original"], r["output"]
        else:
            rec["masked"] = cache.output(i, "attribute_masking") or r.get("input")  # rule masks: the input
            if describe == "text":
                rec["description"] = a.core()
                field = a.core_field
            else:
                rec["description"] = cache.output(i, "description_generation")
                field = "description"
            rec["original_text"] = a.render_with(field, rec["description"])
            rec["negative_text"] = a.render_with(field, r["output"])
        out[i] = rec
    return dict(sorted(out.items()))


def revalidate(cache: GenerationCache | str | Path, ds) -> dict:
    """Re-check every accepted (``ok``) record of ``cache`` with today's validator -- the checks of the
    cache's own pipeline steps -- and count, per step and reason, what it would now reject (e.g. refusals
    accepted by an older, more lenient validator). Reads only."""
    cache = cache if isinstance(cache, GenerationCache) else GenerationCache(cache)
    attrs_all = item_attributes(ds)
    items = sorted({i for i, _ in cache.final if attrs_all[i] is not None})
    attrs = {i: attrs_all[i].render() for i in items}
    cores = {i: attrs_all[i].core() for i in items}
    vocab = Vocabulary([a.render() for a in attrs_all if a is not None])
    kind = next(k for k, name in PIPELINES.items() if name == pipeline_of_steps({st for _, st in cache.final}))
    steps = {st.prompt.name: st for st in _steps_for(kind[0] == "direct", kind[1], kind[2], vocab, cache, attrs, cores)}
    rejected: dict[str, Counter] = defaultdict(Counter)
    checked: Counter = Counter()
    for (i, step), r in cache.final.items():
        if r["status"] != "ok" or i not in attrs:
            continue
        c = steps[step].check(r["output"], i, attrs)
        checked[step] += 1
        if not c.ok:
            rejected[step][c.reason.split(" (")[0]] += 1
    return {"checked": dict(checked), "rejected": {k: dict(v) for k, v in rejected.items()},
            "rejected_total": sum(sum(v.values()) for v in rejected.values())}
