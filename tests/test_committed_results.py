"""Every committed file under results/ loads unchanged, and every run record sits where the one naming rule
(:func:`neggen_lite.experiments.runs.path`) puts it."""
import json
import re

import pytest

from neggen_lite.core.metrics import METRICS, load_per_user
from neggen_lite.core.paths import REPO_ROOT, RESULTS_DIR, per_user_path
from neggen_lite.experiments import runs
from neggen_lite.generation.pipeline import GenerationCache
from neggen_lite.results.records import load_results

RUN_FIELDS = ("dataset", "model", "sampler", "seed", "mode", "config", "epochs", "best_epoch", "valid", "test", "history")
JSONS = sorted(p for p in RESULTS_DIR.rglob("*.json") if p.relative_to(RESULTS_DIR).parts[0] != "smoke")  # smoke: not committed
RUNS = [p for p in JSONS if "test" in json.loads(p.read_text())]


def test_results_folder_is_there():
    assert len(RUNS) >= 100 and (RESULTS_DIR / "README.md").exists()


@pytest.mark.parametrize("path", JSONS, ids=lambda p: str(p.relative_to(RESULTS_DIR)))
def test_every_json_loads(path):
    assert isinstance(json.loads(path.read_text()), dict)


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.relative_to(RESULTS_DIR)))
def test_every_run_record_is_complete_and_where_its_spec_says(path):
    rec = json.loads(path.read_text())
    assert all(k in rec for k in RUN_FIELDS), [k for k in RUN_FIELDS if k not in rec]
    assert rec["mode"] == "full" and all(0 <= rec["test"][m] <= 1 for m in METRICS)
    parts = path.relative_to(RESULTS_DIR).parts
    folder = "/".join(p for p in parts[1:-1] if p != "sweeps") or None
    spec = runs.spec_of(rec, folder)
    assert runs.path(spec, "full") == path
    assert runs.read(spec, "book")["test"] == rec["test"]       # what the book reads is the file, unchanged
    if per_user_path(path).exists():
        pu = load_per_user(per_user_path(path))
        assert len(pu["users"]) > 0 and set(METRICS) <= set(pu["per_user"])


@pytest.mark.parametrize("path", JSONS, ids=lambda p: str(p.relative_to(RESULTS_DIR)))
def test_every_record_names_its_files_relative_to_the_repository(path):
    # records are read on every checkout: an absolute path (the machine that wrote it) names nothing elsewhere
    text = path.read_text()
    assert not re.search(r'"(/work|/home|/tmp|/Users|[A-Za-z]:\\\\)[^"]*"', text), path
    negatives = json.loads(text).get("negatives")
    cache = negatives.get("cache") if isinstance(negatives, dict) else None
    if cache and "/" in cache:
        assert (REPO_ROOT / cache).exists(), cache


def test_load_results_reads_every_run_record():
    assert len(load_results(mode="full")) + len(load_results(mode="full", tuning=True)) == len(RUNS)


@pytest.mark.parametrize("path", sorted(RESULTS_DIR.rglob("*.jsonl.gz")), ids=lambda p: p.name)
def test_every_generation_cache_loads(path):
    size = path.stat().st_size
    cache = GenerationCache(path)
    assert cache.records and cache.truncated_bytes == 0 and path.stat().st_size == size


def test_every_reported_run_that_was_searched_keeps_the_best_validation_setting():
    # the tuning table's promise: a searched model's reported run uses the L2 weight with the best validation
    # Recall@20 of its search (never the test split)
    from neggen_lite.results.report import tuning_rows

    rows = tuning_rows(load_results(mode="full", tuning=True), load_results(mode="full"))
    groups = {}
    for t in rows:
        groups.setdefault((t["dataset"], t["model"], t["seed"]), []).append(t)
    assert groups
    searched = 0
    for key, group in groups.items():
        chosen = [t for t in group if t["reported"]]
        assert len(chosen) <= 1, key      # none: that seed's run with the chosen setting is not in yet
        if chosen:
            searched += 1
            assert chosen[0]["valid"] == max(t["valid"] for t in group), key
    assert searched
