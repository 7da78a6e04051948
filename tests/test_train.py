import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from neggen_lite.core.runtime import adam
from neggen_lite.training.trainer import config_for_mode, fit, save_result

from conftest import clustered_dataset, crash_on_evaluate, small_config

FIELDS = {"dataset", "model", "sampler", "variant", "seed", "mode", "config", "commit", "epochs",
          "best_epoch", "seconds", "valid", "test", "history"}
METRICS = {"recall@10", "recall@20", "ndcg@10", "ndcg@20"}


def small(**kw):
    return small_config(**{"epochs": 4, **kw})


@pytest.mark.parametrize("model", ["lightgcn", "bpr"])
def test_same_seed_same_numbers(ds, model):
    a = fit(ds, small(model=model), progress=False)
    b = fit(ds, small(model=model), progress=False)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test"] == b["test"]
    c = fit(ds, small(model=model, seed=8), progress=False)
    assert [h["loss"] for h in a["history"]] != [h["loss"] for h in c["history"]]


def test_training_reduces_loss_and_beats_random():
    ds = clustered_dataset()
    r = fit(ds, small(epochs=15, patience=15), progress=False)
    losses = [h["loss"] for h in r["history"]]
    assert losses[-1] < losses[0] < 0.7
    torch.manual_seed(0)
    from neggen_lite.core.metrics import evaluate_embeddings
    base = evaluate_embeddings(torch.randn(ds.n_users, 64), torch.randn(ds.n_items, 64), ds, "test")
    # 20 clustered items per user out of 80: ranking its own cluster first gives recall@20 of 1
    assert r["test"]["recall@20"] > 0.9 > base["recall@20"]


def test_early_stopping_and_best_checkpoint(ds):
    r = fit(ds, small(epochs=60, patience=3, lr=0.05), progress=False)
    scores = [h["valid"]["recall@20"] for h in r["history"]]
    best = int(np.argmax(scores)) + 1
    assert r["best_epoch"] == best
    assert r["epochs"] == best + 3 and r["epochs"] < 60
    assert r["valid"]["recall@20"] == max(scores)
    # the returned model is the best one: re-evaluating it reproduces the best valid metrics
    from neggen_lite.core.metrics import evaluate
    assert evaluate(r["_model"], ds, "valid") == r["valid"]


def test_resume_after_interruption_equals_uninterrupted(ds, tmp_path, monkeypatch):
    cfg = small(epochs=5)
    want = fit(ds, cfg, progress=False)
    ckpt = tmp_path / "run.ckpt"
    restore = crash_on_evaluate(monkeypatch, at=3)
    import neggen_lite.training.trainer as trainer_module
    monkeypatch.setattr(trainer_module, "git_commit", lambda: "aaa")
    with pytest.raises(KeyboardInterrupt):
        fit(ds, cfg, checkpoint=ckpt, progress=False)
    restore()
    assert torch.load(ckpt, weights_only=False)["state"]["epoch"] == 2
    logs = []
    # the checkout moves on while the resumed run trains: the record names the code that ran, read at its start
    heads = iter(["bbb"])
    monkeypatch.setattr(trainer_module, "git_commit", lambda: next(heads, "moved-on"))
    got = fit(ds, cfg, checkpoint=ckpt, progress=False, log=logs.append)
    assert got["commit"] == "bbb" and got["commits"] == ["aaa", "bbb"] and "commits" not in want
    assert any("resumed" in s and "epoch 2" in s for s in logs)
    assert [h["loss"] for h in got["history"]] == [h["loss"] for h in want["history"]]
    assert got["test"] == want["test"] and got["best_epoch"] == want["best_epoch"]
    with pytest.raises(RuntimeError, match="checkpoint is for another run"):
        fit(ds, small(epochs=5, lr=0.02), checkpoint=ckpt, progress=False)


def test_a_slow_run_checkpoints_by_the_clock_between_its_epoch_checkpoints(ds, tmp_path, monkeypatch):
    import neggen_lite.training.trainer as trainer_module
    cfg = small(epochs=5, checkpoint_every=100)  # no epoch checkpoint before the end
    for minutes, saved_epoch in ((60.0, None), (0.0, 2)):  # an hour never passes here; 0 min after every epoch
        ckpt = tmp_path / f"run-{minutes}.ckpt"
        monkeypatch.setattr(trainer_module, "CHECKPOINT_MINUTES", minutes)
        restore = crash_on_evaluate(monkeypatch, at=3)
        with pytest.raises(KeyboardInterrupt):
            fit(ds, cfg, checkpoint=ckpt, progress=False)
        restore()
        got = torch.load(ckpt, weights_only=False)["state"]["epoch"] if ckpt.exists() else None
        assert got == saved_epoch


