"""Seconds per training epoch and per full evaluation of the multi-modal baselines (MMGCN, BM3, DRAGON, LGMRec,
DiffMM; issue 21): ``neggen_lite`` vs each model's public reference code, in the same process and run.

The reference is MMRec's ``src/models/<name>.py`` from a checkout the user gives (``--mmrec PATH``, e.g. a clone
of ``enoche/MMRec``; never vendored here). Its model class is built on a minimal stand-in for MMRec's config
and data loader (the model's published settings, the same item features written as MMRec's
``text_feat.npy``/``image_feat.npy`` in a temporary data folder) and trained by a loop like MMRec's
``_train_epoch``: per epoch ``pre_epoch_processing()``, a shuffle, uniform negatives outside the user's
training items, per batch ``calculate_loss`` / backward / Adam; evaluation ranks every item for the
validation users with ``full_sort_predict`` (training items masked). DRAGON's user graph file is written
from the training split (its own preprocessing script is quadratic in Python). Two compatibility shims
are installed for old MMRec code on this stack, changing no number: SciPy's removed ``dok_matrix._update``
(a dict update), which BM3's and LGMRec's adjacency builders call, and DRAGON's output buffer ``result_embed``
unregistered as a parameter (:func:`cpu_shim`). A reference that cannot run here is
reported with its reason: MMGCN and DRAGON need ``torch_geometric``; MMRec's LGMRec fails with one modality
(its forward returns hypergraph outputs it only computes with two).

DiffMM is not in MMRec: its reference is the authors' repository (``--diffmm PATH``, a checkout of
``HKUDS/DiffMM``), run by its own trainer: the split and features are written as its ``Datasets/baby/``
files (``trnMat.pkl``; ``tstMat.pkl`` holds the *validation* split), ``Params.py`` gets our published settings
as its command line, and each timed epoch is its ``Coach.trainEpoch`` (negative sampling, denoiser training,
graph rebuild, recommender batches); the evaluation scores with its ``forward_MM`` and ranks like the others.
It needs both modalities (its model takes image and text features) and hard-codes ``.cuda()``: for the
benchmark only, ``Tensor.cuda`` and ``Module.cuda`` return their object unchanged, SciPy's removed
``spmatrix.A`` is ``toarray()``, and its unused ``setproctitle`` import is stubbed (:func:`diffmm_shims`). No
equivalence check (its data loader and trainer are not separable from its model).

With ``--mmrec``, an equivalence check first copies our parameters into MMRec's class on a subset of users
with random visual and textual features and reports the largest score difference and one batch's loss on
both sides (random parts switched off alike: :func:`equivalence`); measured here, all four MMRec models
agree to float32 rounding (MMGCN and DRAGON with a stand-in for the few ``torch_geometric`` calls).

Ours: :func:`neggen_lite.experiments.multimodal.build` and the common trainer with the same published
settings. Both sides use the same number of torch threads (default 1) and seed. Reported per model: mean
seconds per epoch (the first left out as warm-up when ``--epochs`` > 2), seconds of one full validation
evaluation after the last epoch, the ratios reference / ours, validation Recall@20 / NDCG@20 of both after
the last epoch, and each side's CPU share. Numbers go to ``benchmarks/results/bench_mm_models.json``.

    .venv/bin/python benchmarks/bench_mm_models.py --mmrec ~/src/MMRec            # baby, text, 3 epochs
    .venv/bin/python benchmarks/bench_mm_models.py --models bm3 lgmrec --epochs 2  # ours only (no --mmrec)
    .venv/bin/python benchmarks/bench_mm_models.py --models diffmm --modalities vt --random-visual 4096 \
        --diffmm ~/src/DiffMM --update                                             # V&T without image files
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import pickle
import platform
import sys
import tempfile
import time
import types
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from neggen_lite.core import data
from neggen_lite.core.features import FEATURE_FILES, ItemFeatures
from neggen_lite.core.paths import benchmark_path
from neggen_lite.core.runtime import git_commit, seed_everything
from neggen_lite.experiments import multimodal
from neggen_lite.generation.features import load_features
from neggen_lite.models.dragon import user_cooccurrence_graph
from neggen_lite.training import trainer as train
from reference import clock, evaluate_topk, ratios, run_timed, sample_negatives, since, summarise

RESULTS = benchmark_path("bench_mm_models")
MODELS = ("mmgcn", "bm3", "dragon", "lgmrec", "diffmm")
#: MMRec module and class of each model (DiffMM is not in MMRec)
REFERENCE = {"mmgcn": ("models.mmgcn", "MMGCN"), "bm3": ("models.bm3", "BM3"), "dragon": ("models.dragon", "DRAGON"),
             "lgmrec": ("models.lgmrec", "LGMRec")}


# ---------------------------------------------------------------------------------------------
# the reference: MMRec's model class on a minimal config / loader


class RefLoader:
    """What MMRec's models read from their data loader: ``dataset.get_user_num/get_item_num`` and
    ``inter_matrix(form='coo')``."""

    def __init__(self, ds):
        self.ds, self.dataset = ds, self

    def get_user_num(self):
        return self.ds.n_users

    def get_item_num(self):
        return self.ds.n_items

    def inter_matrix(self, form="coo"):
        m = sp.coo_matrix(self.ds.train_csr, dtype=np.float32)
        return m if form == "coo" else m.asformat(form)


def ref_config(name, ds, settings, trainer_cfg, folder: Path) -> dict:
    """MMRec's config for ``name`` with our published ``settings`` (the grids' chosen values)."""
    s = asdict(settings)
    cfg = {"USER_ID_FIELD": "userID", "ITEM_ID_FIELD": "itemID", "NEG_PREFIX": "neg_", "device": torch.device("cpu"),
           "train_batch_size": trainer_cfg.batch_size, "end2end": False, "is_multimodal_model": True,
           "data_path": str(folder) + "/", "dataset": ds.name, "vision_feature_file": FEATURE_FILES["v"],
           "text_feature_file": FEATURE_FILES["t"], "embedding_size": trainer_cfg.dim,
           "feat_embed_dim": trainer_cfg.dim,
           "learning_rate": trainer_cfg.lr, "reg_weight": trainer_cfg.reg, "n_layers": trainer_cfg.n_layers}
    if name == "bm3":
        cfg.update(dropout=s["dropout"], cl_weight=s["cl_weight"])
    elif name == "dragon":
        cfg.update(n_mm_layers=s["n_mm_layers"], knn_k=s["knn_k"], mm_image_weight=s["mm_image_weight"],
                   aggr_mode="add", user_graph_dict_file="user_graph_dict.npy")
    elif name == "lgmrec":
        cfg.update(cf_model="lightgcn", n_ui_layers=trainer_cfg.n_layers, n_mm_layers=s["n_mm_layers"],
                   n_hyper_layer=s["n_hyper_layer"], hyper_num=s["hyper_num"], keep_rate=s["keep_rate"],
                   alpha=s["alpha"], cl_weight=s["cl_weight"])
    return cfg


def feature_array(features, m: str) -> np.ndarray:
    """Modality ``m``'s item features as a reference reads them: float32, zero rows where an item has none."""
    return (features.feats[m].float() * features.masks[m].unsqueeze(1)).numpy()


