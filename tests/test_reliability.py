"""Fault injection (issue 22): nothing lost and nothing silently wrong. Each test breaks one thing on small
files in a temporary folder and checks the behaviour listed in the README's "Reliability" table."""
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import random_dataset, write_dataset
from test_pipeline import ScriptedGenerator, good, text_dataset

from neggen_lite import cli
from neggen_lite.core import data, safety
from neggen_lite.core import paths as core_paths
from neggen_lite.generation import pipeline
from neggen_lite.generation.pipeline import CacheError, GenerationCache, merge, negatives, repair, run
from neggen_lite.neggen.causal import NegGenConfig
from neggen_lite.results import records as results
from neggen_lite.results import report, tables
from neggen_lite.training.trainer import config_for_mode, fit

ROOT = Path(__file__).resolve().parents[1]


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cache_with_members(tmp_path, name="gen.jsonl.gz") -> Path:
    """A pipeline cache of 4 items, batch 1: a header member and 12 more, one per (item, step) batch."""
    path = tmp_path / name
    run(text_dataset(), ScriptedGenerator(good), path, batch_size=1, progress=False)
    return path


def member_offsets(path) -> list[int]:
    data = Path(path).read_bytes()
    return [a for a, _, _ in pipeline.scan_members(path, data)]


def flip(path, offset, n=20) -> None:
    data = bytearray(Path(path).read_bytes())
    for k in range(offset, offset + n):
        data[k] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def cli_error(capsys, argv) -> str:
    """Run the CLI, expect exit status 2 and one line on stderr; return that line."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------------------------
# 1. cache reads never modify files; damaged members are errors with the offset; repair keeps a backup


def test_a_damaged_member_is_an_error_naming_file_and_offset_and_reading_changes_nothing(tmp_path):
    path = cache_with_members(tmp_path)
    offsets = member_offsets(path)
    assert len(offsets) == 13
    flip(path, offsets[3] + 12)                       # inside member 3's deflate data
    before = sha(path)
    with pytest.raises(CacheError, match=rf"gen\.jsonl\.gz: damaged gzip member at byte {offsets[3]} "):
        GenerationCache(path)
    with pytest.raises(CacheError, match="repair"):
        negatives(path, text_dataset())
    with pytest.raises(CacheError):
        merge(tmp_path / "out.jsonl.gz", [path])
    assert sha(path) == before and not (tmp_path / "out.jsonl.gz").exists()


def test_a_bad_crc_in_the_first_member_is_an_error_not_an_empty_cache(tmp_path):
    path = cache_with_members(tmp_path)
    end = member_offsets(path)[1]
    flip(path, end - 8, 4)                             # the first member's CRC32
    before = sha(path)
    with pytest.raises(CacheError, match=r"at byte 0 .*incorrect data check"):
        GenerationCache(path)
    assert sha(path) == before and path.stat().st_size > 0


def test_repair_keeps_a_backup_and_every_readable_member(tmp_path):
    path = cache_with_members(tmp_path)
    n_records = len(GenerationCache(path).records)
    offsets = member_offsets(path)
    original = path.read_bytes()
    flip(path, offsets[3] + 12)
    damaged = path.read_bytes()
    res = repair(path)
    assert Path(res["backup"]).read_bytes() == damaged                       # the backup is the file as it was
    assert res["members_kept"] == 12 and res["records_kept"] == n_records - 1
    fixed = GenerationCache(path)
    assert len(fixed.records) == n_records - 1 and fixed.header is not None  # the 9 later members survive
    assert path.read_bytes() == original[:offsets[3]] + original[offsets[4]:]
    again = ScriptedGenerator(good)                    # the lost (item, step) is generated again on resume
    run(text_dataset(), again, path, batch_size=1, progress=False)
    assert len(again.calls) == 1 and len(GenerationCache(path).final) == 12
    assert repair(path)["backup"] is None              # nothing to repair: nothing written


def test_repair_via_the_cli(tmp_path, capsys):
    path = cache_with_members(tmp_path)
    flip(path, member_offsets(path)[5] + 12)
    assert cli.main(["repair", str(path)]) == 0
    assert "the original is in" in capsys.readouterr().out
    assert len(list(tmp_path.glob("gen.jsonl.gz.bak-*"))) == 1
    GenerationCache(path)


def test_an_incomplete_tail_is_ignored_by_readers_and_refused_by_merge(tmp_path):
    path = cache_with_members(tmp_path)
    with open(path, "ab") as fh:
        fh.write(gzip.compress(b'{"item": 0}\n')[:12])  # a write in progress, or a crash mid-write
    before = sha(path)
    cache = GenerationCache(path)
    assert cache.truncated_bytes == 12 and len(cache.final) == 12 and sha(path) == before
    with pytest.raises(CacheError, match=r"incomplete member at byte \d+ .*repair"):
        merge(tmp_path / "m.jsonl.gz", [path])
    assert sha(path) == before


def test_merge_never_writes_its_inputs(tmp_path):
    a = cache_with_members(tmp_path, "a.jsonl.gz")
    b = tmp_path / "b.jsonl.gz"
    shutil.copy(a, b)
    before = sha(a), sha(b)
    with pytest.raises(CacheError, match="is also an input"):
        merge(a, [a, b])
    out = tmp_path / "m.jsonl.gz"
    assert merge(out, [a, b])["duplicates_dropped"] == len(GenerationCache(a).records)
    assert (sha(a), sha(b)) == before and GenerationCache(out).header == GenerationCache(a).header


# --------------------------------------------------------------------------------------------
# 3. locks and cache headers


def test_a_second_writer_of_a_cache_stops_with_a_message(tmp_path):
    path = tmp_path / "gen.jsonl.gz"
    with safety.locked(path, "generation cache"):
        with pytest.raises(safety.LockError, match="another process is writing"):
            run(text_dataset(), ScriptedGenerator(good), path, progress=False)
    assert not path.exists()
    run(text_dataset(), ScriptedGenerator(good), path, progress=False)   # released: works


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    path = tmp_path / "gen.jsonl.gz"
    code = ("import sys, time; from neggen_lite.core.safety import locked\n"
            f"with locked({str(path)!r}):\n    print('locked', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(safety.LockError, match="another process is writing"):
            run(text_dataset(), ScriptedGenerator(good), path, progress=False)
    finally:
        child.send_signal(signal.SIGKILL)   # a crash: the kernel releases the lock
        child.wait()
    run(text_dataset(), ScriptedGenerator(good), path, progress=False)
    assert len(GenerationCache(path).final) == 12


def test_a_run_waits_for_another_process_training_the_same_base_and_loads_it(tmp_path, monkeypatch, capsys):
    """Two NegGen runs of one seed side by side: the second waits on the first's base lock, then loads the
    base the first wrote instead of failing or training a second copy."""
    import os
    import subprocess
    import sys
    import time

    from neggen_lite.neggen import train as neggen_train

    monkeypatch.setattr(core_paths, "BASE_CACHE", tmp_path / "base")
    ds = random_dataset(n_users=30, n_items=20)
    cfg = config_for_mode("smoke", seed=3, epochs=1)
    _, info = neggen_train.pretrained_base(ds, cfg, "cpu", progress=False)
    (path,) = (tmp_path / "base").glob("*.pt")
    aside = tmp_path / "aside.pt"
    path.rename(aside)
    code = ("import os, time; from neggen_lite.core.safety import locked\n"
            f"with locked({str(core_paths.checkpoint_path(path))!r}):\n"
            f"    print('locked', flush=True); time.sleep(1.5); os.replace({str(aside)!r}, {str(path)!r})")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "locked"
        monkeypatch.setattr(neggen_train, "fit", lambda *a, **k: pytest.fail("trained a second base"))
        start = time.perf_counter()
        _, waited_info = neggen_train.pretrained_base(ds, cfg, "cpu", progress=False)
        waited = time.perf_counter() - start
    finally:
        child.wait(timeout=30)
    assert waited_info == info and waited > 0.5
    assert "another process is writing this pre-trained base" in capsys.readouterr().err
    assert not safety.wait_unlocked(core_paths.checkpoint_path(path))   # nobody holds it now: no wait


def test_a_second_writer_of_a_result_stops_with_a_message(tmp_path, capsys):
    out = tmp_path / "r.json"
    with safety.locked(out, "result"):
        err = cli_error(capsys, ["train", "--dataset", "baby", "--mode", "smoke", "--out", str(out), "--quiet",
                                 "--subset-users", "30"])
    assert "another process is writing this result" in err and not out.exists()


def test_the_header_records_the_writer_and_resuming_with_another_refuses(tmp_path):
    path = cache_with_members(tmp_path)
    head = GenerationCache(path).header
    assert head["generator"] == "scripted" and head["pipeline"] == "description>masking>completion"
    assert head["prompts_hash"] and set(head["runtime"]) == {"package_version", "dtype"}
    other = ScriptedGenerator(good)
    other.name = "other-model"
    before = sha(path)
    with pytest.raises(CacheError, match="made with generator 'scripted', this run has 'other-model'"):
        run(text_dataset(), other, path, progress=False)
    with pytest.raises(CacheError, match="made with pipeline"):
        run(text_dataset(), ScriptedGenerator(good), path, direct=True, progress=False)
    newer = ScriptedGenerator(good)
    newer.package_version = "llm-other==2"
    with pytest.raises(CacheError, match="made with runtime"):
        run(text_dataset(), newer, path, progress=False)
    assert sha(path) == before and not other.calls


def test_a_cache_without_header_is_checked_against_its_records_and_manifest(tmp_path):
    path = tmp_path / "old.jsonl.gz"  # written before headers: records only, as the committed caches
    recs = [{"item": 0, "step": "direct_generation", "model": "scripted", "prompt_hash": "x", "output": "o",
             "status": "ok", "attempt": 0, "seed": 0, "seconds": 0.0, "reason": ""}]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in recs).encode(), mtime=0))
    other = ScriptedGenerator(good)
    other.name = "other-model"
    with pytest.raises(CacheError, match="generator 'scripted'"):
        run(text_dataset(), other, path, direct=True, progress=False)
    core_paths.manifest_path(path).write_text(json.dumps({"prompts_hash": "0000", "generator": "scripted"}))
    with pytest.raises(CacheError, match="prompts_hash '0000'"):
        run(text_dataset(), ScriptedGenerator(good), path, direct=True, progress=False)
    core_paths.manifest_path(path).write_text(json.dumps({"package_version": "llm-x==1", "generator": "scripted"}))
    with pytest.raises(CacheError, match="made with runtime {'package_version': 'llm-x==1'}"):
        run(text_dataset(), ScriptedGenerator(good), path, direct=True, progress=False)
    same = ScriptedGenerator(good)
    same.package_version, same.dtype = "llm-x==1", "float32"   # the manifest has no dtype: not compared
    run(text_dataset(), same, path, direct=True, progress=False)
    assert GenerationCache(path).header["generator"] == "scripted"   # a header is added on resume


def test_caches_of_different_writers_are_not_merged(tmp_path):
    a = cache_with_members(tmp_path, "a.jsonl.gz")
    other = ScriptedGenerator(good)
    other.name = "other-model"
    b = tmp_path / "b.jsonl.gz"
    run(text_dataset(), other, b, progress=False)
    with pytest.raises(CacheError, match="cannot be merged"):
        merge(tmp_path / "m.jsonl.gz", [a, b])
    assert not (tmp_path / "m.jsonl.gz").exists()


def test_committed_generation_caches_still_load_unchanged():
    paths = sorted((ROOT / "results" / "generations").rglob("*.jsonl.gz"))
    assert len(paths) >= 4
    for p in paths:
        before = sha(p)
        c = GenerationCache(p)
        assert c.records and c.truncated_bytes == 0 and sha(p) == before, p
        # their writer may resume them: same generator, pipeline, and (where a manifest has them) runtime, prompts
        kind = p.name.removesuffix(".jsonl.gz").rsplit(".", 1)[-1]  # direct, text, text-rulemask or the model
        direct = kind == "direct"
        describe, mask = ("text", "rule" if kind == "text-rulemask" else "model") if kind.startswith("text") \
            else ("model", "model")
        gen = ScriptedGenerator(good)
        gen.name = c.records[0]["model"]
        mp = core_paths.manifest_path(p)
        m = json.loads(mp.read_text()) if mp.exists() else {}
        # no dtype in the manifest: float32 (transformers' CPU default); None: a runtime without one (llama.cpp)
        gen.package_version, gen.dtype = m.get("package_version"), m.get("dtype", "float32")
        pipeline.check_identity(c, pipeline.cache_identity(gen, direct, describe, mask))
        gen.name = "another-model"
        with pytest.raises(CacheError, match="made with generator"):
            pipeline.check_identity(c, pipeline.cache_identity(gen, direct, describe, mask))


# --------------------------------------------------------------------------------------------
# 2. settings checked up front, outputs writable, checkpoints kept


@pytest.mark.parametrize("args, flag", [
    (["--epochs", "0"], "--epochs"), (["--epochs", "-1"], "--epochs"), (["--patience", "0"], "--patience"),
    (["--batch-size", "-5"], "--batch-size"), (["--batch-size", "0"], "--batch-size"), (["--lr", "0"], "--lr"),
    (["--dim", "0"], "--dim"), (["--reg", "-1"], "--reg"), (["--threads", "0"], "--threads"),
    (["--subset-users", "0"], "--subset-users"), (["--model", "neggen", "--tau", "0"], "--tau"),
    (["--variant", "w/o CF"], "--variant"), (["--lam", "0.3"], "--lam"), (["--modalities", "v"], "--modalities"),
    (["--generator", "rule"], "--generator"), (["--model", "bpr", "--layers", "2"], "--layers"),
    (["--model", "neggen", "--sampler", "dns"], "--sampler"), (["--model", "freedom", "--sampler-arg", "M=2"], "--sampler-arg"),
    (["--model", "vbpr", "--generator", "x"], "--generator"), (["--sampler", "nope"], "--sampler"),
    (["--sampler", "dns", "--sampler-arg", "Q=1"], "--sampler-arg"), (["--sampler-arg", "M"], "--sampler-arg"),
    (["--no-checkpoint", "--keep-checkpoint"], "--no-checkpoint"),
])
def test_bad_train_settings_are_one_line_naming_the_flag(tmp_path, capsys, monkeypatch, args, flag):
    root = tiny_root(tmp_path)
    out = tmp_path / "r.json"
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke", "--quiet",
                             "--out", str(out), *args])
    assert err.startswith(f"error: {flag}"), err
    assert not out.exists()


def test_refusals_that_need_the_data_come_before_any_training(tmp_path, capsys, monkeypatch):
    from neggen_lite.neggen import train as neggen

    monkeypatch.setattr(neggen, "pretrained_base", lambda *a, **k: pytest.fail("pre-trained the base first"))
    err = cli_error(capsys, ["train", "--dataset", "clothing", "--model", "neggen", "--mode", "smoke",
                             "--out", str(tmp_path / "n.json")])
    assert "clothing has no item text offline" in err
    err = cli_error(capsys, ["train", "--dataset", "baby", "--model", "freedom", "--modalities", "x",
                             "--out", str(tmp_path / "f.json")])
    assert err.startswith("error: --modalities")
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(tiny_root(tmp_path)),
                             "--subset-users", "41", "--out", str(tmp_path / "s.json")])
    assert err.startswith("error: --subset-users: need 1..40")
    with pytest.raises(data.DataError, match="no items with text to generate from"):
        run(text_dataset(), ScriptedGenerator(good), tmp_path / "g.jsonl.gz", items=[0], shard=(1, 2), progress=False)


@pytest.mark.parametrize("args, flag", [(["--limit", "0"], "--limit"), (["--limit", "-1"], "--limit"),
                                        (["--retries", "-1"], "--retries"), (["--batch-size", "0"], "--batch-size")])
def test_bad_generate_settings_are_refused(tmp_path, capsys, args, flag):
    out = tmp_path / "g.jsonl.gz"
    assert cli_error(capsys, ["generate", "--dataset", "baby", "--out", str(out), "--quiet", *args]).startswith(
        f"error: {flag}")
    assert not out.exists()


def test_the_python_api_checks_the_same_settings(tmp_path):
    with pytest.raises(safety.SettingsError, match="--epochs"):
        config_for_mode("smoke", epochs=0)
    with pytest.raises(safety.SettingsError, match="--lr"):
        config_for_mode("full", lr=-1e-3)
    with pytest.raises(safety.SettingsError, match="--tau"):
        NegGenConfig(tau=0.0)
    for kw, flag in (({"limit": 0}, "--limit"), ({"batch_size": 0}, "--batch-size"), ({"retries": -1}, "--retries")):
        with pytest.raises(safety.SettingsError, match=flag):
            run(text_dataset(), ScriptedGenerator(good), tmp_path / "g.jsonl.gz", progress=False, **kw)
    with pytest.raises(safety.SettingsError, match="--threads"):
        fit(random_dataset(), config_for_mode("smoke"), threads=0)
    assert not (tmp_path / "g.jsonl.gz").exists()


def tiny_root(tmp_path) -> Path:
    """A data root with a random 40-user dataset named ``baby`` (no README: no checksums)."""
    ds = random_dataset()
    rows = [(u, i, k) for k, part in enumerate((ds.train, ds.valid, ds.test)) for u, i in part]
    write_dataset(tmp_path / "data", "baby", rows, ds.n_users, ds.n_items)
    return tmp_path / "data"


def test_an_unwritable_out_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from neggen_lite.experiments import runs

    monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("trained despite an unwritable --out"))
    (tmp_path / "file").write_text("x")
    root = tiny_root(tmp_path)
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke",
                             "--out", str(tmp_path / "file" / "r.json")])
    assert "--out" in err and "is a file, not a folder" in err
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke",
                             "--out", str(tmp_path)])
    assert "is a folder" in err
    err = cli_error(capsys, ["generate", "--dataset", "baby", "--out", str(tmp_path / "file" / "g.jsonl.gz")])
    assert "--out" in err


def test_no_checkpoint_never_deletes_another_runs_checkpoint(tmp_path, capsys):
    root = tiny_root(tmp_path)
    out = tmp_path / "r.json"
    other = out.with_suffix(".ckpt")
    other.write_bytes(b"another run's resume point")
    assert cli.main(["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke", "--quiet",
                     "--dim", "8", "--batch-size", "64", "--out", str(out), "--no-checkpoint"]) == 0
    assert out.exists() and other.read_bytes() == b"another run's resume point"


# --------------------------------------------------------------------------------------------
# 4. data checksums, splits, result files


def test_a_changed_data_file_fails_its_sha256(tmp_path):
    root = tiny_root(tmp_path)
    inter = root / "baby" / "baby.inter"
    digest = hashlib.sha256(inter.read_bytes()).hexdigest()
    (root / "README.md").write_text(f"### baby/\n\n| file | sha256 |\n|---|---|\n| `baby.inter` | {digest} |\n")
    assert data.load("baby", root, side_info=False).n_users == 40   # listed and intact
    lines = inter.read_text().splitlines(keepends=True)
    inter.write_text("".join(lines[:-1]))                            # one row dropped: still a valid table
    with pytest.raises(data.DataError, match=r"baby\.inter: sha256 of the content is [0-9a-f]{64}, but .*README"):
        data.load("baby", root, side_info=False)


def test_the_vendored_files_are_verified_on_load():
    for name in data.DATASETS:
        sums = data.expected_sha256(data.DATA_DIR / name)
        assert {f"{name}.inter", "u_id_mapping.csv", "i_id_mapping.csv"} <= set(sums)
    data.load("clothing")
    key = str((data.DATA_DIR / "clothing" / "clothing.inter.gz").resolve())
    assert any(k[0] == key for k in safety._SHA256)                  # hashed once, cached by size and mtime


def test_a_split_without_validation_or_test_rows_is_refused(tmp_path):
    rows = [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 2, 2), (2, 0, 0), (2, 2, 0)]  # no x_label 1
    write_dataset(tmp_path, "tiny", rows)
    with pytest.raises(data.DataError, match=r"tiny\.inter: no rows with x_label 1 \(valid\)"):
        data.load("tiny", root=tmp_path)
    ds = random_dataset()
    ds.valid = ds.valid[:0]
    with pytest.raises(data.DataError, match="no valid interactions"):
        fit(ds, config_for_mode("smoke"), progress=False)


def test_a_gzip_data_file_that_is_cut_is_a_one_line_error(tmp_path, capsys):
    root = tiny_root(tmp_path)
    inter = root / "baby" / "baby.inter"
    blob = gzip.compress(inter.read_bytes())
    inter.unlink()
    (root / "baby" / "baby.inter.gz").write_bytes(blob[: len(blob) // 2])
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke"])
    assert "baby.inter.gz" in err


def _rec(seed, r20=0.07):
    m = {"recall@10": r20 / 2, "recall@20": r20, "ndcg@10": r20 / 4, "ndcg@20": r20 / 3}
    return {"dataset": "baby", "model": "lightgcn", "sampler": "uniform", "variant": None, "seed": seed,
            "mode": "full", "config": {"seed": seed, "lr": 1e-3}, "epochs": 30, "best_epoch": 10, "valid": m,
            "test": m, "history": []}


def test_a_duplicate_seed_record_is_an_error_in_the_table_tools(tmp_path, capsys):
    d = tmp_path / "baby"
    d.mkdir()
    (d / "lightgcn-uniform-seed1.json").write_text(json.dumps(_rec(1)))
    (d / "lightgcn-uniform-seed2.json").write_text(json.dumps(_rec(2, 0.08)))
    assert len(results.load_results(tmp_path)) == 2
    (d / "lightgcn-uniform-seed1 copy.json").write_text(json.dumps(_rec(1, 0.3)))
    with pytest.raises(results.ResultFileError, match=r"seed1\.json.*the same run as .*seed1 copy\.json|"
                                                      r"seed1 copy\.json.*the same run as .*seed1\.json"):
        results.load_results(tmp_path)
    err = cli_error(capsys, ["table", "--results-dir", str(tmp_path)])
    assert "the same run as" in err


@pytest.mark.parametrize("content, match", [
    (b"{not json", "not valid JSON"), (b"\xff\xfe{}", "not UTF-8"), (b"[1, 2]", "a list, not a JSON object"),
    (json.dumps({"dataset": "baby", "model": "x", "seed": 1}).encode(), "no field 'test'"),
    (json.dumps({**_rec(3), "seed": "3"}).encode(), "field 'seed' is '3'"),
])
def test_a_malformed_result_file_is_an_error_naming_it(tmp_path, capsys, content, match):
    (tmp_path / "baby").mkdir()
    (tmp_path / "baby" / "lightgcn-uniform-seed1.json").write_text(json.dumps(_rec(1)))
    (tmp_path / "baby" / "bad-seed9.json").write_bytes(content)
    with pytest.raises(results.ResultFileError, match=rf"bad-seed9\.json: {match}"):
        results.load_results(tmp_path)
    for argv in (["table"], ["significance", "--dataset", "baby"], ["fig6"]):
        assert "bad-seed9.json" in cli_error(capsys, [*argv, "--results-dir", str(tmp_path)])


# --------------------------------------------------------------------------------------------
# 6. one error boundary; weights_only checkpoints


class Evil:
    def __reduce__(self):
        return (print, ("code ran while loading a checkpoint",))


def test_checkpoints_load_with_weights_only(tmp_path, capsys):
    bad = tmp_path / "r.ckpt"
    torch.save({"config_key": "x", "payload": Evil()}, bad)
    with pytest.raises(safety.CheckpointError, match=r"r\.ckpt: not a readable checkpoint"):
        safety.load_checkpoint(bad)
    assert "code ran" not in capsys.readouterr().out


def test_a_corrupt_checkpoint_is_a_one_line_error_naming_it(tmp_path, capsys):
    root = tiny_root(tmp_path)
    out = tmp_path / "r.json"
    out.with_suffix(".ckpt").write_bytes(b"PK\x03\x04 not a zip")
    err = cli_error(capsys, ["train", "--dataset", "baby", "--data-root", str(root), "--mode", "smoke", "--quiet",
                             "--dim", "8", "--out", str(out)])
    assert "r.ckpt: not a readable checkpoint" in err and not out.exists()


def test_a_checkpoint_resumes_under_weights_only(tmp_path):
    ds = random_dataset()
    ck = tmp_path / "run.ckpt"
    cfg = config_for_mode("smoke", dim=8, batch_size=64)
    a = fit(ds, cfg, checkpoint=ck, progress=False, log=lambda s: None)
    assert safety.load_checkpoint(ck)["state"]["epoch"] == 3
    b = fit(ds, cfg, checkpoint=ck, progress=False, log=lambda s: None)   # resumes at the end: same record
    assert a["test"] == b["test"] and a["best_epoch"] == b["best_epoch"]


# --------------------------------------------------------------------------------------------
# 7. read-only commands write nothing; the committed significance.json files are fresh


def _snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, sha(p)) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_read_only_commands_write_nothing(tmp_path, capsys):
    rdir = tmp_path / "results"
    shutil.copytree(ROOT / "results", rdir, ignore=shutil.ignore_patterns("generations", "*.lock"))
    before = _snapshot(rdir)
    assert cli.main(["significance", "--dataset", "baby", "--results-dir", str(rdir)]) == 0
    assert cli.main(["table", "--results-dir", str(rdir)]) == 0
    assert cli.main(["table", "--neggen", "baby", "--results-dir", str(rdir)]) == 0
    assert _snapshot(rdir) == before
    assert "| variant |" in capsys.readouterr().out


def test_committed_significance_files_are_fresh():
    files = sorted((ROOT / "results").glob("*/significance.json"))
    assert files
    for path in files:
        stored = json.loads(path.read_text())
        df = tables.significance_table(stored["dataset"], metric=stored["metric"])
        fresh = json.loads(json.dumps(report.significance_record(df, stored["dataset"], stored["metric"])))
        assert fresh == stored, f"{path} is stale: python -m neggen_lite significance --dataset " \
                                f"{stored['dataset']} --write"


def test_the_readme_has_a_reliability_table():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 15



def test_idle_cores_leaves_the_busy_cores_alone(monkeypatch):
    from neggen_lite.core import runtime

    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert runtime.idle_cores() == 1          # one training job holds a core
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert runtime.idle_cores() == 2          # idle machine: every core
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    assert runtime.idle_cores() == 1          # overloaded: still one thread

    def no_loadavg():
        raise OSError("no load average here")
    monkeypatch.setattr(runtime.os, "getloadavg", no_loadavg)
    assert runtime.idle_cores() == 2
