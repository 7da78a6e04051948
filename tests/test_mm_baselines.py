"""Table 2's other multi-modal recommenders (issue 21): MMGCN, BM3, DRAGON, LGMRec, DiffMM -- shapes, gradients of
their losses, determinism, a smoke run that learns, devices, two-modality features from files, registration."""
import itertools
import json
from dataclasses import asdict

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from neggen_lite.core import features as core_features
from neggen_lite.core.metrics import evaluate_embeddings
from neggen_lite.experiments import multimodal, runs
from neggen_lite.generation.features import load_features
from neggen_lite.models import bm3, diffmm, dragon, lgmrec, mmbase, mmgcn
from neggen_lite.training.trainer import TrainConfig, fit
from neggen_lite.models.objectives import info_nce

from conftest import clustered_dataset, random_dataset

NAMES = tuple(multimodal.BASELINES)
SMALL = {"diffmm": {"dims": [16], "diff_batch": 32}}  # DiffMM's 1000-wide denoiser is needless on 80 items


def feats(ds, mods="vt", dims=(12, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    f = {"v": torch.randn(ds.n_items, dims[0], generator=g), "t": torch.randn(ds.n_items, dims[1], generator=g)}
    f["t"][0] = 0  # one item without text
    masks = {m: f[m].abs().sum(1) > 0 for m in f}
    return core_features.ItemFeatures(f, masks, {"v": "random", "t": "random"}).select(tuple(mods))


def build(name, ds, f, seed=7, settings=None, device=None, **cfg_kw):
    """``name`` through :func:`multimodal.build` with its published settings (small DiffMM denoisers) updated
    with ``settings``, on ``device`` (default: CUDA where there is one, as the trainer); ``cfg_kw``: trainer
    settings."""
    bcfg = multimodal.baseline_config(name, ds)
    for k, v in {**SMALL.get(name, {}), **(settings or {})}.items():
        setattr(bcfg, k, v)
    kw = dict(model=name, epochs=3, patience=50, batch_size=64, lr=0.01, seed=seed, checkpoint_every=1,
              n_layers=bcfg.n_layers, reg=bcfg.reg)
    cfg = TrainConfig(**{**kw, **cfg_kw})
    return multimodal.build(name, ds, f, cfg, settings=bcfg, device=device), cfg


def batch(ds, n=16, seed=0):
    rng = np.random.default_rng(seed)
    rows = ds.train[rng.choice(len(ds.train), n, replace=False)]
    return (torch.from_numpy(rows[:, 0]), torch.from_numpy(rows[:, 1]),
            torch.from_numpy(rng.integers(0, ds.n_items, n)))


def loss_fn(model, name, users, pos, neg, reg):
    """The model's training loss; DiffMM's recommender loss on fixed generated graphs (no denoiser step)."""
    if name == "diffmm":
        return model.rec_loss(users, pos, neg, reg)[0]
    return model.batch_loss(users, pos, neg, reg)[0]


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("name,mods", list(itertools.product(NAMES, ("vt", "t"))))
def test_shapes_variant_and_finite_loss(name, mods):
    ds = random_dataset(n_users=30, n_items=25, seed=3)
    model, cfg = build(name, ds, feats(ds, mods))
    u, i = model()
    assert u.shape[0] == ds.n_users and i.shape[0] == ds.n_items and u.shape[1] == i.shape[1]
    assert model.score(torch.arange(5)).shape == (5, ds.n_items)
    assert model.variant == core_features.VARIANTS[tuple(m for m in "vt" if m in mods)]
    loss = loss_fn(model, name, *batch(ds), cfg.reg)
    assert loss.dim() == 0 and torch.isfinite(loss)


# ---------------------------------------------------------------- gradients

def fd_check(model, loss_of, n_entries=3, eps=1e-6, seed=0):
    """Central finite differences of ``loss_of()`` against autograd for a few entries of every parameter that
    gets a gradient (float64; the global RNG is reset before each evaluation so dropout/Gumbel draws repeat)."""
    def f():
        torch.manual_seed(seed)
        return loss_of()

    params = dict(model.named_parameters())
    for p in params.values():
        p.grad = None
    f().backward()
    rng = np.random.default_rng(0)
    checked = 0
    for pname, p in params.items():
        if p.grad is None:
            continue
        g = p.grad.clone()
        for flat in rng.choice(p.numel(), min(n_entries, p.numel()), replace=False):
            idx = np.unravel_index(flat, p.shape)
            with torch.no_grad():
                old = p[idx].item()
                p[idx] = old + eps
                up = f().item()
                p[idx] = old - eps
                down = f().item()
                p[idx] = old
            fd = (up - down) / (2 * eps)
            assert abs(fd - g[idx].item()) <= 1e-5 + 1e-4 * abs(fd), (pname, idx, fd, g[idx].item())
            checked += 1
    return checked


@pytest.mark.parametrize("name,mods", list(itertools.product(NAMES, ("vt", "t"))))
def test_loss_gradient_matches_finite_differences(name, mods):
    ds = random_dataset(n_users=20, n_items=15, per_user=(3, 7), seed=4)
    model, cfg = build(name, ds, feats(ds, mods, dims=(5, 4)))
    model.double()
    users, pos, neg = batch(ds, 8)
    reg = max(cfg.reg, 1e-2)  # a visible regulariser
    if name == "diffmm":
        model.rebuild_graphs()
    if name == "bm3":  # the target view is a stop-gradient: hold it at its value at the unperturbed point
        real, held = model.targets, {}
        model.targets = lambda u, i, h: held.setdefault("t", real(u, i, h))
    n = fd_check(model, lambda: loss_fn(model, name, users, pos, neg, reg))
    assert n >= 6
    if name == "diffmm":  # the denoiser's loss (reconstruction + MSI) at fixed steps and noise
        x0 = model._rows(np.arange(6))
        t = torch.arange(6) % model.diffusion.steps
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=x0.dtype)
        m = model.modalities[-1]
        assert fd_check(model, lambda: model.diffusion_loss(m, x0, t, noise)) >= 6


def test_diffmm_edge_dropout_rescales_and_keeps_gradients_right():
    ds = random_dataset(n_users=20, n_items=15, per_user=(3, 7), seed=4)
    model, cfg = build("diffmm", ds, feats(ds, dims=(5, 4)), settings={"keep_rate": 0.6})
    model.double()
    model.rebuild_graphs()
    full = diffmm.self_loop_adjacency(torch.arange(ds.n_users), model.top_items[0].flatten(), ds.n_users, ds.n_items,
                                      torch.float64).to_dense()
    g, g_t = (x.to_dense() for x in model.graph(0))
    kept = g != 0
    assert 0 < kept.sum() < (full != 0).sum()                      # some entries dropped ...
    torch.testing.assert_close(g[kept], full[kept] / 0.6)          # ... the rest rescaled by 1 / keep_rate
    torch.testing.assert_close(g_t, g.T)
    assert not torch.equal(g, g.T)                                 # dropped independently: not symmetric
    users, pos, neg = batch(ds, 8)
    assert fd_check(model, lambda: model.rec_loss(users, pos, neg, 1e-2)[0]) >= 6


@pytest.mark.parametrize("dims", [[16], [16, 8], []])
def test_diffmm_factored_denoising_equals_the_plain_loop(dims):
    """``denoise`` keeps ``A x`` and the last layer's input sum instead of running the wide layers every step: the
    same rows as ``x <- coef1 f(x, t) + coef2 x`` run step by step, from dense or sparse ``x_0``."""
    ds = random_dataset(n_users=40, n_items=30, per_user=(3, 7), seed=4)
    model, _ = build("diffmm", ds, feats(ds, dims=(5, 4)), settings={"dims": dims, "steps": 5})
    model.double()
    den, diffusion = model.denoisers[model.modalities[0]], model.diffusion
    # arbitrary step coefficients: the schedule's own make the last step x <- f(x_1) (coef2 = 0), which would hide
    # the carried x_0 and bias terms
    g = torch.Generator().manual_seed(0)
    diffusion.coef1, diffusion.coef2 = (torch.rand(5, dtype=torch.float64, generator=g) + 0.5 for _ in range(2))
    users = np.arange(ds.n_users)
    x0 = model._rows(users)
    with torch.no_grad():
        x = x0
        for i in reversed(range(diffusion.steps)):
            t = torch.full((len(x),), i, dtype=torch.long)
            x = diffusion.coef1[i] * den(x, t, dropout=False) + diffusion.coef2[i] * x
        torch.testing.assert_close(diffusion.denoise(den, x0), x, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(diffusion.denoise(den, x0, model._sparse_rows(users)), x, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(x, x0)  # the steps moved the rows


# ---------------------------------------------------------------- determinism and learning

@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_numbers_other_seed_other_numbers(name):
    ds = random_dataset(n_users=40, n_items=30, seed=6)
    f = feats(ds)
    runs_ = []
    for seed in (7, 7, 8):
        model, cfg = build(name, ds, f, seed=seed, epochs=2)
        runs_.append(fit(ds, cfg, progress=False, threads=1, model=model))
    a, b, c = ([h["loss"] for h in r["history"]] for r in runs_)
    assert a == b and runs_[0]["test"] == runs_[1]["test"]
    assert a != c


@pytest.mark.parametrize("name", NAMES)
def test_smoke_fit_learns_on_clustered_data(name):
    ds = clustered_dataset(n_users=120, n_items=200, per_user=10)
    f = feats(ds, "t")
    model, cfg = build(name, ds, f, epochs=12, lr=0.01, batch_size=64)
    r = fit(ds, cfg, progress=False, threads=1, model=model)
    base = evaluate_embeddings(torch.randn(ds.n_users, 8, generator=torch.Generator().manual_seed(0)),
                               torch.randn(ds.n_items, 8, generator=torch.Generator().manual_seed(1)), ds, "valid")
    assert r["valid"]["recall@20"] > 2 * base["recall@20"], (r["valid"], base)
    assert r["history"][-1]["loss"] < r["history"][0]["loss"]


# ---------------------------------------------------------------- devices

def tensors_of(model):
    out = list(model.parameters()) + list(model.buffers())
    out += [getattr(model, s) for s in model._sparse if getattr(model, s, None) is not None]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_device_follows_the_model(name):
    ds = random_dataset(n_users=20, n_items=30, seed=2)  # more items than the largest K (20) the fit evaluates
    f = feats(ds)
    model, cfg = build(name, ds, f, device="cpu")  # explicitly: on a GPU machine the default is CUDA
    assert {t.device.type for t in tensors_of(model)} == {"cpu"}
    model.double()  # a conversion reaches the sparse graphs too
    assert all(t.dtype == torch.float64 for t in tensors_of(model) if t.is_floating_point())
    if torch.cuda.is_available():
        model, cfg = build(name, ds, f, device="cpu")
        model = model.to("cuda")
        assert {t.device.type for t in tensors_of(model)} == {"cuda"}
        r = fit(ds, cfg, device="cuda", progress=False, threads=1, model=model)
        assert np.isfinite(r["history"][-1]["loss"]) and r["device"].startswith("cuda")


# ---------------------------------------------------------------- graphs

def test_dragon_user_graph_is_the_softmax_of_cooccurrence_counts():
    r = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0], [0, 0, 1, 1]],
                               dtype=np.float32))
    got = dragon.user_cooccurrence_graph(r, k=2).toarray()
    dense = r.toarray()
    for u in range(r.shape[0]):
        counts = {v: int(dense[u] @ dense[v]) for v in range(r.shape[0]) if v != u and dense[u] @ dense[v] > 0}
        top = sorted(counts, key=lambda v: (-counts[v], v))[:2]
        want = np.zeros(r.shape[0])
        if top:
            e = np.exp([counts[v] for v in top])
            want[top] = e / e.sum()
        np.testing.assert_allclose(got[u], want, rtol=1e-6)
    assert got[3].sum() == 0  # a user sharing no item has no neighbour