def write_reference_data(ds, features, folder: Path) -> None:
    """The features as MMRec's files, and DRAGON's user graph dict (``{u: [neighbours, counts]}``, top 200)."""
    d = folder / ds.name
    d.mkdir(parents=True, exist_ok=True)
    for m in features.modalities:
        np.save(d / FEATURE_FILES[m], feature_array(features, m))
    r = sp.csr_matrix(ds.train_csr, dtype=np.float32)
    r.data[:] = 1
    counts = (r @ r.T).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    graph = user_cooccurrence_graph(ds.train_csr, 200)  # the same neighbours; the counts come from `counts`
    out = {}
    for u in range(ds.n_users):
        nb = graph.indices[graph.indptr[u]:graph.indptr[u + 1]]
        c = np.asarray(counts[u, nb].todense()).ravel() if len(nb) else np.zeros(0)
        order = np.argsort(-c, kind="stable")
        out[u] = [nb[order].tolist(), c[order].tolist()]
    np.save(d / "user_graph_dict.npy", out, allow_pickle=True)


def install_shims() -> None:
    """SciPy >= 1.12 dropped ``dok_matrix._update``, which MMRec's adjacency builders call."""
    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = lambda self, d: self._dict.update(d)


def cpu_shim(model) -> None:
    """MMRec's DRAGON registers ``result_embed`` as a parameter when ``.to(device)`` returns the same tensor (on
    the CPU) and then cannot assign its forward output to it; it is an output buffer, never trained."""
    model._parameters.pop("result_embed", None)


