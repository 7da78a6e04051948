"""NegGen's objectives (neggen_lite.objectives, causal.NegGen.joint_loss) and the nearest-to-generated sampler."""
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from neggen_lite.core import paths
from neggen_lite.core.features import ItemFeatures
from neggen_lite.models.lightgcn import build_model
from neggen_lite.neggen import causal
from neggen_lite.neggen import train as neggen
from neggen_lite.neggen.objectives import NearestToGeneratedSampler, counterfactual_loss, sampler_audit, scores
from neggen_lite.training.trainer import config_for_mode, fit


def _features(n_items, d=8, seed=0, with_text=None):
    g = torch.Generator().manual_seed(seed)
    orig, neg = torch.randn(n_items, d, generator=g), torch.randn(n_items, d, generator=g)
    has = torch.ones(n_items, dtype=torch.bool) if with_text is None else with_text
    orig[~has], neg[~has] = 0, 0
    return ItemFeatures({"t": orig}, {"t": has}, {"t": "test"}, {"t": neg}, {"rule": int(has.sum())})


def _neggen(toy, objective, **kw):
    torch.manual_seed(0)
    base = build_model("lightgcn", toy, "cpu", 16, 2)
    return causal.NegGen(base, _features(toy.n_items), causal.NegGenConfig(objective=objective, **kw), seed=0)


def test_objective_is_validated_and_joint_trains_the_base():
    with pytest.raises(ValueError, match="objective"):
        causal.NegGenConfig(objective="nope")
    assert causal.NegGenConfig(objective="joint").base == "finetune"
    assert causal.NegGenConfig().base == "frozen" and causal.NegGenConfig().objective == "printed"


def test_joint_loss_equals_hand_computation(toy):
    m = _neggen(toy, "joint", lam=0.5, alpha=0.1, tau=0.2)
    users, pos, neg = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8])
    total, rank = m.batch_loss(users, pos, neg, reg=0.0)
    ue, ie = m.base()
    ec_p, ecs_p = m.causal_embeddings(pos)
    ec_n, _ = m.causal_embeddings(neg)
    e_u = ue[users]
    y_p = (e_u * ie[pos]).sum(-1) + 0.5 * (e_u * ec_p).sum(-1)
    y_n = (e_u * ie[neg]).sum(-1) + 0.5 * (e_u * ec_n).sum(-1)
    hand_rank = -torch.log(torch.sigmoid(y_p - y_n)).mean()
    a, b = (ec_p * ie[pos]).sum(-1) / 0.2, (ecs_p * ie[pos]).sum(-1) / 0.2
    hand_align = -torch.log(torch.exp(a) / (torch.exp(a) + torch.exp(b))).mean()
    assert torch.allclose(rank, hand_rank, atol=1e-5)
    assert torch.allclose(total, hand_rank + 0.1 * hand_align, atol=1e-5)
    # the base's rows come from LightGCN.batch_rows (the batch's rows only): the same gradients as the full forward
    params = [m.base.user_emb, m.base.item_emb, m.module.w_v.weight]
    want = torch.autograd.grad(hand_rank + 0.1 * hand_align, params)
    got = torch.autograd.grad(m.batch_loss(users, pos, neg, reg=0.0)[0], params)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_repaired_adds_the_counterfactual_contrast_and_its_gradient_reaches_the_module(toy):
    m = _neggen(toy, "repaired", lam=0.5, alpha=0.0, beta=2.0)
    torch.nn.init.normal_(m.module.proj[-1].weight, std=0.1)  # as after some training (it starts at zero)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([3, 4]), torch.tensor([6, 7])
    total, rank = m.batch_loss(users, pos, neg, reg=0.0)
    ue, _ = m.base()
    h = lambda x: m.module.proj(m.module.attend(x))  # noqa: E731
    extra = -torch.log(torch.sigmoid(0.5 * (ue[users] * (h(m.orig[pos]) - h(m.neg[pos]))).sum(-1))).mean()
    assert torch.allclose(total - rank, 2.0 * extra, atol=1e-5)
    total.backward()
    assert m.module.w_v.weight.grad.abs().sum() > 0
    assert m.base.user_emb.grad is not None  # the base is trained too


