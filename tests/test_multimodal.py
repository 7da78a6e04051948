"""VBPR, FREEDOM, feature files, the Eq. 3 gradient probe and direct-generation negatives (issue 7)."""
import gzip
import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from neggen_lite.core import features as core_features
from neggen_lite.experiments import multimodal, study
from neggen_lite.generation import features as gen_features
from neggen_lite.models import freedom, vbpr
from neggen_lite.core.data import Dataset
from neggen_lite.core.metrics import evaluate_embeddings
from neggen_lite.training.trainer import TrainConfig, fit

from conftest import clustered_dataset, random_dataset


def feats_for(ds, dims=(12, 6), seed=0, missing_t=()):
    g = torch.Generator().manual_seed(seed)
    v, t = torch.randn(ds.n_items, dims[0], generator=g), torch.randn(ds.n_items, dims[1], generator=g)
    tm = torch.ones(ds.n_items, dtype=torch.bool)
    tm[list(missing_t)] = False
    t[~tm] = 0
    return core_features.ItemFeatures({"v": v, "t": t}, {"v": torch.ones(ds.n_items, dtype=torch.bool), "t": tm},
                           {"v": "random", "t": "random"})


def cfg_for(model, **kw):
    layers = multimodal.baseline_config(model, "baby").n_layers if model in multimodal.BASELINES else 0
    base = dict(model=model, epochs=3, patience=10, batch_size=64, lr=0.01, seed=7, checkpoint_every=1,
                n_layers=2 if model == "freedom" else layers)
    base.update(kw)
    return TrainConfig(**base)


# ---------------------------------------------------------------- FREEDOM's graphs