def test_mean_and_self_loop_adjacencies_by_hand():
    r = sp.csr_matrix(np.array([[1, 0], [1, 1]], dtype=np.float32))
    a = mmbase.mean_adjacency(r).toarray()
    deg = np.array([1, 2, 2, 1])
    full = np.zeros((4, 4))
    full[:2, 2:], full[2:, :2] = r.toarray(), r.toarray().T
    np.testing.assert_allclose(a, full / deg[:, None])
    u, i = torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1])  # a duplicate edge counts once
    s = diffmm.self_loop_adjacency(u, i, 2, 2).to_dense().numpy()
    loops = full + np.eye(4)
    d = loops.sum(1)
    np.testing.assert_allclose(s, loops / np.sqrt(np.outer(d, d)), rtol=1e-6)


def test_lgmrec_evaluation_is_deterministic_and_training_draws():
    ds = random_dataset(n_users=20, n_items=15, seed=2)
    model, _ = build("lgmrec", ds, feats(ds))
    model.eval()
    assert torch.equal(model()[0], model()[0])
    model.train()
    assert not torch.equal(model.memberships("t")[0], model.memberships("t")[0])


def test_bm3_ignores_the_negatives():
    ds = random_dataset(n_users=20, n_items=15, seed=2)
    model, cfg = build("bm3", ds, feats(ds))
    users, pos, neg = batch(ds, 8)
    other = (neg + 1) % ds.n_items
    torch.manual_seed(0)
    a = model.batch_loss(users, pos, neg, cfg.reg)[0]
    torch.manual_seed(0)
    b = model.batch_loss(users, pos, other, cfg.reg)[0]
    assert torch.equal(a, b)