def test_scores_and_counterfactual_loss_shapes():
    e_u, e_k, e_c = torch.ones(4, 3), torch.zeros(4, 3), torch.ones(4, 3)
    assert torch.allclose(scores(e_u, e_k, e_c, 0.5), torch.full((4,), 1.5))
    assert counterfactual_loss(e_u, e_c, e_c, 1.0).item() == pytest.approx(np.log(2))


def test_wo_neg_pairs_each_item_with_one_fixed_other_item_in_training_and_inference(toy):
    m = _neggen(toy, "printed", variant="w/o NEG")
    items = torch.arange(toy.n_items)
    _, star = m.token_pair(items)
    assert torch.equal(star, m.orig[m.other[items]]) and bool((m.other != items).all())
    assert torch.equal(m.token_pair(items)[1], star)


def test_joint_neggen_learns_on_a_toy_dataset(toy):
    cfg = config_for_mode("smoke", model="lightgcn", epochs=30, batch_size=64, dim=16, seed=1)
    m = _neggen(toy, "joint")
    res = fit(toy, cfg, device="cpu", progress=False, model=m)
    assert res["history"][-1]["loss"] < res["history"][0]["loss"]


def _csr(pairs, n_users, n_items):
    r, c = zip(*pairs)
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_users, n_items))


def test_nearest_sampler_picks_the_item_nearest_to_the_generated_negative_not_a_positive():
    n = 6
    orig = torch.eye(n)
    negt = torch.zeros(n, n)
    negt[0, 2], negt[0, 3] = 1.0, 0.9      # item 0's negative is nearest to item 2, then 3
    negt[1, 1] = 1.0                       # item 1's negative is itself: never returned
    negt[1, 4] = 0.5
    has = torch.tensor([True, True, True, True, True, False])
    train = _csr([(0, 0), (0, 2), (1, 0), (1, 1)], 2, n)
    s = NearestToGeneratedSampler(train, orig, negt, has, seed=0, k=3)
    out = s.sample(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]))
    assert out.tolist() == [3, 2, 4]       # user 0 has item 2 -> next nearest 3; item 5 has no text
    assert s.fallback_share == 0.0
    no_text = torch.zeros(n, dtype=torch.bool)
    s2 = NearestToGeneratedSampler(train, orig, negt, no_text, seed=0, k=3)
    out2 = s2.sample(torch.tensor([0, 0]), torch.tensor([0, 2]))
    assert s2.fallback_share == 1.0 and not any(int(i) in (0, 2) for i in out2)


def test_sampler_picks_fresh_among_the_nearest_or_fixed_among_random_items():
    n = 40
    gen = torch.Generator().manual_seed(0)
    orig, negt = torch.randn(n, 8, generator=gen), torch.randn(n, 8, generator=gen)
    has = torch.ones(n, dtype=torch.bool)
    has[-4:] = False                                   # four items without text: never a candidate
    train = _csr([(0, 0), (0, 1), (1, 2)], 2, n)
    users, pos = torch.tensor([0, 0, 1] * 50), torch.tensor([0, 1, 2] * 50)
    near = NearestToGeneratedSampler(train, orig, negt, has, seed=0, k=5)
    fresh = NearestToGeneratedSampler(train, orig, negt, has, seed=0, k=5, pick="nearest-fresh")
    assert torch.equal(near.table, fresh.table)        # same candidates, picked differently
    a, b = fresh.sample(users, pos), fresh.sample(users, pos)
    for out in (a, b):                                 # each pick one of the pair's 5 nearest, never the user's
        for u, i, j in zip(users.tolist(), pos.tolist(), out.tolist()):
            assert j in near.table[i].tolist() and j not in train[u].indices
    assert not torch.equal(a, b)                       # afresh at every use ...
    assert len(set(a[0::3].tolist())) > 1              # ... and not always the nearest
    assert torch.equal(near.sample(users, pos), near.sample(users, pos))   # nearest: fixed
    rand = NearestToGeneratedSampler(train, orig, negt, has, seed=7, k=5, pick="random-fixed")
    again = NearestToGeneratedSampler(train, orig, negt, has, seed=7, k=5, pick="random-fixed")
    assert torch.equal(rand.table, again.table)        # seeded
    with_text = set(range(n - 4))
    for i in range(n - 4):
        row = rand.table[i].tolist()
        assert len(set(row)) == 5 and i not in row and set(row) <= with_text
    assert (rand.table[n - 4:] == -1).all()
    assert not torch.equal(rand.table[: n - 4], near.table[: n - 4])
    assert torch.equal(rand.sample(users, pos), rand.sample(users, pos))   # fixed, like nearest
    with pytest.raises(ValueError, match="pick must be one of"):
        NearestToGeneratedSampler(train, orig, negt, has, pick="farthest")


