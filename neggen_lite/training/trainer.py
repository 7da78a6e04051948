"""BPR training with early stopping, checkpoints and resume (paper Sec. 4.1.4).

Settings from the paper: embedding dimension 64, Xavier initialisation, Adam, batch size 2048, at
most 1000 epochs, early stopping after 20 epochs without a better validation Recall@20. Settings the
paper leaves open follow MMRec's defaults: learning rate 1e-3 and an L2 penalty (weight ``reg``) on the
layer-0 embeddings of each batch, ``reg/2 * (|e_u|^2 + |e_i|^2 + |e_j|^2) / batch``.

Loss per batch (Eq. 2 averaged): ``-mean log sigmoid(e_u^T e_i - e_u^T e_j) + reg term``.

``fit`` checkpoints atomically every ``checkpoint_every`` epochs, and after any epoch that ends
``CHECKPOINT_MINUTES`` or more after the last save (so a slow model, e.g. DiffMM on Sports at minutes per
epoch, loses at most that much when its process is stopped), with model, optimiser, sampler and
shuffling RNG, history and best state, so an interrupted run resumes where it stopped and, on the same
device, gives the same numbers as an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .. import __version__
from ..core.data import DataError
from ..core.metrics import KS, evaluate, save_per_user
from ..core.paths import per_user_path
from ..core.runtime import (adam, atomic_torch_save, atomic_write_json, flush_denormals, git_commit,
                            keep_freed_memory, resolve_device, seed_everything, set_threads)
from ..core.safety import CheckpointError, check_settings, load_checkpoint, locked
from ..models.lightgcn import build_model
from ..models.objectives import bpr, neg_grad_norm, score_gap
from ..samplers.registry import build_sampler
from ..samplers.uniform import PositiveIndex

MODES = ("smoke", "full")


#: wall-clock minutes after which an epoch's end also saves a checkpoint (see the module docstring)
CHECKPOINT_MINUTES = 10.0


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved verbatim in the result's ``config``."""

    model: str = "lightgcn"
    sampler: str = "uniform"
    dim: int = 64
    n_layers: int = 3
    lr: float = 1e-3
    reg: float = 1e-4
    batch_size: int = 2048
    epochs: int = 1000
    patience: int = 20
    eval_every: int = 1
    eval_batch_size: int = 1024
    ks: tuple[int, ...] = KS
    valid_metric: str = "recall@20"
    exclude_valid_in_test: bool = True
    seed: int = 2025
    checkpoint_every: int = 5
    sampler_kwargs: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    diagnostics: bool = True  # per-epoch score gap, Eq. 3 gradient norm, false-negative share (read-only)

    def __post_init__(self):
        check_settings(dim=self.dim, n_layers=self.n_layers, lr=self.lr, reg=self.reg, batch_size=self.batch_size,
                       epochs=self.epochs, patience=self.patience, eval_every=self.eval_every,
                       eval_batch_size=self.eval_batch_size, checkpoint_every=self.checkpoint_every)

    def key(self) -> str:
        """Hash of the settings that change the numbers (used to refuse resuming a different run)."""
        d = asdict(self)
        d.pop("checkpoint_every")
        d.pop("eval_batch_size")
        d.pop("diagnostics")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_for_mode(mode: str, **overrides) -> TrainConfig:
    """``full``: the paper's settings. ``smoke``: 3 epochs, for CI and quick checks."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    base = TrainConfig() if mode == "full" else TrainConfig(epochs=3, patience=3, checkpoint_every=1)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **overrides)


def batch_loss(model, users, pos, neg, reg: float, neg_items=None, stats: dict | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """BPR loss and L2 penalty on one batch; returns ``(total, bpr)``.

    ``neg``: item ids ``[B]``, or synthesised negative embeddings ``[B, d]`` (MixGCF, DENS); then the L2
    term covers the ego embeddings of ``neg_items`` (``[B, k]``, the items the sampler mixed; averaged
    over ``k``). ``stats``: filled with the per-pair score gap ``e_u^T(e_i - e_j)`` and Eq. 3's gradient
    norm ``||dL/de_j|| = sigmoid(-gap) ||e_u||`` (detached).
    A model with its own objective (NegGen, Eq. 19-21) defines ``batch_loss(users, pos, neg, reg)``
    returning the same pair, and is trained through this same loop.
    """
    if hasattr(model, "batch_loss"):
        return model.batch_loss(users, pos, neg, reg)
    synthetic = neg.is_floating_point()
    rows = None if synthetic else getattr(model, "batch_rows", None)
    if rows is not None:  # a LightGCN batch whose full forward nobody needs (see _BatchView.batch_rows)
        e_u, e_i, e_j = rows(users, pos, neg)
    else:
        ue, ie = model()
        e_u, e_i, e_j = ue[users], ie[pos], (neg if synthetic else ie[neg])
    gap = score_gap(e_u, e_i, e_j)
    loss = bpr(gap).mean()
    if stats is not None:
        with torch.no_grad():
            stats.update(score_gap=gap.detach(), neg_grad_norm=neg_grad_norm(gap.detach(), e_u.detach()))
    if reg:
        l2 = model.ego_users(users).pow(2).sum() + model.ego_items(pos).pow(2).sum()
        if not synthetic:
            l2 = l2 + model.ego_items(neg).pow(2).sum()
        elif neg_items is not None:
            l2 = l2 + model.ego_items(neg_items).pow(2).sum() * (len(users) / neg_items.numel())
        l2 = l2 / (2 * len(users))
        return loss + reg * l2, loss
    return loss, loss


class _BatchView:
    """``model`` as one training batch sees it: ``forward()`` (and ``layer_embeddings()``) run at most once,
    shared by a sampler that scores candidates and by the loss, so hard samplers add no propagation."""

    def __init__(self, model):
        self._model, self._out, self._layers = model, None, None

    def __call__(self):
        if self._out is None:
            if self._layers is not None:  # forward() is the layer mean (Eq. 7), summed in its order
                self._out = tuple(_layer_mean(x) for x in self._layers)
            else:
                self._out = self._model()
        return self._out

    def _cached_layers(self):
        if self._layers is None:
            self._layers = self._model.layer_embeddings()
        return self._layers

    def batch_rows(self, users, pos, neg):
        """``(e_u, e_i, e_j)``: by the model's ``batch_rows`` when it has one and no sampler ran the forward
        pass, else indexed from the shared ``forward()``."""
        if self._out is None and self._layers is None and hasattr(self._model, "batch_rows"):
            return self._model.batch_rows(users, pos, neg)
        ue, ie = self()
        return ue[users], ie[pos], ie[neg]

    def __getattr__(self, name):
        attr = getattr(self._model, name)
        return self._cached_layers if name == "layer_embeddings" else attr


def _layer_mean(x: torch.Tensor) -> torch.Tensor:
    acc = x[:, 0]
    for k in range(1, x.shape[1]):
        acc = acc + x[:, k]
    return acc / x.shape[1]


def fit(dataset, config: TrainConfig, device=None, checkpoint: str | Path | None = None,
        progress: bool = True, mode: str = "custom", log: Callable[[str], None] | None = None,
        threads: int | None = None, log_every: int = 10, model=None, sampler=None) -> dict[str, Any]:
    """Train ``config.model`` on ``dataset`` with BPR and early stopping; return the result record.

    The record has the fields every run in this project keeps: ``dataset``, ``model``, ``sampler``,
    ``variant``, ``seed``, ``mode``, ``config``, ``commit``, ``epochs``, ``best_epoch``, ``seconds``,
    ``valid``, ``test`` and the per-epoch ``history`` (loss, seconds, valid metrics).
    ``model``: an already built model (e.g. NegGen around a pre-trained base) instead of ``config.model``;
    ``sampler``: an already built sampler (e.g. one that needs item encodings) instead of ``config.sampler``.
    """
    check_settings(threads=threads)
    for split in ("valid", "test"):  # early stopping and the reported metrics need both
        if len(dataset.split(split)) == 0:
            raise DataError(f"{dataset.path or dataset.name}: no {split} interactions (x_label "
                            f"{1 if split == 'valid' else 2}); cannot train and evaluate on this split")
    ckpt_path = Path(checkpoint) if checkpoint else None
    if ckpt_path is None:
        return _fit(dataset, config, device, None, progress, mode, log, threads, log_every, model, sampler)
    with locked(ckpt_path, "checkpoint"):
        return _fit(dataset, config, device, ckpt_path, progress, mode, log, threads, log_every, model, sampler)


def _fit(dataset, config, device, ckpt_path, progress, mode, log, threads, log_every, model, sampler) -> dict[str, Any]:
    device = resolve_device(device)
    set_threads(threads)
    flush_denormals()
    keep_freed_memory()
    seed_everything(config.seed)
    if model is None:
        model = build_model(config.model, dataset, device, config.dim, config.n_layers)
    model = model.to(device)
    if sampler is None:
        sampler = build_sampler(config.sampler, dataset, device, seed=config.seed + 1, dim=config.dim,
                                **config.sampler_kwargs)
    sampler_params = list(sampler.parameters()) if hasattr(sampler, "parameters") else []  # e.g. DENS's gates
    opt = adam(list(model.parameters()) + sampler_params, lr=config.lr)
    heldout = (PositiveIndex(dataset.valid_csr + dataset.test_csr, device) if config.diagnostics else None)
    shuffle_gen = torch.Generator(device="cpu")
    shuffle_gen.manual_seed(config.seed + 2)
    train_pairs = torch.from_numpy(dataset.train).to(device)
    n = len(train_pairs)
    n_batches = math.ceil(n / config.batch_size)

    state = {"epoch": 0, "best_epoch": 0, "best_score": -math.inf, "best_valid": None, "bad_epochs": 0,
             "history": [], "seconds": 0.0, "best_state": None}
    say = log or (tqdm.write if progress else (lambda s: print(s, flush=True)))
    if ckpt_path and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path, device)
        if ck["config_key"] != config.key() or ck["dataset"] != dataset.name:
            raise CheckpointError(f"{ckpt_path}: checkpoint is for another run (dataset {ck['dataset']}, "
                               f"config {ck['config']}); delete it or pass another --out")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sampler.load_state_dict(ck["sampler"])
        shuffle_gen.set_state(ck["shuffle_rng"])
        state = ck["state"]
        say(f"resumed {ckpt_path} at epoch {state['epoch']} (best {config.valid_metric}="
            f"{state['best_score']:.4f} at epoch {state['best_epoch']})")

    # the code that runs: read now, not when a long run ends (the checkout may move meanwhile); a resumed run
    # lists the commit of every process that trained it
    commit = git_commit()
    if not state.setdefault("commits", []) or state["commits"][-1] != commit:
        state["commits"].append(commit)

    def save_checkpoint():
        if ckpt_path:
            atomic_torch_save({"config_key": config.key(), "config": asdict(config), "dataset": dataset.name,
                               "model": model.state_dict(), "optimizer": opt.state_dict(),
                               "sampler": sampler.state_dict(), "shuffle_rng": shuffle_gen.get_state(),
                               "state": state}, ckpt_path)

    done = state["bad_epochs"] >= config.patience or state["epoch"] >= config.epochs
    last_save = time.perf_counter()
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc=f"{config.model}/{dataset.name}",
               unit="ep", disable=not progress, dynamic_ncols=True)
    while not done:
        epoch = state["epoch"] + 1
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        perm = torch.randperm(n, generator=shuffle_gen).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)  # summed on the device: no per-batch sync
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        diag = torch.zeros(5, dtype=torch.float64, device=device)  # gap, grad norm, pairs, false neg., negatives
        for b in range(n_batches):
            idx = perm[b * config.batch_size:(b + 1) * config.batch_size]
            users, pos = train_pairs[idx, 0], train_pairs[idx, 1]
            view = _BatchView(model)  # one propagation shared by the sampler and the loss
            neg = sampler.sample(users, pos, view)
            extras = getattr(sampler, "extras", None) or {}
            stats = {} if heldout is not None else None
            loss, _ = batch_loss(view, users, pos, neg, config.reg, extras.get("neg_items"), stats)
            if extras.get("aux_loss") is not None:  # e.g. DENS's contrastive tasks
                loss = loss + extras["aux_loss"]
            if heldout is not None:
                with torch.no_grad():
                    if stats:
                        diag[0] += stats["score_gap"].sum()
                        diag[1] += stats["neg_grad_norm"].sum()
                        diag[2] += len(users)
                    ids = extras.get("neg_items") if neg.is_floating_point() else neg
                    if ids is not None:
                        ids = ids.reshape(len(users), -1)
                        fn = heldout.contains(users.unsqueeze(1).expand_as(ids), ids)
                        diag[3] += fn.sum()
                        diag[4] += fn.numel()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach().double() * len(idx)
        total = float(total)
        train_seconds, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        if not math.isfinite(total):
            raise FloatingPointError(f"epoch {epoch}: loss is {total}; lower --lr")
        # cpu_seconds: this process's CPU time (all threads), steadier than wall time beside other jobs
        rec = {"epoch": epoch, "loss": total / n, "seconds": train_seconds, "cpu_seconds": train_cpu}
        if heldout is not None:  # means over the epoch's pairs, before each batch's update
            d = diag.tolist()
            if d[2]:
                rec.update(score_gap=d[0] / d[2], neg_grad_norm=d[1] / d[2])
            if d[4]:
                rec["false_negatives"] = d[3] / d[4]  # share of negatives in the user's valid/test items
        if hasattr(model, "pop_epoch_stats"):  # per-epoch model diagnostics (e.g. FREEDOM's Eq. 3 probe)
            rec.update(model.pop_epoch_stats())
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            t1, c1 = time.perf_counter(), time.process_time()
            valid = evaluate(model, dataset, "valid", config.ks, config.eval_batch_size)
            rec["eval_seconds"], rec["eval_cpu_seconds"] = time.perf_counter() - t1, time.process_time() - c1
            rec["valid"] = valid
            score = valid[config.valid_metric]
            if score > state["best_score"]:
                state.update(best_score=score, best_epoch=epoch, best_valid=valid, bad_epochs=0,
                             best_state={k: v.detach().clone() for k, v in model.state_dict().items()})
            else:
                state["bad_epochs"] += config.eval_every
        state["history"].append(rec)
        state["epoch"] = epoch
        state["seconds"] += time.perf_counter() - t0
        done = state["bad_epochs"] >= config.patience or epoch >= config.epochs
        if (done or epoch % config.checkpoint_every == 0
                or time.perf_counter() - last_save >= 60 * CHECKPOINT_MINUTES):
            save_checkpoint()
            last_save = time.perf_counter()
        bar.update(1)
        bar.set_postfix(loss=f"{rec['loss']:.4f}", r20=f"{rec.get('valid', {}).get('recall@20', float('nan')):.4f}",
                        best=f"{state['best_score']:.4f}@{state['best_epoch']}")
        if not progress and log_every and (epoch % log_every == 0 or done):
            say(f"{config.model}/{dataset.name} epoch {epoch}: loss {rec['loss']:.4f}, "
                f"{config.valid_metric} {rec.get('valid', {}).get(config.valid_metric, float('nan')):.4f}, "
                f"best {state['best_score']:.4f}@{state['best_epoch']}, {state['seconds']:.0f}s")
    bar.close()

    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    test = evaluate(model, dataset, "test", config.ks, config.eval_batch_size,
                    exclude_valid_in_test=config.exclude_valid_in_test, per_user=True)
    users, values = test.pop("users", None), test.pop("per_user", None)
    per_user = {"users": users, "per_user": values} if users is not None else None  # for paired t-tests
    return {
        "dataset": dataset.name,
        "model": config.model,
        "sampler": getattr(model, "sampler_name", config.sampler),
        "sampler_hparams": getattr(sampler, "hparams", {}),
        "variant": getattr(model, "variant", None),
        "seed": config.seed,
        "mode": mode,
        "config": asdict(config),
        "commit": commit,
        **({"commits": state["commits"]} if len(state["commits"]) > 1 else {}),
        "package_version": __version__,
        "device": str(device),
        "torch": torch.__version__,
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "seconds": state["seconds"],
        "valid": state["best_valid"],
        "test": test,
        "history": state["history"],
        "_model": model,
        "_per_user": per_user,
    }


def save_result(result: dict, path: str | Path) -> Path:
    """Write a result record as JSON (atomically), leaving out in-memory objects; the per-user test
    metrics (``_per_user``, for paired t-tests between runs) go beside it as ``<stem>.per_user.npz``."""
    path = Path(path)
    atomic_write_json(path, {k: v for k, v in result.items() if not k.startswith("_")})
    if result.get("_per_user") is not None:
        save_per_user(per_user_path(path), result["_per_user"])
    return path