# ---------------------------------------------------------------- features dir, settings, registration

def test_features_dir_makes_every_model_two_modality(tmp_path):
    ds = random_dataset(n_users=30, n_items=25, seed=9)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "image_feat.npy", rng.normal(size=(ds.n_items, 10)).astype(np.float32))
    np.save(tmp_path / "text_feat.npy", rng.normal(size=(ds.n_items, 7)).astype(np.float32))
    for name in NAMES:
        extra = {"batch_size": 64, "lr": 0.01}
        if name == "diffmm":
            f = load_features(ds, None, tmp_path)
            model, cfg = build(name, ds, f, epochs=1)
            rec = fit(ds, cfg, progress=False, threads=1, model=model)
            rec["modalities"] = list(f.modalities)
        else:
            rec = multimodal.train(ds, name, None, "smoke", "cpu", features_dir=tmp_path, progress=False, threads=1,
                                   epochs=1, **extra)
            settings = asdict(multimodal.baseline_config(name, ds))
            settings.update({k: v for k, v in extra.items() if k in settings})   # what the run trained with
            assert rec["config"]["model_kwargs"][name] == json.loads(json.dumps(settings))
            for k in ("lr", "reg"):
                if k in settings:
                    assert rec["config"]["model_kwargs"][name][k] == rec["config"][k], (name, k)
        assert rec["variant"] == "V&T" and rec["modalities"] == ["v", "t"], name