@torch.no_grad()
def ref_evaluate(model, ds, k=20, batch_size=4096):
    """Validation Recall@k / NDCG@k from ``full_sort_predict`` (training items masked)."""
    return evaluate_topk(lambda b: model.full_sort_predict([torch.from_numpy(b)]).reshape(len(b), -1).clone(),
                         ds.train_csr, ds.valid_csr, ds.n_items, k, batch_size)


def run_reference(name, ds, features, settings, cfg, mmrec: Path, epochs: int):
    """``epochs`` epochs of MMRec's ``name`` and one validation evaluation after the last; the history."""
    install_shims()
    if str(mmrec / "src") not in sys.path:
        sys.path.insert(0, str(mmrec / "src"))
    module, cls = REFERENCE[name]
    model_cls = getattr(importlib.import_module(module), cls)
    with tempfile.TemporaryDirectory() as tmp:
        write_reference_data(ds, features, Path(tmp))
        seed_everything(cfg.seed)
        model = model_cls(ref_config(name, ds, settings, cfg, Path(tmp)), RefLoader(ds))
    cpu_shim(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    user_sets = [set() for _ in range(ds.n_users)]
    for u, i in ds.train.tolist():
        user_sets[u].add(i)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = clock()
        model.train()
        model.pre_epoch_processing()
        perm = rng.permutation(len(ds.train))
        users, pos = ds.train[perm, 0], ds.train[perm, 1]
        neg = sample_negatives(users, user_sets, ds.n_items, rng)
        total = 0.0
        for s in range(0, len(users), cfg.batch_size):
            inter = torch.from_numpy(np.stack([users[s:s + cfg.batch_size], pos[s:s + cfg.batch_size],
                                               neg[s:s + cfg.batch_size]]).astype(np.int64))
            loss = model.calculate_loss(inter)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * inter.shape[1]
        rec = {"epoch": epoch, "loss": total / len(users)}
        rec["seconds"], rec["cpu_seconds"] = since(t0)
        if epoch == epochs:
            model.eval()
            t1 = clock()
            rec["valid"] = ref_evaluate(model, ds)
            rec["eval_seconds"], rec["eval_cpu_seconds"] = since(t1)
        history.append(rec)
    return history


@contextlib.contextmanager
def diffmm_shims():
    """CPU shims for the DiffMM reference, undone on exit: ``.cuda()`` is the identity, ``spmatrix.A`` is
    ``toarray()`` (removed in SciPy 1.14), ``setproctitle`` (imported, unused) a stub module."""
    saved = torch.Tensor.cuda, torch.nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    had_a = hasattr(sp.spmatrix, "A")
    if not had_a:
        sp.spmatrix.A = property(lambda self: self.toarray())
    sys.modules.setdefault("setproctitle", types.ModuleType("setproctitle"))
    try:
        yield
    finally:
        torch.Tensor.cuda, torch.nn.Module.cuda = saved
        if not had_a:
            del sp.spmatrix.A


def diffmm_argv(settings, cfg) -> list[str]:
    """``Params.py``'s command line for our published DiffMM ``settings`` and trainer ``cfg``."""
    s = asdict(settings)
    flags = {"lr": cfg.lr, "batch": cfg.batch_size, "reg": cfg.reg, "latdim": cfg.dim, "gnn_layer": cfg.n_layers,
             "data": "baby", "seed": cfg.seed, "keepRate": s["keep_rate"], "dims": str(list(s["dims"])).replace(" ", ""),
             **{k: s[k] for k in ("ssl_reg", "temp", "d_emb_size", "steps", "noise_scale", "noise_min", "noise_max",
                                  "rebuild_k", "e_loss", "ris_lambda", "ris_adj_lambda", "trans", "cl_method")}}
    return ["Main.py"] + [x for k, v in flags.items() for x in (f"--{k}", str(v))]


def run_reference_diffmm(ds, features, settings, cfg, repo: Path, epochs: int):
    """``epochs`` epochs of the authors' DiffMM trainer (``Coach.trainEpoch``) and one validation evaluation
    after the last; the history (module docstring)."""
    if set(features.modalities) != {"v", "t"}:
        raise ValueError("the DiffMM reference takes image and text features: run with --modalities vt")
    with tempfile.TemporaryDirectory() as tmp, diffmm_shims(), contextlib.redirect_stdout(io.StringIO()):
        folder = Path(tmp) / "Datasets" / "baby"
        folder.mkdir(parents=True)
        for name, m in (("trnMat.pkl", ds.train_csr), ("tstMat.pkl", ds.valid_csr)):
            with open(folder / name, "wb") as f:
                pickle.dump(sp.coo_matrix(m, dtype=np.float32), f)
        for m, name in (("v", "image_feat.npy"), ("t", "text_feat.npy")):
            np.save(folder / name, feature_array(features, m))
        cwd, argv = os.getcwd(), sys.argv
        sys.argv = diffmm_argv(settings, cfg)
        sys.path.insert(0, str(repo))
        try:
            os.chdir(tmp)
            main = importlib.import_module("Main")
            handler = main.DataHandler()
            handler.LoadData()
            seed_everything(cfg.seed)
            np.random.seed(cfg.seed)
            coach = main.Coach(handler)
            coach.prepareModel()
            history = []
            for epoch in range(1, epochs + 1):
                t0 = clock()
                coach.model.train()
                out = coach.trainEpoch()
                rec = {"epoch": epoch, "loss": float(out["Loss"])}
                rec["seconds"], rec["cpu_seconds"] = since(t0)
                if epoch == epochs:
                    coach.model.eval()
                    t1 = clock()
                    with torch.no_grad():
                        u, i = coach.model.forward_MM(handler.torchBiAdj, coach.image_UI_matrix, coach.text_UI_matrix)
                        rec["valid"] = evaluate_topk(lambda b: u[torch.from_numpy(b)] @ i.T, ds.train_csr,
                                                     ds.valid_csr, ds.n_items)
                    rec["eval_seconds"], rec["eval_cpu_seconds"] = since(t1)
                history.append(rec)
        finally:
            os.chdir(cwd)
            sys.argv = argv
            sys.path.remove(str(repo))
    return history


# ---------------------------------------------------------------------------------------------
# equivalence: our model and the reference class on the same parameters


def copy_params(name, ours, ref) -> None:
    """Copy our parameters into the reference model (its names, ``{v,t}`` as MMRec's ``image``/``text``)."""
    long = {"v": "image", "t": "text"}
    with torch.no_grad():
        if name == "bm3":
            ref.user_embedding.weight.copy_(ours.user_emb)
            ref.item_id_embedding.weight.copy_(ours.item_emb)
            ref.predictor.load_state_dict(ours.predictor.state_dict())
            for m in ours.modalities:
                getattr(ref, f"{long[m]}_embedding").weight.copy_(ours.feat[m])
                getattr(ref, f"{long[m]}_trs").load_state_dict(ours.proj[m].state_dict())
        elif name == "lgmrec":
            ref.user_embedding.weight.copy_(ours.user_emb)
            ref.item_id_embedding.weight.copy_(ours.item_emb)
            for m in ours.modalities:
                getattr(ref, f"item_{long[m]}_trs").copy_(ours.trs[m])
                getattr(ref, f"{m}_hyper").copy_(ours.hyper[m])
        elif name == "mmgcn":
            ref.id_embedding = torch.cat([ours.user_emb, ours.item_emb]).detach().clone()
            for m in ours.modalities:
                og, rg = ours.gcn[m], getattr(ref, f"{m}_gcn")
                rg.preference = og.preference.detach().clone()
                if og.mlp is not None:
                    rg.MLP.load_state_dict(og.mlp.state_dict())
                for k in range(len(og.conv)):
                    getattr(rg, f"conv_embed_{k + 1}").weight.copy_(og.conv[k])
                    getattr(rg, f"linear_layer{k + 1}").load_state_dict(og.lin[k].state_dict())
                    getattr(rg, f"g_layer{k + 1}").load_state_dict(og.gate[k].state_dict())
        elif name == "dragon":
            for m in ours.modalities:
                rg = getattr(ref, f"{m}_gcn")
                rg.preference.copy_(ours.preference[m])
                rg.MLP.load_state_dict(ours.mlp[m][0].state_dict())
                rg.MLP_1.load_state_dict(ours.mlp[m][2].state_dict())
            if ours.weight_u is not None:
                ref.weight_u.copy_(ours.weight_u.unsqueeze(2))


def equivalence(name, ds, features, settings, cfg, mmrec: Path) -> dict:
    """Max |difference| of all scores and of one batch's loss between our ``name`` and MMRec's class holding the
    same parameters, with their random parts switched off alike: BM3's dropout 0; LGMRec's keep rate 1 and
    Gumbel noise replaced by ``softmax(x / tau)`` on both sides; DRAGON with one co-occurring user per user
    (MMRec pads users with fewer than ``k`` neighbours at random). DRAGON's forward needs a batch first."""
    install_shims()
    if str(mmrec / "src") not in sys.path:
        sys.path.insert(0, str(mmrec / "src"))
    module, cls = REFERENCE[name]
    model_cls = getattr(importlib.import_module(module), cls)
    settings = replace(settings, **{"bm3": {"dropout": 0.0}, "lgmrec": {"keep_rate": 1.0},
                                    "dragon": {"user_k": 1}}.get(name, {}))
    ours = multimodal.build(name, ds, features, cfg, settings=settings, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        write_reference_data(ds, features, Path(tmp))
        ref = model_cls(ref_config(name, ds, settings, cfg, Path(tmp)), RefLoader(ds))
    cpu_shim(ref)
    copy_params(name, ours, ref)
    if name == "dragon":
        ref.k = 1
        ref.pre_epoch_processing()
    rng = np.random.default_rng(0)
    rows = ds.train[rng.choice(len(ds.train), min(256, len(ds.train)), replace=False)]
    batch = [torch.from_numpy(rows[:, 0]), torch.from_numpy(rows[:, 1]),
             torch.from_numpy(rng.integers(0, ds.n_items, len(rows)))]
    gumbel = torch.nn.functional.gumbel_softmax
    if name == "lgmrec":
        torch.nn.functional.gumbel_softmax = lambda x, tau=1.0, hard=False, dim=-1: torch.softmax(x / tau, dim)
    try:
        ours.train()
        ref_loss = float(ref.calculate_loss(torch.stack(batch).clone()).detach())
        our_loss = float(ours.batch_loss(*batch, cfg.reg)[0].detach())
        users = torch.arange(ds.n_users)
        with torch.no_grad():
            if name == "dragon":
                ref.forward(torch.stack(batch).clone())
            ref_scores = ref.full_sort_predict([users]).reshape(ds.n_users, -1)
            u, i = ours()
            our_scores = u @ i.T
    finally:
        torch.nn.functional.gumbel_softmax = gumbel
    return {"max_score_diff": float((ref_scores - our_scores).abs().max()),
            "mean_abs_score": float(our_scores.abs().mean()), "loss_ref": ref_loss, "loss_ours": our_loss}


# ---------------------------------------------------------------------------------------------
# ours


def trainer_config(name, ds, epochs, seed):
    s = multimodal.baseline_config(name, ds)
    kw = {k: getattr(s, k) for k in ("lr", "reg", "n_layers", "batch_size") if getattr(s, k, None) is not None}
    return s, train.TrainConfig(model=name, epochs=epochs, patience=epochs, eval_every=epochs, seed=seed,
                                checkpoint_every=10**9, **kw)


def run_ours(name, ds, features, settings, cfg, threads):
    model = multimodal.build(name, ds, features, cfg, settings=settings, device="cpu")
    res = train.fit(ds, cfg, device="cpu", progress=False, threads=threads, log_every=0, model=model)
    return [{k: h[k] for k in ("epoch", "loss", "seconds", "cpu_seconds", "eval_seconds", "eval_cpu_seconds", "valid")
             if k in h} for h in res["history"]]


def random_features(n_items: int, features, seed: int = 0) -> ItemFeatures:
    """Random visual and textual features for ``n_items`` items, of ``features``' widths where it has the
    modality (else 64): the check covers both modalities, MMRec's setting (its LGMRec needs both). Every item
    has both (MMRec's kNN graph divides by feature norms)."""
    g = torch.Generator().manual_seed(seed)
    widths = {m: features.feats[m].shape[1] if m in features.modalities else 64 for m in ("v", "t")}
    return ItemFeatures({m: torch.randn(n_items, w, generator=g) for m, w in widths.items()},
                        {m: torch.ones(n_items, dtype=torch.bool) for m in widths},
                        {m: "random (equivalence check)" for m in widths})


def with_random_visual(text: ItemFeatures, dim: int, seed: int) -> ItemFeatures:
    """``text`` plus visual features drawn uniformly from ``[0, 1)`` (non-negative, like a CNN's pooled
    activations), ``dim`` wide, for every item: timing needs the second modality's shapes, not its signal."""
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(text.n_items, dim, generator=g)
    return ItemFeatures({"v": v, **text.feats}, {"v": torch.ones(text.n_items, dtype=torch.bool), **text.masks},
                        {"v": f"random uniform [0, 1), {dim}-d, seed {seed}", **text.sources})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--dataset", default="baby", choices=data.DATASETS)
    p.add_argument("--modalities", default="t", help="t, v or vt (v needs --features-dir)")
    p.add_argument("--features-dir", default=None, help="folder with MMRec image_feat.npy / text_feat.npy")
    p.add_argument("--random-visual", type=int, default=None, metavar="DIM",
                   help="add random DIM-wide visual features (seeded by --seed) to the offline text: the V&T setting "
                        "that DiffMM's and MMRec's LGMRec references need, without image files")
    p.add_argument("--mmrec", default=None, help="a checkout of enoche/MMRec (its src/ is imported); none: ours only")
    p.add_argument("--diffmm", default=None, help="a checkout of HKUDS/DiffMM, DiffMM's reference (needs V&T)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--check-users", type=int, default=300,
                   help="with --mmrec: users of the equivalence check's subset (random V&T features; 0: no check)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--update", action="store_true",
                   help="replace only these models' rows in --out (same dataset, modalities, epochs, seed, threads), "
                        "keeping the others; each row records its own commit, date and load average")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    torch.set_num_threads(args.threads)
    commit = git_commit()  # the code that runs, not the checkout when the (long) run ends
    ds = data.load(args.dataset)
    if args.random_visual is not None:
        if args.random_visual < 1 or args.features_dir is not None or args.modalities != "vt":
            p.error("--random-visual DIM needs DIM >= 1, --modalities vt and no --features-dir")
        text = load_features(ds, "t", None, device="cpu")
        features = with_random_visual(text, args.random_visual, args.seed)
    else:
        features = load_features(ds, args.modalities, args.features_dir, device="cpu")

    rows = []
    for name in args.models:
        settings, cfg = trainer_config(name, ds, args.epochs, args.seed)
        hist, cpu = run_timed(run_ours, name, ds, features, settings, cfg, args.threads)
        row = {"model": name, "settings": asdict(settings), "ours": summarise(hist) | {"cpu_share": cpu}}
        if name == "diffmm":
            row["reference"], row["reference_note"] = None, "no --diffmm checkout given (HKUDS/DiffMM)"
            row["equivalence"] = "not run: the reference's model needs its own data handler and trainer"
            if args.diffmm is not None:
                try:
                    hist, cpu = run_timed(run_reference_diffmm, ds, features, settings, cfg, Path(args.diffmm),
                                          args.epochs)
                    row["reference"] = summarise(hist) | {"cpu_share": cpu}
                    row["reference_note"] = "HKUDS/DiffMM's own trainer (Coach.trainEpoch), CPU shims"
                    row |= ratios(row["reference"], row["ours"])
                except Exception as e:
                    row["reference_note"] = f"reference fails here: {type(e).__name__}: {e}"
        elif args.mmrec is None or name not in REFERENCE:
            row["reference"] = None
            row["reference_note"] = "no --mmrec checkout given"
        else:
            torch.set_num_threads(args.threads)
            if args.check_users:
                try:
                    sub = ds.subset(min(args.check_users, ds.n_users), seed=0)
                    s_sub, c_sub = trainer_config(name, sub, 1, args.seed)
                    row["equivalence"] = equivalence(name, sub, random_features(sub.n_items, features), s_sub, c_sub,
                                                     Path(args.mmrec))
                except Exception as e:
                    row["equivalence"] = f"not run: {type(e).__name__}: {e}"
            try:
                hist, cpu = run_timed(run_reference, name, ds, features, settings, cfg, Path(args.mmrec), args.epochs)
                row["reference"] = summarise(hist) | {"cpu_share": cpu}
                row |= ratios(row["reference"], row["ours"])
            except Exception as e:  # MMGCN / DRAGON without torch_geometric; LGMRec with one modality
                row["reference"], row["reference_note"] = None, f"reference fails here: {type(e).__name__}: {e}"
        rows.append(row)

    threads = torch.get_num_threads()
    timed = "epochs 2.." if args.epochs > 2 else "all epochs"
    print(f"{args.dataset}, modalities {args.modalities}, {args.epochs} epochs, seed {args.seed}, torch "
          f"{torch.__version__}, {threads} thread(s), CPU; means over {timed}; load average {os.getloadavg()[0]:.2f}")
    head = (f"{'model':7} {'epoch ref':>9} {'ours':>7} {'x':>5} | {'eval ref':>8} {'ours':>6} {'x':>5} | "
            f"{'R@20 ref':>8} {'ours':>6} | CPU share ref / ours")
    print(head)
    print("-" * len(head))
    for r in rows:
        o, f = r["ours"], r["reference"]
        if f is None:
            print(f"{r['model']:7} {'-':>9} {o['epoch_s']:6.2f}s {'-':>5} | {'-':>8} {o['eval_s']:5.2f}s {'-':>5} | "
                  f"{'-':>8} {o['recall@20']:6.4f} | - / {o['cpu_share']:.2f}   ({r['reference_note']})")
        else:
            print(f"{r['model']:7} {f['epoch_s']:8.2f}s {o['epoch_s']:6.2f}s {r['epoch_ratio']:5.2f} | "
                  f"{f['eval_s']:7.2f}s {o['eval_s']:5.2f}s {r['eval_ratio']:5.2f} | "
                  f"{f['recall@20']:8.4f} {o['recall@20']:6.4f} | {f['cpu_share']:.2f} / {o['cpu_share']:.2f}")
    print("x = reference seconds / ours (higher is better for ours); metrics: validation, after the last epoch")
    for r in rows:
        if "equivalence" in r:
            print(f"{r['model']}: same parameters as the reference class -> {r['equivalence']}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = {"commit": commit, "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_average": os.getloadavg()}
    rows = [r | stamp for r in rows]
    if args.update and out.exists():
        rows = merged_rows(out, rows, {"dataset": args.dataset, "modalities": args.modalities, "epochs": args.epochs,
                                       "seed": args.seed, "threads": threads})
    record = {"benchmark": "bench_mm_models", "dataset": args.dataset, "modalities": args.modalities,
              "features": features.summary(), "epochs": args.epochs, "seed": args.seed, "threads": threads,
              "timed_epochs": timed, "mmrec": args.mmrec, "torch": torch.__version__, "numpy": np.__version__,
              "python": platform.python_version(), "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "commit": commit,
              "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": rows}
    out.write_text(json.dumps(record, indent=1, default=str) + "\n")
    print(f"-> {out}")
    return record


def merged_rows(path: Path, rows: list[dict], setting: dict) -> list[dict]:
    """``rows`` in place of the same models' rows of the record at ``path``, the others kept, each stamped with
    the commit, date and load average of the run that measured it; a record of another ``setting`` (dataset,
    modalities, epochs, seed, threads) is a ``SystemExit`` naming the field."""
    old = json.loads(path.read_text())
    for key, value in setting.items():
        if old.get(key) != value:
            raise SystemExit(f"{path}: --update needs the same {key} (the file has {old.get(key)!r}, this run "
                             f"{value!r}); write to another --out")
    stamp = {"commit": old.get("commit"), "date": old.get("date"), "load_average": old.get("load_average")}
    merged = {r["model"]: stamp | r for r in old.get("results", [])}
    merged.update((r["model"], r) for r in rows)  # a model already there keeps its place, a new one comes last
    return list(merged.values())


if __name__ == "__main__":
    main()