def test_result_record_fields(ds, tmp_path):
    r = fit(ds, small(epochs=2), progress=False, mode="smoke")
    path = save_result(r, tmp_path / "r.json")
    rec = json.loads(path.read_text())
    assert FIELDS <= set(rec)
    assert set(rec["valid"]) == METRICS and set(rec["test"]) == METRICS
    assert rec["variant"] is None and rec["mode"] == "smoke" and rec["config"]["batch_size"] == 64
    assert {"epoch", "loss", "seconds", "valid"} <= set(rec["history"][0])
    assert all(0 <= v <= 1 for v in rec["test"].values())
    # the per-user test metrics go beside the JSON and average back to the recorded test metrics
    from neggen_lite.core.metrics import load_per_user
    from neggen_lite.core.paths import per_user_path

    pu = load_per_user(per_user_path(path))
    assert per_user_path(path).name == "r.per_user.npz"
    assert set(pu["per_user"]) == METRICS and len(pu["users"]) == (ds.csr("test").getnnz(axis=1) > 0).sum()
    for m in METRICS:
        assert float(pu["per_user"][m].astype("float64").mean()) == pytest.approx(rec["test"][m], abs=1e-6)


def test_modes():
    assert config_for_mode("full").epochs == 1000 and config_for_mode("full").patience == 20
    assert config_for_mode("full").batch_size == 2048 and config_for_mode("full").dim == 64
    assert config_for_mode("smoke", seed=3).epochs == 3
    with pytest.raises(ValueError):
        config_for_mode("fast")


def test_cli_smoke_end_to_end(tmp_path):
    out = tmp_path / "baby.json"
    proc = subprocess.run([sys.executable, "-m", "neggen_lite", "train", "--dataset", "baby", "--mode", "smoke",
                           "--epochs", "2", "--threads", "1", "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    assert FIELDS <= set(rec)
    assert rec["dataset"] == "baby" and rec["model"] == "lightgcn" and rec["epochs"] == 2
    # two epochs of LightGCN on Baby already rank far better than chance (random: ~20/7050 = 0.003)
    assert 0.02 < rec["test"]["recall@20"] < 0.2
    assert not out.with_suffix(".ckpt").exists()


def test_cli_reports_data_errors(tmp_path):
    from conftest import write_dataset
    write_dataset(tmp_path, "baby", [(0, 0, 0), (0, 0, 0)])
    proc = subprocess.run([sys.executable, "-m", "neggen_lite", "train", "--dataset", "baby", "--data-root",
                           str(tmp_path), "--mode", "smoke"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "baby.inter, line 3: duplicate pair" in proc.stderr


def test_adam_is_fused_and_makes_the_per_tensor_update():
    """The trainer's optimizer (core.runtime.adam) is torch's fused Adam on CPU tensors, and five steps of it
    move the parameters as the per-tensor Adam does (same equations, one kernel)."""
    torch.manual_seed(0)
    start = [torch.randn(50, 8), torch.randn(8)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(5)]
    ends = []
    for make in (lambda ps: adam(ps, lr=1e-2), lambda ps: torch.optim.Adam(ps, lr=1e-2, foreach=False)):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = make(params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()
        ends.append([p.detach() for p in params])
        if len(ends) == 1:
            assert opt.param_groups[0]["fused"] is True
    for fused, loop, p0 in zip(*ends, start):
        assert not torch.equal(fused, p0)
        torch.testing.assert_close(fused, loop, rtol=1e-5, atol=1e-6)


def test_training_flushes_denormals_to_zero(ds):
    # gradients of all-but-satisfied pairs fall below float32's normal range; x86 is ~100x slower on them
    fit(ds, small_config(epochs=1), device="cpu", checkpoint=None, progress=False, threads=1, log_every=0)
    denormal = torch.tensor([1e-39], dtype=torch.float32)
    assert (denormal * 1.0).item() == 0.0


def test_training_keeps_freed_buffers_for_reuse():
    # glibc returns a freed 64 MB buffer to the kernel by default (the next one page-faults afresh); after
    # keep_freed_memory() (what fit() calls) it stays in the heap. Process-wide, so checked in a fresh process.
    import subprocess
    import sys
    script = """
import os, torch
from neggen_lite.core.runtime import keep_freed_memory
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
def freed_kept():
    before = rss(); x = torch.ones(16 << 20); del x   # 64 MB
    return rss() - before
default = freed_kept()
assert keep_freed_memory() and keep_freed_memory()
kept = freed_kept()
print(default >> 20, kept >> 20)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    default_mb, kept_mb = map(int, out)
    assert default_mb < 16 and kept_mb >= 60, (default_mb, kept_mb)
