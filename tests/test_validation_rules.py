"""The validator rejects refusals, placeholders, partial and no-op masks (issue: validator too lenient)."""
import json

import pytest

from neggen_lite.generation.validation import check_completion, check_masked, is_refusal, masked_words

SRC = "A colorful interactive toy for babies"
MASKED = "A [MASK] interactive toy for babies"


@pytest.mark.parametrize("out", ["None", "null", "N/A", "...", "…", "I cannot help with that.", "I'm sorry, but no",
                                 "No negative attributes.", json.dumps(None), "Unknown"])
def test_refusals_and_placeholders_are_rejected(out):
    assert is_refusal(out)
    assert not check_completion(out, MASKED, SRC).ok


@pytest.mark.parametrize("out, reason", [
    ("A MASK interactive toy for babies", "leftover"), ("A <mask> interactive toy for babies", "leftover"),
    ("A [MASK interactive toy for babies", "leftover"), ("A MASK] interactive toy for babies", "leftover"),
    ("A  interactive toy for babies", "fills no mask"), ("A " + "x" * 100_000 + " toy", "token of"),
    ("A dull interactive toy\nfor babies", "more lines"), ("A colorful interactive toy for babies", "identical")])
def test_bad_completions_name_their_fault(out, reason):
    c = check_completion(out, MASKED, SRC)
    assert not c.ok and reason in c.reason


@pytest.mark.parametrize("out", ["A dull interactive toy for babies", "A face mask for babies",
                                 "A wooden interactive toy for toddlers"])
def test_real_completions_pass(out):
    assert check_completion(out, MASKED, SRC).ok


def test_masks_must_replace_words_and_not_only_stop_words():
    assert masked_words("A [MASK] [MASK] toy for babies", SRC) == [["colorful"], ["interactive"]]
    assert "replaces no word" in check_masked(SRC + " [MASK]", SRC).reason
    assert "stop words" in check_masked("[MASK] colorful interactive toy for babies", SRC).reason
    assert "without its brackets" in check_masked("A [MASK] MASK toy for babies", SRC).reason
    assert check_masked(MASKED, SRC).ok
    assert check_masked("A colorful [MASK] toy [MASK] babies", SRC).ok  # one content word is enough


def test_revalidate_counts_what_the_validator_now_rejects_and_reads_only(tmp_path):
    from conftest import random_dataset
    from neggen_lite.generation import pipeline

    ds = random_dataset(n_items=12, per_user=(4, 8))
    ds.side = {"title": ["red ball toy", "blue car toy"] + [f"item {k}" for k in range(10)]}
    path = tmp_path / "c.jsonl.gz"
    cache = pipeline.GenerationCache(path)
    cache.append([{"item": 0, "step": "direct_generation", "status": "ok", "output": "None", "attempt": 0},
                  {"item": 1, "step": "direct_generation", "status": "ok", "output": "Title: grey truck toy",
                   "attempt": 0}])
    before = path.read_bytes()
    r = pipeline.revalidate(path, ds)
    assert r["checked"] == {"direct_generation": 2}
    assert r["rejected"] == {"direct_generation": {"a refusal or placeholder": 1}} and r["rejected_total"] == 1
    assert path.read_bytes() == before


def test_a_bracketed_fill_is_rejected_unless_the_masked_text_holds_it():
    for fill in ("[UNKNOWN]", "[PRODUCT_NAME]", "[BLACK]", "[insert suitable word here]"):
        c = check_completion(f"Soft {fill} blanket for babies", "Soft [MASK] blanket for babies",
                             "Soft white blanket for babies")
        assert not c.ok and c.reason == f"a bracketed fill ({fill})"
    assert check_completion("Soft black blanket [2 Pack]", "Soft [MASK] blanket [2 Pack]",
                            "Soft white blanket [2 Pack]").ok