def test_published_settings_reach_the_trainer_and_the_run_is_one_command():
    baby, beauty = random_dataset(name="baby"), random_dataset(name="beauty")
    for name, module in (("bm3", bm3), ("dragon", dragon), ("lgmrec", lgmrec), ("diffmm", diffmm)):
        cfg = multimodal.baseline_config(name, baby)
        for k, v in module.PUBLISHED["baby"].items():
            assert getattr(cfg, k) == v
        assert multimodal.baseline_config(name, beauty) == cfg  # no published Beauty values: Baby's
        assert set(module.SEARCH) <= set(vars(cfg))              # the grid names settings the model has
    clothing = multimodal.baseline_config("dragon", random_dataset(name="clothing"))
    assert clothing.reg == dragon.PUBLISHED["clothing"]["reg"] != dragon.PUBLISHED["baby"]["reg"]
    assert set(mmgcn.SEARCH) <= set(vars(multimodal.baseline_config("mmgcn", baby)))
    for name in NAMES:
        spec = runs.RunSpec(dataset="baby", model=name, modalities="t", seed=2025)
        assert runs.path(spec).name == f"{name}-uniform-t-seed2025.json"
        assert runs.command_line(spec) == (f"python -m neggen_lite train --dataset baby --model {name} --mode full "
                                           f"--seed 2025 --modalities t")


def test_a_search_run_names_its_learning_rate_when_not_the_default():
    spec = runs.RunSpec(dataset="baby", model="mmgcn", modalities="t", seed=2025, reg=0.01, lr=1e-3, folder="tuning")
    assert runs.path(spec).parts[-2:] == ("tuning", "mmgcn-uniform-t-reg0.01-lr0.001-seed2025.json")
    assert runs.command(spec)[-4:] == ["--reg", "0.01", "--lr", "0.001"]
    rec = {"dataset": "baby", "model": "mmgcn", "seed": 2025, "modalities": ["t"], "negatives": {"source": "uniform"},
           "config": {"reg": 1e-4, "lr": mmgcn.config_for("baby").lr}}
    assert runs.spec_of(rec, "tuning").lr is None                         # the default: no lr in the name
    assert runs.spec_of(dict(rec, config={"reg": 1e-4, "lr": 5e-3}), "tuning").lr == 5e-3
    assert runs.spec_of(dict(rec, config={"reg": 1e-4, "lr": 5e-3})).lr is None   # reported runs: no tags