def test_sampler_audit_counts_held_out_negatives_and_cosines_as_a_brute_force_count():
    from conftest import clustered_dataset

    ds = clustered_dataset(n_users=40, n_items=24, per_user=6, seed=3)
    feats = _features(ds.n_items, seed=5)                      # every item has text; k covers every other item,
    orig, negt, has = feats.feats["t"], feats.negatives["t"], feats.masks["t"]   # so no pair falls back
    rep = sampler_audit(NearestToGeneratedSampler(ds.train_csr, orig, negt, has, seed=1, k=ds.n_items), ds, orig, has,
                        chunk=50)
    # brute force, pair by pair: the nearest item to e_m*(i) by cosine that is not i and not one of u's items
    unit, unit_neg = torch.nn.functional.normalize(orig, dim=-1), torch.nn.functional.normalize(negt, dim=-1)
    held, test = (ds.valid_csr + ds.test_csr).tolil().rows, ds.test_csr.tolil().rows
    train = ds.train_csr.tocoo()
    hits = test_hits = 0
    cos, used, pushed = [], set(), set()
    for u, i in zip(train.row.tolist(), train.col.tolist()):
        sim = unit @ unit_neg[i]
        sim[i] = -2
        sim[ds.train_csr[u].indices] = -2
        j = int(sim.argmax())
        hits, test_hits = hits + (j in held[u]), test_hits + (j in test[u])
        cos.append(float(unit[i] @ unit[j]))
        used.add(j)
        if j in test[u]:
            pushed.add((u, j))
    n = ds.train_csr.nnz
    assert rep["pairs"] == n and rep["fallback_share"] == 0.0
    assert rep["nearest"]["heldout_share"] == pytest.approx(hits / n) and hits > 0
    assert rep["nearest"]["test_share"] == pytest.approx(test_hits / n)
    assert rep["nearest"]["cos_to_positive"] == pytest.approx(np.mean(cos), abs=1e-5)
    assert rep["nearest"]["distinct_negatives"] == len(used)
    users = [u for u in range(ds.n_users) if len(test[u])]
    bound = np.mean([sum((u, j) in pushed for j in test[u]) / len(test[u]) for u in users])
    assert rep["nearest"]["test_recall_bound"] == pytest.approx(bound) and bound > 0
    # uniform: the exact expectation |H_u| / (n_items - |I_u|) per pair
    deg = ds.train_csr.getnnz(axis=1)
    expected = sum(d * h / (ds.n_items - d) for d, h in zip(deg, (ds.valid_csr + ds.test_csr).getnnz(axis=1)))
    assert rep["uniform"]["heldout_share"] == pytest.approx(expected / n)
    assert 0 <= rep["uniform"]["heldout_share_drawn"] <= 1


@pytest.mark.parametrize("objective", ["joint", "repaired", "sampler"])
def test_each_objective_runs_end_to_end_and_is_deterministic(objective, tmp_path, monkeypatch):
    from conftest import clustered_dataset
    from test_causal import features_for

    monkeypatch.setattr(paths, "BASE_CACHE", tmp_path)
    ds = clustered_dataset()
    kw = dict(features=features_for(ds), progress=False, threads=1, dim=8, n_layers=2, batch_size=128, epochs=3,
              neggen=causal.NegGenConfig(objective=objective))
    a = neggen.train(ds, "smoke", **kw)
    b = neggen.train(ds, "smoke", **kw)
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert a["test"] == b["test"] and a["model"] == "neggen" and a["negatives"]["rule"] > 0
    assert a["model_kwargs"]["objective"] == objective
    assert a["significance"]["test"]["recall@20"]["n_users"] == ds.n_users
    if objective == "sampler":
        assert a["sampler"] == "nearest-generated"


