"""NegGen's causal module and objective (Eq. 13-21), its variants, and an end-to-end smoke run."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neggen_lite.neggen import causal
from neggen_lite.core import data
from neggen_lite.neggen import train as neggen
from neggen_lite.core.features import ItemFeatures
from neggen_lite.neggen.causal import CausalModule, NegGen, NegGenConfig, align_loss, rec_loss
from neggen_lite.core.metrics import load_per_user, paired_ttest, save_per_user
from neggen_lite.models.lightgcn import build_model
from neggen_lite.training.trainer import config_for_mode, fit

from conftest import clustered_dataset, crash_on_evaluate


def features_for(ds, d=16, seed=0, no_text=(0,)):
    g = torch.Generator().manual_seed(seed)
    orig = torch.randn(ds.n_items, 1, d, generator=g)
    neg = orig + 0.5 * torch.randn(ds.n_items, 1, d, generator=g)
    has = torch.ones(ds.n_items, dtype=torch.bool)
    for i in no_text:
        orig[i], neg[i], has[i] = 0, 0, False
    return ItemFeatures({"t": orig[:, 0]}, {"t": has}, {"t": "random"}, {"t": neg[:, 0]},
                        {"rule": ds.n_items - len(no_text)})


def test_module_shapes_and_gradients():
    torch.manual_seed(0)
    m = CausalModule(8, out_dim=4, hidden=16)
    e_m, e_s = torch.randn(5, 2, 8), torch.randn(5, 2, 8)
    e_c, e_cs = m(e_m, e_s)
    assert e_c.shape == e_cs.shape == (5, 4)
    (e_c.sum() + e_cs.pow(2).sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match=r"\[B, M, 8\]"):
        m(torch.randn(5, 8), torch.randn(5, 8))


def test_one_token_degenerates_to_value_projection():
    torch.manual_seed(0)
    m = CausalModule(8, out_dim=4)
    x, y = torch.randn(3, 1, 8), torch.randn(3, 1, 8)
    assert torch.allclose(m.attend(x), m.w_v(x[:, 0]), atol=1e-6)
    e_c, e_cs = m(x, y)  # Eq. 16-18 by hand
    assert torch.allclose(e_c, m.proj(m.w_v(x[:, 0]) - m.w_v(y[:, 0])), atol=1e-6)
    assert torch.allclose(e_cs, m.proj(m.w_v(y[:, 0])), atol=1e-6)


def test_attention_matches_hand_computation():
    torch.manual_seed(1)
    m = CausalModule(4, out_dim=2)
    x = torch.randn(1, 3, 4)
    q, k, v = x[0] @ m.w_q.weight.T, x[0] @ m.w_k.weight.T, x[0] @ m.w_v.weight.T
    att = torch.softmax(q @ k.T / 2.0, dim=-1)  # sqrt(d) = 2
    assert torch.allclose(m.attend(x)[0], (att @ v).mean(0), atol=1e-6)


def test_losses_equal_hand_computation():
    e_u = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    e_i = torch.tensor([[0.5, 0.5], [1.0, -1.0]])
    e_c = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    e_cs = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    lam, tau = 0.5, 0.1
    # user 0: lam*1 + 0.5 - 0 = 1.0 ; user 1: lam*2 + (-2) - 0 = -1.0
    expect = -(math.log(1 / (1 + math.exp(-1.0))) + math.log(1 / (1 + math.exp(1.0)))) / 2
    assert rec_loss(e_u, e_i, e_c, e_cs, lam).item() == pytest.approx(expect, rel=1e-6)
    a = torch.tensor([1.0, -1.0]) / tau      # e_c . e_i / tau
    b = torch.tensor([1.0, 1.0]) / tau       # e_c* . e_i / tau
    printed = ((b - a)).mean().item()
    bounded = float(np.mean([-math.log(math.exp(x) / (math.exp(x) + math.exp(y))) for x, y in zip(a, b)]))
    assert align_loss(e_c, e_cs, e_i, tau, "printed").item() == pytest.approx(printed, rel=1e-6)
    assert align_loss(e_c, e_cs, e_i, tau, "bounded").item() == pytest.approx(bounded, rel=1e-5)
    with pytest.raises(ValueError, match="align form"):
        align_loss(e_c, e_cs, e_i, tau, "other")


def test_printed_and_bounded_align_differ_exactly_by_softplus():
    torch.manual_seed(0)
    e_c, e_cs, e_i = torch.randn(64, 8), torch.randn(64, 8), torch.randn(64, 8)
    tau = 0.2
    a, b = (e_c * e_i).sum(-1) / tau, (e_cs * e_i).sum(-1) / tau
    diff = align_loss(e_c, e_cs, e_i, tau, "bounded") - align_loss(e_c, e_cs, e_i, tau, "printed")
    assert torch.allclose(diff, F.softplus(a - b).mean(), atol=1e-5)
    # the printed form is unbounded below: scaling e_c along e_i drives it to -inf; the bounded one stays >= 0
    big = e_i * 1e3
    assert align_loss(big, e_cs, e_i, tau, "printed") < -1e4
    assert align_loss(big, e_cs, e_i, tau, "bounded") >= 0


def _neggen(ds, variant="full", base="frozen", lam=0.5, seed=0):
    torch.manual_seed(seed)
    b = build_model("lightgcn", ds, "cpu", 8, 2)
    return NegGen(b, features_for(ds), NegGenConfig(variant=variant, base=base, lam=lam, hidden=8), seed=seed)


def test_variant_switches_change_only_what_they_should():
    ds = clustered_dataset()
    cfgs = {v: NegGenConfig(variant=v) for v in causal.VARIANTS}
    assert [c.generated for c in cfgs.values()] == [True, False, True, False, True, True, True]
    assert [c.causal for c in cfgs.values()] == [True, True, False, False, True, True, True]
    assert cfgs["V"].modalities == ("v",) and cfgs["V&T"].modalities == ("v", "t") and cfgs["full"].modalities == ("t",)
    items = torch.arange(10)
    full, wo_neg = _neggen(ds, "full"), _neggen(ds, "w/o NEG")
    # same seed -> same parameters; only the negatives' source differs
    assert all(torch.equal(p, q) for p, q in zip(full.module.parameters(), wo_neg.module.parameters()))
    other = wo_neg.other[items]  # w/o NEG: one fixed other item per item, in training and at inference
    e_c, e_cs = wo_neg.causal_embeddings(items)
    e_c2, e_cs2 = full.module(full.orig[items], full.orig[other])
    assert torch.allclose(e_c, e_c2) and torch.allclose(e_cs, e_cs2)
    e_c, e_cs = full.causal_embeddings(items)
    assert torch.allclose(e_cs, full.module(full.orig[items], full.neg[items])[1])
    # e_c alone (real negatives, inference) is the same numbers, bit for bit, in every variant
    for m in (full, wo_neg, _neggen(ds, "w/o CF")):
        assert torch.equal(m.module.causal_part(*m.token_pair(items)), m.causal_embeddings(items)[0])
    # w/o CF: no attention and no difference
    wo_cf = _neggen(ds, "w/o CF")
    e_c, e_cs = wo_cf.causal_embeddings(items)
    assert torch.allclose(e_c, wo_cf.module.proj(wo_cf.orig[items, 0]))
    assert torch.allclose(e_cs, wo_cf.module.proj(wo_cf.neg[items, 0]))
    assert (full.sampler_name, wo_neg.sampler_name, full.variant) == ("generated", "uniform", "full")
    with pytest.raises(ValueError, match="variant"):
        NegGenConfig(variant="nope")


def test_score_is_base_plus_lambda_causal_and_lambda_zero_is_base():
    ds = clustered_dataset()
    m = _neggen(ds, lam=0.0)
    with torch.no_grad():
        ue, ie = m()
        bu, bi = m.base()
    assert torch.equal(ue, bu) and torch.allclose(ie, bi)
    m = _neggen(ds, lam=0.7)
    with torch.no_grad():
        ue, ie = m()
        e_c = m.causal_embeddings(torch.arange(ds.n_items))[0]
    assert torch.allclose(ie, bi + 0.7 * e_c, atol=1e-6)
    # items without text (item 0) get zero tokens: e_c = MLP(0)
    assert torch.allclose(e_c[0], m.module.proj(torch.zeros(16)), atol=1e-6)


@pytest.mark.parametrize("base", ["frozen", "finetune"])
def test_frozen_base_does_not_move(base):
    ds = clustered_dataset()
    m = _neggen(ds, base=base)
    before = m.base.item_emb.detach().clone()
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    users, pos = torch.from_numpy(ds.train[:32, 0]), torch.from_numpy(ds.train[:32, 1])
    loss, l_rec = m.batch_loss(users, pos, torch.randint(ds.n_items, (32,)), 1e-4)
    assert torch.isfinite(loss) and 0 < l_rec.item() < loss.item() + 10
    opt.zero_grad()
    loss.backward()
    opt.step()
    moved = not torch.equal(before, m.base.item_emb.detach())
    assert moved == (base == "finetune")
    assert m.module.proj[0].weight.grad is not None


def test_neggen_trains_through_common_trainer_and_resumes(tmp_path, monkeypatch):
    ds = clustered_dataset()
    cfg = config_for_mode("smoke", epochs=4, patience=4, dim=8, n_layers=2, model="neggen", batch_size=128)
    full = fit(ds, cfg, "cpu", progress=False, model=_neggen(ds, seed=3))
    assert full["variant"] == "full" and full["sampler"] == "generated" and full["epochs"] == 4
    assert all(math.isfinite(h["loss"]) for h in full["history"])
    ck = tmp_path / "ng.ckpt"
    restore = crash_on_evaluate(monkeypatch, at=3)
    with pytest.raises(KeyboardInterrupt):
        fit(ds, cfg, "cpu", checkpoint=ck, progress=False, model=_neggen(ds, seed=3))
    restore()
    resumed = fit(ds, cfg, "cpu", checkpoint=ck, progress=False, model=_neggen(ds, seed=3))
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    assert resumed["test"] == full["test"]


def test_paired_ttest_and_per_user_files(tmp_path):
    users = np.arange(50)
    rng = np.random.default_rng(0)
    a = {"users": users, "per_user": {"recall@20": rng.random(50)}}
    b = {"users": users, "per_user": {"recall@20": a["per_user"]["recall@20"] - 0.1 + 0.01 * rng.standard_normal(50)}}
    out = paired_ttest(a, b)["recall@20"]
    assert out["mean_diff"] == pytest.approx(0.1, abs=0.01) and out["p"] < 1e-10 and out["n_users"] == 50
    with pytest.raises(ValueError, match="different users"):
        paired_ttest(a, {"users": users[:-1], "per_user": {}})

    save_per_user(tmp_path / "a.npz", a)
    back = load_per_user(tmp_path / "a.npz")
    assert np.array_equal(back["users"], users) and back["users"].dtype == np.int32
    assert np.allclose(back["per_user"]["recall@20"], a["per_user"]["recall@20"], atol=1e-7)
    np.savez(tmp_path / "bad.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="bad.npz.*users"):
        load_per_user(tmp_path / "bad.npz")


def test_offline_features_refuse_a_visual_modality():
    ds = data.load("baby").subset(50)
    with pytest.raises(ValueError, match="no visual modality"):
        neggen.build_features(ds, "rule", modalities=("v", "t"))
    with pytest.raises(ValueError, match="no item text"):
        neggen.negative_texts(data.load("clothing").subset(30))


def test_cli_refuses_variant_v_before_any_training(tmp_path, capsys, monkeypatch):
    from neggen_lite.cli import main

    def no_training(*a, **k):
        raise AssertionError("the base was pre-trained before the modality check")

    monkeypatch.setattr(neggen, "pretrained_base", no_training)
    argv = ["train", "--dataset", "baby", "--model", "neggen", "--variant", "V", "--mode", "smoke",
            "--subset-users", "50", "--out", str(tmp_path / "v.json")]
    assert main(argv) == 2
    assert "no visual modality" in capsys.readouterr().err and not (tmp_path / "v.json").exists()
    with pytest.raises(FileNotFoundError, match="available"):
        neggen.generation_cache("beauty", "some/missing-model")


def test_cli_smoke_run_on_a_baby_slice(tmp_path):
    """End to end: real Baby text, MiniLM encodings, pre-trained base, NegGen, paired t-test."""
    out = tmp_path / "ng.json"
    proc = subprocess.run([sys.executable, "-m", "neggen_lite", "train", "--dataset", "baby", "--model", "neggen",
                           "--mode", "smoke", "--subset-users", "300", "--generator", "rule", "--threads", "1",
                           "--quiet", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    for k in ("dataset", "model", "sampler", "variant", "seed", "mode", "config", "commit", "epochs", "best_epoch",
              "seconds", "valid", "test", "history", "negatives", "base", "significance"):
        assert k in r, k
    assert (r["model"], r["sampler"], r["variant"], r["dataset"]) == ("neggen", "generated", "full", "baby-300u")
    assert r["config"]["model_kwargs"]["lam"] == 0.5 and r["config"]["model_kwargs"]["tau"] == 0.1
    n = r["negatives"]
    assert n["rule"] > 0 and n["no_text"] > 0 and n["model_ok"] == 0 and n["generator"] == "rule"
    assert all(0 <= v <= 1 for v in r["test"].values()) and all(0 <= v <= 1 for v in r["base"]["test"].values())
    sig = r["significance"]["test"]["recall@20"]
    assert sig["n_users"] > 0 and (math.isnan(sig["p"]) or 0 <= sig["p"] <= 1)
    assert "paired t-test" in proc.stdout


def test_quality_report_of_the_shipped_generations():
    rep = neggen.quality_report(data.load("baby"), "qwen2.5-coder-1.5b")
    assert rep["items"] >= 50 and 0 <= rep["valid_rate"] <= 1
    h, r = rep["hardness_model"], rep["hardness_rule_same_items"]
    for d in (h, r):
        assert -1 <= d["cos_original_random_item"] < d["cos_original_generated"] <= 1
    assert h["cos_original_random_item"] == r["cos_original_random_item"]  # same items, same draw


def test_same_seed_same_numbers_whatever_ran_before(tmp_path, monkeypatch):
    """The first call pre-trains the base, the second loads it from the cache after other RNG use."""
    from neggen_lite.core import paths

    monkeypatch.setattr(paths, "BASE_CACHE", tmp_path)
    ds, feats = clustered_dataset(), None
    feats = features_for(ds)
    kw = dict(features=feats, progress=False, threads=1, dim=8, n_layers=2, batch_size=128, epochs=3)
    a = neggen.train(ds, "smoke", **kw)
    torch.rand(1000)
    b = neggen.train(ds, "smoke", **kw)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test"] == b["test"] and a["base"] == b["base"]
    assert a["significance"]["test"]["recall@20"]["n_users"] == ds.n_users
