"""Command line: ``python -m neggen_lite {train,stats} ...``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import data
from .train import MODES, config_for_mode, default_out, fit, save_result


def _train(args) -> int:
    ds = data.load(args.dataset, args.data_root, side_info=False)
    cfg = config_for_mode(args.mode, model=args.model, sampler=args.sampler, seed=args.seed, epochs=args.epochs,
                          patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers, dim=args.dim,
                          batch_size=args.batch_size)
    out = Path(args.out) if args.out else default_out(ds.name, cfg.model, cfg.sampler, cfg.seed, args.mode)
    ckpt = Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt")
    result = fit(ds, cfg, device=args.device, checkpoint=None if args.no_checkpoint else ckpt,
                 progress=not args.quiet, mode=args.mode, threads=args.threads)
    save_result(result, out)
    t = result["test"]
    print(f"{ds.name} {cfg.model}/{cfg.sampler} seed {cfg.seed}: best epoch {result['best_epoch']} of "
          f"{result['epochs']}, test " + " ".join(f"{k}={v:.4f}" for k, v in t.items())
          + f" ({result['seconds']:.0f}s) -> {out}")
    if not args.keep_checkpoint and ckpt.exists():
        ckpt.unlink()
    return 0


def _stats(args) -> int:
    data.stats(args.datasets or data.DATASETS, args.data_root)
    return 0


def _table(args) -> int:
    from . import results

    md = results.markdown_table(results.load_results(args.results_dir or results.RESULTS_DIR, mode="full"))
    print(md, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m neggen_lite", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a recommender with BPR and write one result JSON")
    t.add_argument("--dataset", required=True, choices=data.DATASETS)
    t.add_argument("--model", default="lightgcn", choices=["lightgcn", "bpr"])
    t.add_argument("--sampler", default="uniform")
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    t.add_argument("--mode", default="full", choices=MODES, help="full: paper settings; smoke: 3 epochs")
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--out", default=None, help="result JSON (default results/<dataset>/<model>-<sampler>-seed<N>.json)")
    t.add_argument("--checkpoint", default=None, help="checkpoint path (default: next to --out, .ckpt)")
    t.add_argument("--no-checkpoint", action="store_true")
    t.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint after success")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--patience", type=int, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--reg", type=float, default=None)
    t.add_argument("--layers", type=int, default=None)
    t.add_argument("--dim", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--data-root", default=None)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_train)

    s = sub.add_parser("stats", help="print the paper's Table 3 computed from the files")
    s.add_argument("datasets", nargs="*")
    s.add_argument("--data-root", default=None)
    s.set_defaults(func=_stats)

    tb = sub.add_parser("table", help="print our full-mode test metrics beside the paper's Table 2 (markdown)")
    tb.add_argument("--results-dir", default=None)
    tb.set_defaults(func=_table)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except data.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