@pytest.mark.parametrize("generator, objective, arm", [("auto", "joint", "generated"), ("direct", "repaired", "direct"),
                                                       ("rule", "sampler", "rule")])
def test_objective_runs_have_their_own_files_and_map_back(generator, objective, arm):
    from dataclasses import asdict

    from neggen_lite.experiments import runs

    spec = runs.RunSpec("baby", "neggen", seed=2025, settings=(("objective", objective),), generator=generator)
    p = runs.path(spec)
    assert p.name == f"neggen-{arm}-full-objective_{objective}-seed2025.json"
    cfg = causal.NegGenConfig(objective=objective)
    rec = {"dataset": "baby", "model": "neggen", "seed": 2025, "variant": "full", "config": {},
           "model_kwargs": {**asdict(cfg), "generator": generator, "encoder": "x"}}
    assert runs.path(runs.spec_of(rec)) == p
    wo_neg = runs.RunSpec("baby", "neggen", seed=2025, variant="w/o NEG", settings=(("objective", "joint"),))
    assert runs.path(wo_neg).name == "neggen-uniform-wo-NEG-objective_joint-seed2025.json"


def test_the_negatives_experiment_plan_and_its_command_lines(tmp_path, capsys):
    from neggen_lite import cli
    from neggen_lite.experiments import neggen_arms, runs

    specs = neggen_arms.plan("baby")
    assert len(specs) == 5 * (4 + 4 + 3)  # 5 seeds; joint and repaired 4 arms, sampler 3
    assert len({runs.path(s) for s in specs}) == len(specs)  # every run has its own file
    line = runs.command_line(runs.RunSpec("baby", "neggen", seed=2026, generator="direct",
                                          settings=(("objective", "repaired"),)))
    assert "--objective repaired" in line and "--generator direct" in line and "--seed 2026" in line
    joint = neggen_arms.plan("beauty", objectives=("joint",))
    assert len(joint) == 3 * 4  # Beauty: 3 seeds x 4 arms
    todo = runs.missing(joint)  # the committed ones are left out
    assert cli.main(["plan", "--dataset", "beauty", "--objectives", "joint", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines() if todo else []
    assert len(lines) == len(todo) and f"{len(todo)} runs missing" in err


def test_joint_starts_from_the_base_ranking(toy):
    m = _neggen(toy, "joint")
    ue, ie = m()
    bu, bi = m.base()
    assert torch.equal(ie, bi) and torch.equal(ue, bu)  # e_c = 0 at the start: the base's scores exactly
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([3, 4]), torch.tensor([6, 7])
    m.batch_loss(users, pos, neg, reg=0.0)[0].backward()
    assert m.module.proj[-1].weight.grad.abs().sum() > 0  # and it can move away from it


def test_pick_is_a_sampler_setting_that_names_the_run():
    from neggen_lite.core.safety import SettingsError
    from neggen_lite.experiments import runs
    from neggen_lite.neggen.causal import NegGenConfig

    with pytest.raises(SettingsError, match="--pick random-fixed: used only by --objective sampler"):
        NegGenConfig(objective="joint", pick="random-fixed")
    with pytest.raises(SettingsError, match="--pick 'farthest'"):
        NegGenConfig(objective="sampler", pick="farthest")
    spec = runs.RunSpec("baby", "neggen", seed=2025,
                        settings=(("objective", "sampler"), ("pick", "random-fixed")))
    assert runs.path(spec).name == "neggen-generated-full-objective_sampler-pick_random-fixed-seed2025.json"
    assert runs.command(spec)[-4:] == ["--objective", "sampler", "--pick", "random-fixed"]