def test_knn_graph_hand_made():
    # 2-d directions at 0, 10, 20, 90, 100 degrees: two tight groups
    ang = np.deg2rad([0, 10, 20, 90, 100])
    x = np.stack([np.cos(ang), np.sin(ang)], 1) * np.array([[1], [3], [0.5], [2], [1]])  # norms do not matter
    s = freedom.knn_graph(x, k=2).toarray()
    want = np.zeros((5, 5))
    for i, j in [(0, 0), (0, 1), (1, 1), (1, 0), (2, 2), (2, 1), (3, 3), (3, 4), (4, 4), (4, 3)]:
        want[i, j] = 1
    # item 1 is equally far from 0 and 2: either is a correct 2nd neighbour
    assert s[1].sum() == 2 and s[1, 1] == 1 and s[1, 0] + s[1, 2] == 1
    want[1] = s[1]
    np.testing.assert_array_equal(s, want)
    # a masked item has an empty row and is nobody's neighbour
    mask = np.array([True, True, False, True, True])
    sm = freedom.knn_graph(x, k=2, mask=mask).toarray()
    assert sm[2].sum() == 0 and sm[:, 2].sum() == 0
    np.testing.assert_array_equal(sm[[0, 1]], [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0]])
    # normalised: every kNN edge weighs 1/k (each row has degree k)
    n = freedom.sym_normalize(sp.csr_matrix(s)).toarray()
    np.testing.assert_allclose(n[s > 0], 0.5)
    # D^-1/2 S D^-1/2 with row degrees on a general graph
    g = np.array([[1, 1, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    d = g.sum(1) ** -0.5
    np.testing.assert_allclose(freedom.sym_normalize(sp.csr_matrix(g)).toarray(), d[:, None] * g * d[None, :], rtol=1e-6)


def test_item_item_graph_mixes_modalities():
    ds = random_dataset()
    f = feats_for(ds)
    sv = freedom.item_item_graph(f.select("v"), k=3).toarray()
    st = freedom.item_item_graph(f.select("t"), k=3).toarray()
    both = freedom.item_item_graph(f, k=3, mm_image_weight=0.1).toarray()
    np.testing.assert_allclose(both, 0.1 * sv + 0.9 * st, rtol=1e-6)
    np.testing.assert_allclose(sv.sum(1), 1.0, rtol=1e-6)  # k entries of 1/k per row
    assert not np.allclose(sv, st)


def test_degree_sensitive_pruning_hand_made():
    # user 0 -> items 0..4 (degree 5), users 1..4 -> item 0 too; user 5 -> item 5 only (degrees 1 and 1)
    rows = [0, 0, 0, 0, 0, 1, 2, 3, 4, 5]
    cols = [0, 1, 2, 3, 4, 0, 0, 0, 0, 5]
    r = sp.csr_matrix((np.ones(10, dtype=np.float32), (rows, cols)), shape=(6, 6))
    users, items, w = freedom.edge_keep_weights(r)
    du, di = np.array([5, 1, 1, 1, 1, 1.]), np.array([5, 1, 1, 1, 1, 1.])
    np.testing.assert_allclose(w, 1 / np.sqrt(du[users] * di[items]))
    wt = torch.from_numpy(w)
    edges = set(zip(users.tolist(), items.tolist()))

    def kept(ratio, seed):  # the kept (user, item) edges as a 6 x 6 0/1 matrix
        keep = freedom.degree_sensitive_pruning(wt, ratio, torch.Generator().manual_seed(seed)).numpy()
        assert len(set(keep.tolist())) == len(keep)                 # drawn without replacement
        m = np.zeros((6, 6))
        m[users[keep], items[keep]] = 1
        return m

    kept_counts = np.zeros((6, 6))
    for s in range(400):
        k = kept(0.5, s)
        assert k.sum() == 5                                          # int(10 * (1 - 0.5))
        assert {(int(u), int(i)) for u, i in zip(*np.nonzero(k))} <= edges  # a subset of the training edges
        kept_counts += k
    freq = kept_counts / 400
    assert freq[5, 5] > 0.75                                      # degree-1 edge: weight 1, kept most
    assert freq[0, 0] < 0.35                                      # hub-hub edge: weight 1/5, pruned most
    assert freq[5, 5] > freq[0, 1] > freq[0, 0]
    np.testing.assert_array_equal(kept(0.5, 3), kept(0.5, 3))
    assert kept(0.0, 0).sum() == 10
    # the pruned graph's adjacency, built on the edges' device, is Eq. 6's normalisation of the kept edges
    keep = freedom.degree_sensitive_pruning(wt, 0.5, torch.Generator().manual_seed(3))
    a = freedom.edge_adjacency(torch.from_numpy(users)[keep], torch.from_numpy(items)[keep], 6, 6).to_dense().numpy()
    kept_m = sp.csr_matrix(kept(0.5, 3), dtype=np.float32)
    from neggen_lite.core.graph import normalized_adjacency_scipy
    np.testing.assert_allclose(a, normalized_adjacency_scipy(kept_m).toarray(), rtol=1e-6)


def test_freedom_prunes_once_per_epoch_and_infers_on_the_full_graph():
    ds = random_dataset(n_users=40, n_items=30)
    m = multimodal.build("freedom", ds, feats_for(ds), cfg_for("freedom"))
    n = len(ds.train)
    users, pos = torch.from_numpy(ds.train[:, 0]), torch.from_numpy(ds.train[:, 1])
    neg = torch.randint(ds.n_items, (n,))
    half = n // 2
    m.batch_loss(users[:half], pos[:half], neg[:half], 1e-4)
    first = m._masked_adj
    m.batch_loss(users[half:], pos[half:], neg[half:], 1e-4)
    assert m._masked_adj is first and int(m.epoch) == 1      # same graph within an epoch
    m.batch_loss(users[:half], pos[:half], neg[:half], 1e-4)
    assert int(m.epoch) == 2 and m._masked_adj is not first
    # the pruned graph: (1 - 0.8) of the edges, symmetric, normalised by its own degrees
    a = m.pruned_adjacency(5).to_dense().numpy()
    nnz_ui = (a[: ds.n_users, ds.n_users:] > 0).sum()
    assert nnz_ui == int(n * 0.2)
    np.testing.assert_allclose(a, a.T)
    ui = (a[: ds.n_users, ds.n_users:] > 0).astype(np.float64)
    du, di = ui.sum(1), ui.sum(0)
    rr, cc = np.nonzero(ui)
    np.testing.assert_allclose(a[: ds.n_users, ds.n_users:][rr, cc], 1 / np.sqrt(du[rr] * di[cc]), rtol=1e-5)
    np.testing.assert_array_equal(a, m.pruned_adjacency(5).to_dense().numpy())  # seeded per epoch
    # inference: the full graph
    u, i = m()
    full = m.propagate(m.full_adj)
    torch.testing.assert_close(u, full[0])
    torch.testing.assert_close(i, full[1])


# ---------------------------------------------------------------- modality switches

def test_switching_off_a_modality_removes_exactly_its_graph_and_bpr_term():
    ds = random_dataset(n_users=40, n_items=30)
    f = feats_for(ds)
    cfg = cfg_for("freedom")
    vt = multimodal.build("freedom", ds, f, cfg)
    t_only = multimodal.build("freedom", ds, f.select("t"), cfg)
    v_only = multimodal.build("freedom", ds, f.select("v"), cfg)
    assert set(vt.proj) == {"v", "t"} and set(t_only.proj) == {"t"} and set(v_only.proj) == {"v"}
    assert (vt.variant, t_only.variant, v_only.variant) == ("V&T", "T", "V")
    sv = freedom.item_item_graph(f.select("v"), 10).toarray()
    st = freedom.item_item_graph(f.select("t"), 10).toarray()
    np.testing.assert_allclose(t_only.mm_adj.to_dense().numpy(), st, rtol=1e-6)
    np.testing.assert_allclose(v_only.mm_adj.to_dense().numpy(), sv, rtol=1e-6)
    np.testing.assert_allclose(vt.mm_adj.to_dense().numpy(), 0.1 * sv + 0.9 * st, rtol=1e-6)
    # same parameters and the same item graph: the T model's loss is the V&T loss minus reg * L_v
    t_only.load_state_dict({k: v for k, v in vt.state_dict().items() if ".v" not in k and not k.endswith("_v")},
                           strict=False)
    t_only.mm_adj, t_only.mm_adj_t = vt.mm_adj, vt.mm_adj_t
    users, pos = torch.from_numpy(ds.train[:50, 0]), torch.from_numpy(ds.train[:50, 1])
    neg = torch.randint(ds.n_items, (50,), generator=torch.Generator().manual_seed(0))
    reg = 0.3
    tot_vt, bpr_vt = vt.batch_loss(users, pos, neg, reg)
    tot_t, bpr_t = t_only.batch_loss(users, pos, neg, reg)
    torch.testing.assert_close(bpr_vt, bpr_t)
    ue, _ = vt.propagate(vt._masked_adj)
    l_v = vt.modality_terms(ue[users], pos, neg, "v")[0].mean()
    torch.testing.assert_close(tot_vt - reg * l_v, tot_t)
    # the visual features reach nothing in the T model; the textual ones do
    tot_t.backward()
    assert t_only.feat["t"].grad is not None and t_only.feat["t"].grad.abs().sum() > 0
    assert "v" not in t_only.feat


def test_vbpr_switches_and_score():
    ds = random_dataset(n_users=30, n_items=25)
    f = feats_for(ds)
    torch.manual_seed(0)
    m_t = vbpr.VBPR(ds, f.select("t"))
    f2 = core_features.ItemFeatures({"v": f.feats["v"] * 5 + 1, "t": f.feats["t"]}, f.masks)
    torch.manual_seed(0)
    m_t2 = vbpr.VBPR(ds, f2.select("t"))
    torch.testing.assert_close(m_t()[1], m_t2()[1])        # visual features do not reach a T model
    m_vt = vbpr.VBPR(ds, f)
    assert set(m_vt.E) == {"v", "t"} and set(m_t.E) == {"t"}
    with torch.no_grad():
        m_vt.beta_i.normal_()
        for m in "vt":
            m_vt.beta_f[m].weight.normal_()
    users, items = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    u, i = m_vt()
    torch.testing.assert_close((u[users] * i[items]).sum(-1), m_vt.scores(users, items))
    vis = m_vt.E["v"](f.feats["v"][items]) + m_vt.E["t"](f.feats["t"][items])
    want = ((m_vt.gamma_u[users] * m_vt.gamma_i[items]).sum(-1) + (m_vt.theta_u[users] * vis).sum(-1)
            + m_vt.beta_i[items] + m_vt.beta_f["v"](f.feats["v"][items]).squeeze(-1)
            + m_vt.beta_f["t"](f.feats["t"][items]).squeeze(-1))
    torch.testing.assert_close(m_vt.scores(users, items), want)
    # an item without the feature has no feature term
    fm = feats_for(ds, missing_t=[4])
    m = vbpr.VBPR(ds, fm.select("t"))
    assert torch.all(m.item_parts(torch.tensor([4]))[0] == 0)
    # the loss: BPR on the score difference plus reg/2 * squared L2 of the batch's parameters and E f_i
    neg = torch.tensor([6, 7, 8])
    loss, bpr = m_vt.batch_loss(users, items, neg, reg=0.1)
    want_bpr = -torch.nn.functional.logsigmoid(m_vt.scores(users, items) - m_vt.scores(users, neg)).mean()
    torch.testing.assert_close(bpr, want_bpr)
    vp, vn = m_vt.item_parts(items)[0], m_vt.item_parts(neg)[0]
    l2 = sum(t.pow(2).sum() for t in (m_vt.gamma_u[users], m_vt.theta_u[users], m_vt.gamma_i[items],
                                      m_vt.gamma_i[neg], m_vt.beta_i[items], m_vt.beta_i[neg], vp, vn))
    torch.testing.assert_close(loss, want_bpr + 0.1 * l2 / 6)
    g = torch.autograd.grad(loss - bpr, m_vt.E["t"].weight)[0]  # the projection is regularised
    assert g.abs().sum() > 0


# ---------------------------------------------------------------- Eq. 3 probe

@pytest.mark.parametrize("missing", [(), (1, 2, 3, 5, 8)])
def test_gradient_probe_equals_autograd_and_closed_form(missing):
    ds = random_dataset(n_users=30, n_items=20, seed=3)
    m = multimodal.build("freedom", ds, feats_for(ds, missing_t=missing), cfg_for("freedom"))
    users, pos = torch.from_numpy(ds.train[:40, 0]), torch.from_numpy(ds.train[:40, 1])
    neg = torch.randint(ds.n_items, (40,), generator=torch.Generator().manual_seed(1))
    m.batch_loss(users, pos, neg, 1e-4)
    stats = m.pop_epoch_stats()
    assert m.pop_epoch_stats() == {}                              # popped
    ue, ie = m.propagate(m._masked_adj)                           # same graph and parameters
    e_u = ue[users].detach()
    for mod in ("t", "v"):
        w, f = m.proj[mod], m.features(mod).detach()
        ok = m.modality_mask(mod)[pos] & m.modality_mask(mod)[neg]
        e_pos, e_neg = w(f[pos]).detach(), w(f[neg]).detach().requires_grad_(True)
        per = -F.logsigmoid((e_u * (e_pos - e_neg)).sum(-1))
        (g,) = torch.autograd.grad(per[ok].sum(), e_neg)        # per-triple gradients (rows are independent)
        autograd_mean = g.norm(dim=1)[ok].mean()
        x = (e_u * (e_pos - e_neg)).sum(-1).detach()
        closed = (torch.sigmoid(-x) * e_u.norm(dim=1))[ok].mean()  # Eq. 3
        assert stats[f"neg_grad_norm_{mod}"] == pytest.approx(float(autograd_mean), rel=1e-5)
        assert stats[f"neg_grad_norm_{mod}"] == pytest.approx(float(closed), rel=1e-5)
        assert stats[f"used_{mod}"] == pytest.approx(float(ok.float().mean()))
        assert stats[f"score_gap_{mod}"] == pytest.approx(float(x[ok].mean()), rel=1e-5)
    x = (e_u * (ie[pos] - ie[neg])).sum(-1).detach()
    assert stats["neg_grad_norm"] == pytest.approx(float((torch.sigmoid(-x) * e_u.norm(dim=1)).mean()), rel=1e-5)


# ---------------------------------------------------------------- feature files

def test_feature_file_validation(tmp_path):
    ds = random_dataset(n_users=10, n_items=6, per_user=(3, 5))
    good = tmp_path / "good"
    good.mkdir()
    arr = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    arr[2] = 0                                                    # an item without the feature
    np.save(good / "text_feat.npy", arr)
    f = gen_features.load_features(ds, "t", good)
    np.testing.assert_array_equal(f.feats["t"].numpy(), arr)
    assert f.masks["t"].tolist() == [True, True, False, True, True, True]
    assert f.sources["t"].endswith("text_feat.npy")
    with pytest.raises(core_features.MissingModality, match="no visual features.*image_feat.npy"):
        gen_features.load_features(ds, "vt", good)
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "image_feat.npy", np.zeros((5, 4096), dtype=np.float32))
    with pytest.raises(core_features.FeatureError, match=r"image_feat\.npy: shape \(5, 4096\), expected \(6, d\)"):
        gen_features.load_features(ds, "v", bad)
    np.save(bad / "image_feat.npy", np.zeros(6))
    with pytest.raises(core_features.FeatureError, match=r"shape \(6,\), expected \(6, d\)"):
        core_features.read_feature_file(bad / "image_feat.npy", 6)
    nan = np.ones((6, 3))
    nan[4, 1] = np.nan
    np.save(bad / "text_feat.npy", nan)
    with pytest.raises(core_features.FeatureError, match="row 4"):
        core_features.read_feature_file(bad / "text_feat.npy", 6)
    np.save(bad / "obj.npy", np.array([{"a": 1}] * 6, dtype=object))
    with pytest.raises(core_features.FeatureError, match="cannot read"):
        core_features.read_feature_file(bad / "obj.npy", 6)
    with pytest.raises(core_features.FeatureError, match="not found"):
        core_features.read_feature_file(bad / "nope.npy", 6)
    with pytest.raises(core_features.MissingModality, match="no item text"):
        gen_features.load_features(ds, "t")                                  # no text, no file


class FakeEncoder:
    name = "fake"

    def __init__(self):
        self.seen = []

    def encode(self, texts, **kw):
        assert all(t and t.strip() for t in texts), "an empty string was encoded"
        self.seen += list(texts)
        return np.stack([np.array([len(t), t.count(" "), 1.0], dtype=np.float32) for t in texts])


def test_text_features_mmrec_sentence_and_items_without_text(tmp_path):
    ds = random_dataset(n_users=10, n_items=4, per_user=(3, 4))
    ds.side = {"title": ["Soft &amp; blue bib", None, "Bottle", None],
               "description": ["Cotton.", None, None, "Warm hat"]}
    enc = FakeEncoder()
    f, mask = gen_features.text_features(ds, enc, cache_dir=tmp_path)
    assert mask.tolist() == [True, False, True, True]
    assert enc.seen == ["Soft & blue bib Cotton.", "Bottle", "Warm hat"]   # title brand categories description
    assert np.all(f[1] == 0) and f.shape == (4, 3)


# ---------------------------------------------------------------- training

@pytest.mark.parametrize("model", ["freedom", "vbpr"])
def test_smoke_fit_same_seed_same_numbers(model):
    ds = clustered_dataset()
    f = feats_for(ds)
    cfg = cfg_for(model, epochs=6, lr=0.02)
    a = fit(ds, cfg, progress=False, threads=1, model=multimodal.build(model, ds, f, cfg))
    b = fit(ds, cfg, progress=False, threads=1, model=multimodal.build(model, ds, f, cfg))
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test"] == b["test"] and a["variant"] == "V&T"
    base = evaluate_embeddings(torch.randn(ds.n_users, 8), torch.randn(ds.n_items, 8), ds, "test")
    assert a["test"]["recall@20"] > base["recall@20"]
    if model == "freedom":
        h = a["history"][-1]
        assert {"neg_grad_norm", "neg_grad_norm_t", "neg_grad_norm_v", "bpr_t", "bpr_v", "score_gap_t"} <= set(h)
        assert all(np.isfinite(h[k]) and h[k] > 0 for k in ("neg_grad_norm_t", "neg_grad_norm_v"))


def test_freedom_resume_equals_uninterrupted(tmp_path, monkeypatch):
    import neggen_lite.training.trainer as train_mod

    ds = random_dataset(n_users=60, n_items=40, seed=5)
    f = feats_for(ds)
    cfg = cfg_for("freedom", epochs=4)
    want = fit(ds, cfg, progress=False, threads=1, model=multimodal.build("freedom", ds, f, cfg))
    real = train_mod.evaluate
    calls = {"n": 0}

    def crash(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "evaluate", crash)
    with pytest.raises(KeyboardInterrupt):
        fit(ds, cfg, checkpoint=tmp_path / "c.ckpt", progress=False, threads=1, model=multimodal.build("freedom", ds, f, cfg))
    monkeypatch.setattr(train_mod, "evaluate", real)
    got = fit(ds, cfg, checkpoint=tmp_path / "c.ckpt", progress=False, threads=1, model=multimodal.build("freedom", ds, f, cfg))
    assert [h["loss"] for h in got["history"]] == [h["loss"] for h in want["history"]]
    assert got["test"] == want["test"]


def test_smoke_fit_on_baby_subset_with_random_features():
    from neggen_lite.core import data

    ds = data.load("baby").subset(200)
    g = torch.Generator().manual_seed(0)
    f = core_features.ItemFeatures({"t": torch.randn(ds.n_items, 16, generator=g)},
                        {"t": torch.ones(ds.n_items, dtype=torch.bool)})
    for model in multimodal.MODELS:
        cfg = cfg_for(model, epochs=2, batch_size=512)
        r = fit(ds, cfg, progress=False, threads=1, model=multimodal.build(model, ds, f, cfg))
        assert r["epochs"] == 2 and r["variant"] == "T" and np.isfinite(r["history"][-1]["loss"])


# ---------------------------------------------------------------- direct-generation negatives

def write_direct_cache(path, outputs: dict[int, str]):
    recs = [{"item": i, "step": "direct_generation", "status": "ok", "output": o, "attempt": 0}
            for i, o in outputs.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in recs).encode())


def test_missing_direct_cache_names_the_command(tmp_path, monkeypatch):
    from neggen_lite.core import paths

    monkeypatch.setattr(paths, "GENERATIONS_DIR", tmp_path)
    with pytest.raises(core_features.MissingGenerations,
                       match="python -m neggen_lite generate --dataset baby --direct --generator qwen2.5-coder-0.5b"
                             " --dtype bfloat16"):
        gen_features.direct_cache_path("baby")
    with pytest.raises(core_features.MissingGenerations, match="--generator my-model"):
        gen_features.direct_cache_path("baby", "my-model")
    ds = clustered_dataset()
    ds.name = "baby"
    with pytest.raises(core_features.MissingGenerations, match="--direct"):   # before any encoding
        multimodal.train(ds, "freedom", "t", "smoke", negatives="direct", features=feats_for(ds), progress=False)
    write_direct_cache(tmp_path / "baby" / "m.direct.jsonl.gz", {0: "x"})
    assert gen_features.direct_cache_path("baby").name == "m.direct.jsonl.gz"   # the only one: auto picks it
    write_direct_cache(tmp_path / "baby" / "n.direct.jsonl.gz", {0: "y"})
    with pytest.raises(core_features.MissingGenerations, match="several Direct Generation caches"):
        gen_features.direct_cache_path("baby")                                    # two, neither the default: no guess
    llamacpp, default = (f"{n}.direct.jsonl.gz" for n in gen_features.default_direct_cache_names())
    assert default == "qwen2.5-coder-0.5b-instruct-q4_k_m-bf16.direct.jsonl.gz"
    assert llamacpp == "qwen2.5-coder-0.5b-instruct-q4_k_m-llamacpp.direct.jsonl.gz"
    write_direct_cache(tmp_path / "baby" / default, {0: "z"})
    assert gen_features.direct_cache_path("baby").name == default                 # the default generator's wins
    assert gen_features.direct_cache_path("baby", "n").name == "n.direct.jsonl.gz"
    write_direct_cache(tmp_path / "baby" / llamacpp, {0: "w"})
    assert gen_features.direct_cache_path("baby").name == llamacpp                # the same model on llama.cpp first
    from neggen_lite.neggen.train import generation_cache
    assert generation_cache("baby", "direct").name == llamacpp                    # NegGen's direct arm: the same rule


def test_direct_negatives_replace_the_negative_text_feature(tmp_path):
    ds = clustered_dataset(n_users=60, n_items=40)
    ds.side = {"title": [f"item {i}" for i in range(ds.n_items)]}
    cache = tmp_path / "g.direct.jsonl.gz"
    write_direct_cache(cache, {i: f"other thing number {i}" for i in range(0, ds.n_items, 2)})
    rendered = "Title: Soft bib\nCategories: Baby; Feeding\nDescription: a  bib"
    assert gen_features.plain_text(rendered) == "Soft bib Baby Feeding a bib"      # the items' own sentence form
    g, gm, info = gen_features.direct_negative_features(ds, str(cache), FakeEncoder())
    assert info["items_generated"] == 20 and gm.sum() == 20 and np.all(g[1] == 0)
    assert info["cache"] == str(cache)                              # outside the repository: as given
    from neggen_lite.core.paths import REPO_ROOT, repo_relative
    inside = REPO_ROOT / "results" / "generations" / "baby" / "x.direct.jsonl.gz"
    assert repo_relative(inside) == "results/generations/baby/x.direct.jsonl.gz"   # a record names it per checkout
    f = feats_for(ds, dims=(5, 3))
    cfg = cfg_for("freedom")
    m = multimodal.build("freedom", ds, f.select("t"), cfg, generated=(g, gm))
    assert m.sampler_name == "direct"
    users, pos = torch.from_numpy(ds.train[:30, 0]), torch.from_numpy(ds.train[:30, 1])
    neg = torch.randint(ds.n_items, (30,), generator=torch.Generator().manual_seed(0))
    e_u = torch.randn(30, 64)
    _, e_neg, ok, used, _ = m.modality_terms(e_u, pos, neg, "t")
    assert used.tolist() == (pos % 2 == 0).tolist()
    want = torch.where(used.unsqueeze(1), m.proj["t"](torch.from_numpy(g)[pos]), m.proj["t"](m.features("t")[neg]))
    torch.testing.assert_close(e_neg, want)
    r = fit(ds, cfg, progress=False, threads=1, model=m)
    assert 0 < r["history"][-1]["generated_share_t"] < 1


# ---------------------------------------------------------------- CLI and study

def test_cli_errors_and_default_paths(capsys):
    from neggen_lite.cli import main
    from neggen_lite.core.paths import result_path as default_out

    assert main(["train", "--dataset", "clothing", "--model", "freedom", "--mode", "smoke"]) == 2
    assert "no item text" in capsys.readouterr().err
    assert main(["train", "--dataset", "baby", "--model", "vbpr", "--modalities", "v", "--mode", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "no visual features" in err and "--features-dir" in err
    assert default_out("baby", "freedom", "uniform", 2025, "full", multimodal.result_suffix("t")).name == \
        "freedom-uniform-t-seed2025.json"
    assert default_out("baby", "freedom", "uniform", 2025, "full", multimodal.result_suffix("tv")).name == \
        "freedom-uniform-seed2025.json"
    assert core_features.normalize_modalities("t,v") == ("v", "t")
    with pytest.raises(ValueError):
        core_features.normalize_modalities("x")


def test_synthetic_two_modality_is_labelled():
    ds, f = study.synthetic_two_modality(n_users=40, n_items=32, n_clusters=4, per_user=6)
    assert ds.name.startswith("synthetic") and all("SYNTHETIC" in s for s in f.sources.values())
    assert f.modalities == ("v", "t") and f.n_items == ds.n_items


def test_direct_hardness_measures_closeness_to_the_positive(tmp_path):
    ds = clustered_dataset(n_users=60, n_items=40)
    ds.side = {"title": [f"item number {i}" + " x" * i for i in range(ds.n_items)]}
    enc = FakeEncoder()
    from neggen_lite.core.attributes import item_attributes

    own = enc.encode([gen_features.mmrec_sentence(a) for a in item_attributes(ds)])
    f = core_features.ItemFeatures({"t": torch.from_numpy(own)}, {"t": torch.ones(ds.n_items, dtype=torch.bool)}, {"t": "fake"})
    cache = tmp_path / "h.direct.jsonl.gz"
    # even items: the "negative" copies the positive exactly; odd items: none generated
    write_direct_cache(cache, {i: f"Title: item number {i}" + " x" * i for i in range(0, ds.n_items, 2)})
    h = gen_features.direct_hardness(ds, str(cache), enc, features=f)
    assert h["items"] == 20 and h["model_written"]["items"] == 20
    assert h["cos_original_generated"] == pytest.approx(1.0, abs=1e-6)       # a copy is as close as it gets
    assert h["cos_original_random_item"] < 0.999
    write_direct_cache(cache, {i: f"Title: {'y ' * 30}z" for i in range(0, ds.n_items, 2)})
    far = gen_features.direct_hardness(ds, str(cache), enc, features=f)
    assert far["cos_original_generated"] < h["cos_original_generated"]
    assert h["model_written"]["same_fields_share"] == 1.0 and h["model_written"]["under_3_words_share"] == 0.0
    assert h["model_written"]["copies_share"] == 1.0                         # every "negative" was a copy
    write_direct_cache(cache, {i: ("None" if i % 4 else "Title: a red thing") for i in range(0, ds.n_items, 2)})
    bad = gen_features.direct_hardness(ds, str(cache), enc, features=f)["model_written"]
    assert bad["same_fields_share"] == 0.5 and bad["under_3_words_share"] == 0.5 and bad["copies_share"] == 0.0
    assert bad["refusals_share"] == 0.5 and h["model_written"]["refusals_share"] == 0.0     # "None" names no item
    refusals = ["No negative attributes.", "n/a", "NONE", "Nothing", "no negative items"]
    assert all(gen_features._REFUSAL.match(gen_features._norm(x)) for x in refusals)
    assert not any(gen_features._REFUSAL.match(gen_features._norm(x)) for x in ("None of the above, a blue bib", "Nonslip mat", "no"))
    assert gen_features.field_labels("Title: a\nBrand: b\nnot a label: c") == ["title", "brand"]