def test_cli_accepts_the_models(monkeypatch, tmp_path):
    from neggen_lite import cli

    seen = []
    monkeypatch.setattr(runs, "run", lambda spec, *a, **k: seen.append(spec) or {"_path": str(tmp_path / "x.json")})
    monkeypatch.setattr(cli.report, "run_summary", lambda rec, path: "ok")
    for name in NAMES:
        assert cli.main(["train", "--dataset", "baby", "--model", name, "--modalities", "t", "--mode", "full",
                         "--seed", "2025"]) in (0, None)
    assert [s.model for s in seen] == list(NAMES) and all(s.modalities == "t" for s in seen)


def test_lgmrec_contrast_is_the_log_softmax_of_cosines_for_any_temperature():
    g = torch.Generator().manual_seed(0)
    a, b, every = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g), torch.randn(9, 4, generator=g)
    every[:6] = b                                        # each row's positive is among the candidates
    cos = F.normalize(a) @ F.normalize(every).T
    for tau in (0.2, 1.0, 0.005):                        # 0.005: exp(1/tau) overflows float32, logsumexp path
        want = -(torch.log_softmax(cos / tau, dim=1)[torch.arange(6), torch.arange(6)]).sum()
        got = info_nce(a, b, every, tau)
        assert torch.isfinite(got) and torch.allclose(got, want, rtol=1e-5, atol=1e-4), (tau, got, want)


def test_contrast_through_low_rank_factors_equals_the_dense_one():
    # LGMRec's hypergraph outputs are h @ z (rank hyper_num): the factored products give the same loss and
    # gradients as the dense [n, N] products (float64), on both the exp-sum and the logsumexp paths
    g = torch.Generator().manual_seed(3)
    h, z = torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(3, 8, generator=g, dtype=torch.float64)
    a = torch.randn(10, 8, generator=g, dtype=torch.float64)
    h[5] = 0.0                                            # a row with no membership: F.normalize's eps path
    idx = torch.arange(10)
    for tau in (0.2, 0.005):
        grads = []
        for factors in (None, True):
            leaves = [x.clone().requires_grad_() for x in (a, h, z)]
            al, hl, zl = leaves
            every = hl @ zl
            loss = info_nce(al, every[idx], every, tau, factors=(hl, zl) if factors else None)
            loss.backward()
            grads.append((loss.detach(), [x.grad for x in leaves]))
        (dense, gd), (low, gl) = grads
        torch.testing.assert_close(low, dense)
        for x, y in zip(gl, gd):
            torch.testing.assert_close(x, y)
    wide = torch.randn(40, 16, generator=g, dtype=torch.float64)          # k >= d: the dense path, same value
    every = wide @ torch.randn(16, 8, generator=g, dtype=torch.float64)
    assert torch.equal(info_nce(a, every[idx], every, 0.2, factors=(wide, None)), info_nce(a, every[idx], every, 0.2))


def test_chunked_log_sum_exp_equals_the_one_buffer_version_across_blocks():
    from neggen_lite.models.objectives import _ChunkedLogSumExpOfProducts, _LogSumExpOfProducts

    g = torch.Generator().manual_seed(4)
    a0 = torch.randn(10, 3, generator=g, dtype=torch.float64)
    b0 = torch.randn(1 << 17, 3, generator=g, dtype=torch.float64)   # blocks of 4 rows: 3 blocks, one short
    out = []
    for fn in (_LogSumExpOfProducts, _ChunkedLogSumExpOfProducts):
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
        w = torch.arange(10, dtype=torch.float64)                     # a non-uniform incoming gradient
        value = fn.apply(a, b)
        (value * w).sum().backward()
        out.append((value.detach(), a.grad, b.grad))
    for x, y in zip(*out):
        torch.testing.assert_close(x, y)


def test_contrast_gradient_matches_autograd():
    # the fused log-sum-exp keeps one buffer for exp and its gradient: its gradients equal autograd's
    # exp().sum().log() (float64); a second backward through the same graph is refused, not wrong
    g = torch.Generator().manual_seed(1)
    a, b, every = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(3))
    for x in (a, b, every):
        x.requires_grad_()
    info_nce(a, b, every, 0.3).backward()
    fused = [x.grad.clone() for x in (a, b, every)]
    for x in (a, b, every):
        x.grad = None
    an, bn, en = F.normalize(a) / 0.3, F.normalize(b), F.normalize(every)
    (-((an * bn).sum(1) - (an @ en.T).exp().sum(1).log()).sum()).backward()
    for got, x in zip(fused, (a, b, every)):
        torch.testing.assert_close(got, x.grad)
    loss = info_nce(a, b, every, 0.3)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
