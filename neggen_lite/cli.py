"""Command line: ``python -m neggen_lite {train,stats} ...``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import data
from .safety import ExpectedError, SettingsError, check_settings, check_writable, locked
from .train import MODES, config_for_mode, default_out, fit, save_result
from .utils import resolve_device

#: ``train`` flags that only some models use (flag -> its ``args`` attribute, the models); any other model
#: given one is refused, so no flag is silently ignored
MODEL_FLAGS = {
    "--variant": ("variant", {"neggen"}), "--lam": ("lam", {"neggen"}), "--alpha": ("alpha", {"neggen"}),
    "--tau": ("tau", {"neggen"}), "--align": ("align", {"neggen"}), "--base": ("base", {"neggen"}),
    "--generator": ("generator", {"neggen", "freedom", "vbpr"}), "--encoder": ("encoder", {"neggen", "freedom", "vbpr"}),
    "--modalities": ("modalities", {"freedom", "vbpr"}), "--features-dir": ("features_dir", {"freedom", "vbpr"}),
    "--sampler-arg": ("sampler_arg", {"lightgcn", "bpr"}), "--layers": ("layers", {"lightgcn", "neggen", "freedom", "vbpr"}),
}
#: ``--sampler`` values per model (``None``: any registered sampler)
MODEL_SAMPLERS = {"neggen": ("uniform",), "freedom": ("uniform", "direct"), "vbpr": ("uniform", "direct")}


def _check_train_args(args) -> None:
    """Every ``train``/``sweep`` setting in range, and no flag the model does not use (before any work)."""
    check_settings(epochs=args.epochs, patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers,
                   dim=args.dim, batch_size=args.batch_size, threads=args.threads,
                   subset_users=getattr(args, "subset_users", None), lam=args.lam, alpha=args.alpha, tau=args.tau)
    model = getattr(args, "model", "neggen")
    for flag, (attr, models) in MODEL_FLAGS.items():
        if model not in models and getattr(args, attr, None) not in (None, []):
            raise SettingsError(f"{flag}: not used by --model {model} (only by {', '.join(sorted(models))})")
    allowed = MODEL_SAMPLERS.get(model)
    sampler = getattr(args, "sampler", "uniform")
    if allowed and sampler not in allowed:
        raise SettingsError(f"--sampler {sampler}: --model {model} supports {', '.join(allowed)}")
    if model in ("freedom", "vbpr") and sampler != "direct" and args.generator is not None:
        raise SettingsError(f"--generator: used by --model {model} only with --sampler direct")
    resolve_device(args.device)  # --device cuda without CUDA: now, not after loading the data
    if getattr(args, "no_checkpoint", False) and (args.checkpoint or args.keep_checkpoint):
        raise SettingsError("--no-checkpoint: contradicts --checkpoint/--keep-checkpoint")


def _fill_defaults(args) -> None:
    """The defaults of the model-specific flags, applied after :func:`_check_train_args`."""
    from .encoding import DEFAULT_ENCODER

    if getattr(args, "generator", None) is None and hasattr(args, "generator"):
        args.generator = "auto"
    if getattr(args, "encoder", None) is None and hasattr(args, "encoder"):
        args.encoder = DEFAULT_ENCODER


def _neggen_config(args, **override):
    from .causal import NegGenConfig

    kw = dict(lam=args.lam, alpha=args.alpha, tau=args.tau, variant=args.variant, align=args.align, base=args.base)
    kw.update(override)
    return NegGenConfig(**{k: v for k, v in kw.items() if v is not None})


def _train_overrides(args) -> dict:
    return dict(epochs=args.epochs, patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers,
                dim=args.dim, batch_size=args.batch_size)


def _report(ds_name, result, out) -> None:
    t = result["test"]
    name = "/".join(str(x) for x in (result["model"], result["sampler"], result.get("variant")) if x)
    print(f"{ds_name} {name} seed {result['seed']}: best epoch {result['best_epoch']} of "
          f"{result['epochs']}, test " + " ".join(f"{k}={v:.4f}" for k, v in t.items())
          + f" ({result['seconds']:.0f}s) -> {out}")
    if "base" in result:
        sig = result["significance"]["test"]["recall@20"]
        print(f"  same-seed LightGCN base: recall@20={result['base']['test']['recall@20']:.4f}; "
              f"paired t-test over {sig['n_users']} users: diff {sig['mean_diff']:+.4f}, p={sig['p']:.3g}")


def _train_neggen(args, ds) -> int:
    from . import neggen

    ng = _neggen_config(args)
    seed = args.seed if args.seed is not None else config_for_mode(args.mode).seed
    out = Path(args.out) if args.out else default_out(ds.name, "neggen", "generated" if ng.generated else "uniform",
                                                      seed, args.mode, ng.variant)
    ckpt = None if args.no_checkpoint else (Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt"))
    _check_outputs(out, ckpt)
    with locked(out, "result"):
        result = neggen.train(ds, args.mode, args.device, args.generator, args.encoder, ng, seed, ckpt,
                              not args.quiet, args.threads, **_train_overrides(args))
        save_result(result, out)
    _report(ds.name, result, out)
    if ckpt and not args.keep_checkpoint and ckpt.exists():
        ckpt.unlink()
    return 0


def _check_outputs(out: Path, ckpt: Path | None) -> None:
    """The result (and checkpoint) path writable, before any work."""
    check_writable(out, "--out")
    if ckpt is not None:
        check_writable(ckpt, "--checkpoint")


def _sweep(args) -> int:
    from . import neggen

    ds = _load(args)
    values = args.values or neggen.SWEEPS[args.param]
    seed = args.seed if args.seed is not None else config_for_mode(args.mode).seed
    feats = None
    for v in values:
        out = neggen.sweep_out(ds.name, args.param, v, seed, args.mode)
        if out.exists() and not args.force:
            print(f"{out} exists; skipped (--force to rerun)")
            continue
        ng = _neggen_config(args, **{args.param: v})
        check_writable(out, "--out")
        if feats is None:
            feats = neggen.build_features(ds, args.generator, args.encoder, ng.modalities, args.device,
                                          progress=not args.quiet)
        with locked(out, "result"):
            result = neggen.train(ds, args.mode, args.device, args.generator, args.encoder, ng, seed, None,
                                  not args.quiet, args.threads, features=feats, **_train_overrides(args))
            result["sweep"] = {"param": args.param, "value": v}
            save_result(result, out)
        _report(ds.name, result, out)
    return 0


def _sampler_kwargs(items: list[str]) -> dict:
    """``["M=100", "pick=rank", "baseline=true"]`` -> ``{"M": 100, "pick": "rank", "baseline": True}``."""
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"--sampler-arg: expects KEY=VALUE, got {item!r}")
        raw = raw.strip()
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float, str):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    continue
        out[key.strip()] = value
    return out


def _train(args) -> int:
    if args.model == "neggen":
        return _train_neggen(args, _load(args))
    if args.model in ("freedom", "vbpr"):
        from .multimodal import cli_train

        return cli_train(args)
    ds = data.load(args.dataset, args.data_root, side_info=False)
    if args.subset_users:
        ds = ds.subset(args.subset_users, seed=0)
    cfg = config_for_mode(args.mode, model=args.model, sampler=args.sampler, seed=args.seed, epochs=args.epochs,
                          patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers, dim=args.dim,
                          batch_size=args.batch_size, sampler_kwargs=_sampler_kwargs(args.sampler_arg) or None)
    out = Path(args.out) if args.out else default_out(ds.name, cfg.model, cfg.sampler, cfg.seed, args.mode)
    ckpt = None if args.no_checkpoint else (Path(args.checkpoint) if args.checkpoint else out.with_suffix(".ckpt"))
    _check_outputs(out, ckpt)
    with locked(out, "result"):
        result = fit(ds, cfg, device=args.device, checkpoint=ckpt, progress=not args.quiet, mode=args.mode,
                     threads=args.threads)
        save_result(result, out)
    t = result["test"]
    print(f"{ds.name} {cfg.model}/{cfg.sampler} seed {cfg.seed}: best epoch {result['best_epoch']} of "
          f"{result['epochs']}, test " + " ".join(f"{k}={v:.4f}" for k, v in t.items())
          + f" ({result['seconds']:.0f}s) -> {out}")
    if ckpt and not args.keep_checkpoint and ckpt.exists():  # only this run's own checkpoint
        ckpt.unlink()
    return 0


def _stats(args) -> int:
    data.stats(args.datasets or data.DATASETS, args.data_root)
    return 0


def _shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: write K/N, e.g. 0/2") from None
    if not 0 <= k < n:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 <= K < N")
    return k, n


def _merge(args) -> int:
    from . import pipeline

    counts = pipeline.merge(args.out, args.inputs)
    print(f"{args.out}: {counts['written']} records ({counts['duplicates_dropped']} duplicates dropped), "
          f"{counts['items_done']} items with a finished step")
    return 0


def _repair(args) -> int:
    from . import pipeline

    res = pipeline.repair(args.cache)
    if res["backup"] is None:
        print(f"{args.cache}: all {res['members_kept']} members readable, nothing to repair")
    else:
        print(f"{args.cache}: kept {res['members_kept']} members ({res['records_kept']} records), dropped "
              f"{res['bytes_dropped']} bytes; the original is in {res['backup']}")
    return 0


def _generate(args) -> int:
    from . import pipeline
    from .generation import build_generator
    from .prompts import prompts_hash
    from .utils import atomic_write_json, git_commit, set_threads

    check_settings(limit=args.limit, retries=args.retries, batch_size=args.batch_size, threads=args.threads)
    if args.out:
        check_writable(args.out, "--out")
    set_threads(args.threads)
    ds = data.load(args.dataset, args.data_root)
    kw = {} if args.dtype == "auto" else {"dtype": args.dtype}
    gen = build_generator(args.generator, device=args.device, batch_size=args.batch_size, threads=args.threads, **kw)
    path = Path(args.out) if args.out else pipeline.default_cache_path(ds.name, gen.name, args.direct)
    summary = pipeline.run(ds, gen, path, limit=args.limit, retries=args.retries, batch_size=args.batch_size,
                           seed=args.seed, direct=args.direct, progress=not args.quiet, shard=args.shard)
    manifest = {"dataset": ds.name, "generator": gen.name,
                "package_version": getattr(gen, "package_version", None), "prompts_hash": prompts_hash(),
                "pipeline": pipeline.PIPELINES[args.direct],
                "items": summary["items"], "valid_rate": summary["valid_rate"],
                "fallback_rate": summary["fallback_rate"], "seconds": summary["generation_seconds"],
                "steps": summary["steps"], "invalid_reasons": summary["invalid_reasons"],
                "retries": args.retries, "seed": args.seed, "batch_size": args.batch_size,
                "dtype": str(getattr(gen, "dtype", None)).removeprefix("torch."), "threads": args.threads,
                "commit": git_commit(), "cache": path.name}
    with locked(path, "generation cache"):
        atomic_write_json(pipeline.manifest_path(path), manifest)
    print(f"{ds.name}/{gen.name}: {summary['items']} items, valid {summary['valid_rate']:.1%}, "
          f"fallback {summary['fallback_rate']:.1%}, {summary['seconds_this_run']:.0f}s this run -> {path}")
    return 0


def _quality(args) -> int:
    from . import neggen
    from .utils import atomic_write_json

    ds = data.load(args.dataset, args.data_root)
    rep = neggen.quality_report(ds, args.generator, args.encoder)
    out = neggen.generation_cache(ds.name, args.generator).with_name(f"{rep['generator']}.quality.json")
    atomic_write_json(out, rep)
    h, r = rep["hardness_model"], rep["hardness_rule_same_items"]
    print(f"{ds.name}/{rep['generator']}: {rep['items']} items, valid {rep['valid_rate']:.1%}; cosine to the "
          f"original: generated {h['cos_original_generated']:.3f}, rule-based {r['cos_original_generated']:.3f}, "
          f"random item {h['cos_original_random_item']:.3f} -> {out}")
    return 0


def _table(args) -> int:
    from . import results

    recs = results.load_results(args.results_dir or results.RESULTS_DIR, mode="full")
    if args.neggen:
        print(results.neggen_markdown(results.load_neggen(records=recs), args.neggen), end="")
        return 0
    md = results.markdown_table(recs)
    print(md, end="")
    return 0


def _significance(args) -> int:
    from . import results
    from .utils import atomic_write_json

    rdir = Path(args.results_dir) if args.results_dir else results.RESULTS_DIR
    df = results.significance_table(args.dataset, metric=args.metric, results_dir=rdir)
    if df.empty:
        print(f"no full-mode NegGen runs for {args.dataset} under {rdir}", file=sys.stderr)
        return 1
    fmt = lambda v: "" if v is None or v != v else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
    print("| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns))
    for rec in df.itertuples(index=False):
        print("| " + " | ".join(fmt(v) for v in rec) + " |")
    if args.write:  # the one explicit write path; without --write this command writes nothing
        out = rdir / args.dataset / "significance.json"
        atomic_write_json(out, significance_record(df, args.dataset, args.metric))
        print(f"-> {out}")
    return 0


def significance_record(df, dataset: str, metric: str) -> dict:
    """What ``significance --write`` stores in ``results/<dataset>/significance.json``."""
    return {"dataset": dataset, "metric": metric, "rows": df.astype(object).where(df.notna(), None).to_dict("records")}


def _fig6(args) -> int:
    from . import results
    from .utils import atomic_write_bytes

    rdir = Path(args.results_dir) if args.results_dir else results.RESULTS_DIR
    df = results.fig6_frame(results.load_results(rdir, mode="full"))
    if df.empty:
        print(f"no full-mode LightGCN or NegGen w/o CF runs under {rdir}", file=sys.stderr)
        return 1
    out = rdir / "fig6.csv"
    atomic_write_bytes(out, df.to_csv(index=False, float_format="%.6g").encode())
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"-> {out}")
    return 0


def _readme(args) -> int:
    from . import results
    from .utils import atomic_write_bytes

    rdir = Path(args.results_dir) if args.results_dir else results.RESULTS_DIR
    tpl = rdir / "README.template.md"
    if not tpl.exists():
        print(f"error: no template {tpl}", file=sys.stderr)
        return 2
    try:
        text = results.render_readme(tpl.read_text(), rdir)
    except ValueError as exc:
        print(f"error: {tpl}: {exc}", file=sys.stderr)
        return 2
    out = rdir / "README.md"
    atomic_write_bytes(out, text.encode())
    print(f"-> {out}")
    return 0


def _load(args):
    ds = data.load(args.dataset, args.data_root)
    return ds.subset(args.subset_users, seed=0) if args.subset_users else ds


def _neggen_args(p) -> None:
    from .causal import ALIGN_FORMS, BASE_MODES, VARIANTS
    from .encoding import DEFAULT_ENCODER

    g = p.add_argument_group("NegGen (--model neggen; Sec. 3.3-3.4)")
    g.add_argument("--variant", default=None, choices=VARIANTS, help="default full")
    g.add_argument("--lam", type=float, default=None, help="weight of the causal score (default 0.5)")
    g.add_argument("--alpha", type=float, default=None, help="weight of L_align (default 1e-2)")
    g.add_argument("--tau", type=float, default=None, help="temperature of L_align (default 0.1)")
    g.add_argument("--align", default=None, choices=ALIGN_FORMS, help="Eq. 20: bounded (default) or printed")
    g.add_argument("--base", default=None, choices=BASE_MODES, help="pre-trained LightGCN frozen (default) or fine-tuned")
    g.add_argument("--generator", default=None, help="generation cache to read, or 'rule' (default auto: "
                   "the offline Qwen2.5-Coder-1.5B cache where it exists, rule-based negatives elsewhere); "
                   "freedom/vbpr: the Direct Generation cache of --sampler direct")
    g.add_argument("--encoder", default=None, help=f"text encoder (default {DEFAULT_ENCODER})")
    g.add_argument("--subset-users", type=int, default=None,
                   help="train on N random users only (smoke runs and tests; never for reported numbers)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m neggen_lite", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a recommender with BPR and write one result JSON")
    t.add_argument("--dataset", required=True, choices=data.DATASETS)
    t.add_argument("--model", default="lightgcn", choices=["lightgcn", "bpr", "neggen", "freedom", "vbpr"])
    t.add_argument("--modalities", default=None, help="freedom/vbpr: t, v or vt (default: every modality with "
                   "features; offline that is t)")
    t.add_argument("--features-dir", default=None, help="freedom/vbpr: folder with MMRec image_feat.npy/text_feat.npy")
    t.add_argument("--sampler", default="uniform", help="uniform, dns, mixgcf, dens, ahns or irgan")
    t.add_argument("--sampler-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a sampler hyper-parameter, repeatable (e.g. --sampler dns --sampler-arg M=100 "
                        "--sampler-arg N=2); defaults in neggen_lite/hard_samplers.py")
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
    _neggen_args(t)
    t.set_defaults(func=_train)

    w = sub.add_parser("sweep", help="NegGen hyper-parameter sweep (Fig. 7): one run per value")
    w.add_argument("--dataset", required=True, choices=data.DATASETS)
    w.add_argument("--param", required=True, choices=["lam", "alpha", "tau"])
    w.add_argument("--values", type=float, nargs="*", default=None, help="default: the paper's grid")
    w.add_argument("--device", default="cpu")
    w.add_argument("--mode", default="full", choices=MODES)
    w.add_argument("--seed", type=int, default=None)
    w.add_argument("--force", action="store_true", help="rerun values whose result exists")
    for name in ("epochs", "patience", "layers", "dim", "batch-size", "threads"):
        w.add_argument(f"--{name}", type=int, default=None)
    for name in ("lr", "reg"):
        w.add_argument(f"--{name}", type=float, default=None)
    w.add_argument("--data-root", default=None)
    w.add_argument("--quiet", action="store_true")
    _neggen_args(w)
    w.set_defaults(func=_sweep)

    s = sub.add_parser("stats", help="print the paper's Table 3 computed from the files")
    s.add_argument("datasets", nargs="*")
    s.add_argument("--data-root", default=None)
    s.set_defaults(func=_stats)

    g = sub.add_parser("generate", help="run the negative-generation pipeline (Sec. 3.2), resumable")
    g.add_argument("--dataset", required=True, choices=data.DATASETS)
    g.add_argument("--generator", default="smollm2",
                   help="embedded offline model name, a Hugging Face id or directory, or http://host:port/v1[#model]")
    g.add_argument("--limit", type=int, default=None, help="only the first N items with text")
    g.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="only every N-th item from the K-th (0-based), for N processes with their own --out; "
                        "merge the caches afterwards (python -m neggen_lite merge OUT A B)")
    g.add_argument("--direct", action="store_true", help="the Direct Generation prompt of Sec. 2.1 instead")
    g.add_argument("--retries", type=int, default=2)
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="cpu")
    g.add_argument("--threads", type=int, default=None)
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="weight precision (auto: bf16 on CUDA, fp32 on CPU; bf16 is about 2x faster on CPUs with "
                        "AVX512-BF16/AMX; another precision than auto gives a cache of its own, e.g. <model>-bf16)")
    g.add_argument("--out", default=None, help="cache file (default results/generations/<dataset>/<generator>.jsonl.gz)")
    g.add_argument("--data-root", default=None)
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_generate)

    mg = sub.add_parser("merge", help="merge generation caches (e.g. --shard outputs) into one, dropping duplicates")
    mg.add_argument("out", help="the merged cache, a new file (inputs are never written)")
    mg.add_argument("inputs", nargs="+", help="caches to merge, in order")
    mg.set_defaults(func=_merge)

    rp = sub.add_parser("repair", help="keep the readable members of a damaged generation cache (after a backup)")
    rp.add_argument("cache")
    rp.set_defaults(func=_repair)

    q = sub.add_parser("quality", help="validity rates and hardness (cosine) of a generation cache")
    q.add_argument("--dataset", required=True, choices=data.DATASETS)
    q.add_argument("--generator", default="qwen2.5-coder-1.5b")
    q.add_argument("--encoder", default="all-MiniLM-L6-v2")
    q.add_argument("--data-root", default=None)
    q.set_defaults(func=_quality)

    tb = sub.add_parser("table", help="print our full-mode test metrics beside the paper's Table 2 (markdown)")
    tb.add_argument("--results-dir", default=None)
    tb.add_argument("--neggen", metavar="DATASET", choices=data.DATASETS, default=None,
                    help="instead: NegGen's variants beside Table 5, changed settings and sweeps on DATASET")
    tb.set_defaults(func=_table)

    sg = sub.add_parser("significance", help="paired t-tests over users: NegGen runs vs the best baseline we ran")
    sg.add_argument("--dataset", required=True, choices=data.DATASETS)
    sg.add_argument("--metric", default="recall@20")
    sg.add_argument("--results-dir", default=None)
    sg.add_argument("--write", action="store_true", help="also write RESULTS_DIR/<dataset>/significance.json")
    sg.set_defaults(func=_significance)

    f6 = sub.add_parser("fig6", help="Fig. 6 data (NDCG@20 vs convergence epoch per sampler) -> results/fig6.csv")
    f6.add_argument("--results-dir", default=None)
    f6.set_defaults(func=_fig6)

    rm = sub.add_parser("readme", help="regenerate results/README.md's tables from results/README.template.md")
    rm.add_argument("--results-dir", default=None)
    rm.set_defaults(func=_readme)

    args = p.parse_args(argv)
    try:  # the one error boundary: an expected error is one line on stderr and exit status 2
        if args.cmd in ("train", "sweep"):
            _check_train_args(args)
            _fill_defaults(args)
        return args.func(args)
    except (ExpectedError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if not isinstance(exc, OSError) or exc.filename is None or str(exc.filename) in text \
        else f"{exc.filename}: {text}"
