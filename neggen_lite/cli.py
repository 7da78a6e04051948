"""Command line: ``python -m neggen_lite {train,sweep,study,synthetic,stats,generate,merge,quality,table,
significance,fig6,readme} ...``. Argument parsing only: every command calls one function of the package; the
device (``--device``, default ``auto`` = CUDA when available) is resolved here once and passed down."""
from __future__ import annotations

import argparse
import sys

from .core import data
from .core.runtime import resolve_device
from .core.safety import ExpectedError, SettingsError, check_settings
from .experiments import generate as generation_runs
from .experiments import neggen_arms, runs, study
from .experiments.multimodal import MODELS as MULTIMODAL_MODELS
from .experiments.multimodal import choose_modalities
from .generation import pipeline
from .generation.encoding import DEFAULT_ENCODER
from .neggen.causal import ALIGN_FORMS, BASE_MODES, OBJECTIVES, VARIANTS, NegGenConfig
from .neggen.objectives import PICKS
from .neggen.train import DEFAULT_GENERATOR, SWEEPS
from .results import experiment, records, report, tables
from .training.trainer import MODES

#: ``train`` flags that only some models use (flag -> its ``args`` attribute, the models); any other model
#: given one is refused, so no flag is silently ignored
MODEL_FLAGS = {
    "--variant": ("variant", {"neggen"}), "--lam": ("lam", {"neggen"}), "--alpha": ("alpha", {"neggen"}),
    "--tau": ("tau", {"neggen"}), "--align": ("align", {"neggen"}), "--base": ("base", {"neggen"}),
    "--objective": ("objective", {"neggen"}), "--beta": ("beta", {"neggen"}), "--pick": ("pick", {"neggen"}),
    "--generator": ("generator", {"neggen", "freedom", "vbpr"}), "--encoder": ("encoder", {"neggen", *MULTIMODAL_MODELS}),
    "--modalities": ("modalities", set(MULTIMODAL_MODELS)), "--features-dir": ("features_dir", set(MULTIMODAL_MODELS)),
    "--sampler-arg": ("sampler_arg", {"lightgcn", "bpr"}), "--layers": ("layers", {"lightgcn", "neggen", *MULTIMODAL_MODELS}),
}
#: ``--sampler`` values per model (``None``: any registered sampler); of the multi-modal models only
#: FREEDOM takes Direct Generation negatives (Sec. 2, Fig. 2)
MODEL_SAMPLERS = {"neggen": ("uniform",), **{m: ("uniform",) for m in MULTIMODAL_MODELS},
                  "freedom": ("uniform", "direct")}


def _check_train_args(args) -> None:
    """Every ``train``/``sweep`` setting in range, and no flag the model does not use (before any work)."""
    check_settings(epochs=args.epochs, patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers,
                   dim=args.dim, batch_size=args.batch_size, threads=args.threads,
                   subset_users=getattr(args, "subset_users", None), lam=args.lam, alpha=args.alpha, tau=args.tau,
                   beta=args.beta)
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
    if args.beta is not None and args.objective != "repaired":
        raise SettingsError("--beta: used only by --objective repaired")
    if getattr(args, "pick", None) is not None and args.objective != "sampler":
        raise SettingsError("--pick: used only by --objective sampler")
    if getattr(args, "no_checkpoint", False) and (args.checkpoint or args.keep_checkpoint):
        raise SettingsError("--no-checkpoint: contradicts --checkpoint/--keep-checkpoint")


def _fill_defaults(args) -> None:
    """The defaults of the model-specific flags, applied after :func:`_check_train_args`."""
    if getattr(args, "generator", None) is None and hasattr(args, "generator"):
        args.generator = "auto"
    if getattr(args, "encoder", None) is None and hasattr(args, "encoder"):
        args.encoder = DEFAULT_ENCODER


def _train_overrides(args) -> dict:
    return dict(epochs=args.epochs, patience=args.patience, lr=args.lr, reg=args.reg, n_layers=args.layers,
                dim=args.dim, batch_size=args.batch_size)


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


def _settings(args, leave_out: str | None = None) -> tuple:
    return tuple((k, getattr(args, k)) for k in runs.SETTINGS if k != leave_out and getattr(args, k) is not None)


def _spec(args) -> runs.RunSpec:
    """The :class:`~neggen_lite.experiments.runs.RunSpec` the arguments describe."""
    model = getattr(args, "model", "neggen")
    kw = dict(dataset=args.dataset, model=model, seed=args.seed if args.seed is not None else runs.RunSpec.seed,
              subset_users=getattr(args, "subset_users", None), generator=args.generator)
    if model == "neggen":
        kw.update(variant=args.variant, settings=_settings(args, getattr(args, "param", None)))
    elif model in MULTIMODAL_MODELS:
        if args.sampler not in ("uniform", "direct"):
            raise SystemExit(f"error: --sampler {args.sampler!r}: {model} supports 'uniform' and 'direct'")
        ds = data.load(args.dataset, args.data_root)
        mods, notes = choose_modalities(ds, args.modalities, args.features_dir)
        for note in notes:
            print(note, file=sys.stderr)
        kw.update(sampler=args.sampler, modalities="".join(mods) if mods else None)
    else:
        kw.update(sampler=args.sampler, sampler_kwargs=tuple(_sampler_kwargs(args.sampler_arg).items()))
    return runs.RunSpec(**kw)


def _train(args) -> int:
    rec = runs.run(_spec(args), args.mode, args.device, args.out, keep_checkpoint=args.keep_checkpoint,
                   use_checkpoint=not args.no_checkpoint, checkpoint=args.checkpoint, threads=args.threads,
                   progress=not args.quiet, encoder=args.encoder, features_dir=args.features_dir, data_root=args.data_root,
                   **_train_overrides(args))
    print(report.run_summary(rec, rec["_path"]))
    return 0


def _sweep(args) -> int:
    for rec in runs.sweep(_spec(args), args.param, args.values or SWEEPS[args.param], args.mode, args.device,
                          args.force, args.encoder, not args.quiet, threads=args.threads, data_root=args.data_root,
                          **_train_overrides(args)):
        print(report.run_summary(rec, rec["_path"]))
    return 0


def _study(args) -> int:
    study.study(args.dataset, args.mode, args.seed, args.device, args.features_dir, args.generator, args.out_dir,
                args.threads, args.progress, epochs=args.epochs)
    return 0


def _synthetic(args) -> int:
    study.synthetic_study(args.epochs, args.seed, args.threads, device=args.device)
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
    counts = pipeline.merge(args.out, args.inputs)
    print(f"{args.out}: {counts['written']} records ({counts['duplicates_dropped']} duplicates dropped), "
          f"{counts['items_done']} items with a finished step")
    return 0


def _snapshot(args) -> int:
    m, out = generation_runs.snapshot(args.dataset, args.cache, args.encoder, args.data_root)
    print(f"{out}: {m['items']} of {m['items_with_text']} items, model-written {m['valid_rate']:.1%}, "
          f"refusals {m['refusals_share']:.1%}, {m['seconds'] / max(1, m['items']):.2f} s/item"
          + (" (a snapshot: resumable)" if m["snapshot"] else ""))
    return 0


def _plan(args) -> int:
    if args.ablations:
        objective, valid = experiment.best_objective(args.dataset)
        if objective is None:
            raise SystemExit(f"error: --ablations: the objective is chosen on validation Recall@20 of the generated "
                             f"arm, seeds {', '.join(map(str, experiment.CHOICE_SEEDS))}; {args.dataset} has it "
                             f"for {', '.join(valid) or 'none'} of {', '.join(neggen_arms.CAUSAL_OBJECTIVES)} -- "
                             f"train those first (plan without --ablations)")
        print(f"# objective {objective}: validation recall@20 "
              + ", ".join(f"{o} {v:.4f}" for o, v in valid.items()), file=sys.stderr)
        todo = runs.missing(neggen_arms.ablation_plan(args.dataset, objective, args.seeds))
    else:
        todo = runs.missing(neggen_arms.plan(args.dataset, args.seeds, args.objectives or neggen_arms.OBJECTIVES))
    for spec in todo:
        print(runs.command_line(spec, args.device))
    print(f"# {len(todo)} runs missing", file=sys.stderr)
    return 0


def _repair(args) -> int:
    res = pipeline.repair(args.cache)
    if res["backup"] is None:
        print(f"{args.cache}: all {res['members_kept']} members readable, nothing to repair")
    else:
        print(f"{args.cache}: kept {res['members_kept']} members ({res['records_kept']} records), dropped "
              f"{res['bytes_dropped']} bytes; the original is in {res['backup']}")
    return 0


def _generate(args) -> int:
    summary, path = generation_runs.generate(
        args.dataset, args.generator, args.device, args.out, args.limit, args.retries, args.batch_size, args.seed,
        args.direct, args.threads, args.dtype, args.shard, not args.quiet, args.data_root, args.describe, args.mask,
        args.runtime, args.llama_server)
    print(f"{args.dataset}/{path.name}: {summary['items']} items, valid {summary['valid_rate']:.1%}, "
          f"fallback {summary['fallback_rate']:.1%}, {summary['seconds_this_run']:.0f}s this run -> {path}")
    return 0


def _quality(args) -> int:
    rep, out = generation_runs.quality(args.dataset, args.generator, args.encoder, args.data_root)
    h, r = rep["hardness_model"], rep["hardness_rule_same_items"]
    print(f"{args.dataset}/{rep['generator']}: {rep['items']} items, valid {rep['valid_rate']:.1%}; cosine to the "
          f"original: generated {h['cos_original_generated']:.3f}, rule-based {r['cos_original_generated']:.3f}, "
          f"random item {h['cos_original_random_item']:.3f} -> {out}")
    return 0


def _sampler_audit(args) -> int:
    rep, out = generation_runs.sampler_quality(args.dataset, args.generator, args.encoder, args.data_root, args.device)
    n, u = rep["nearest"], rep["uniform"]
    print(f"{args.dataset}/{rep['negatives']}: {rep['pairs']} training pairs; negatives among the user's held-out "
          f"items: nearest {n['heldout_share']:.2%}, uniform {u['heldout_share']:.2%}; cosine to the positive: "
          f"nearest {n['cos_to_positive']:.3f}, uniform {u['cos_to_positive']:.3f} -> {out}")
    return 0


def _table(args) -> int:
    recs = records.load_results(args.results_dir or records.RESULTS_DIR, mode="full")
    if args.neggen:
        print(report.neggen_markdown(tables.load_neggen(records=recs), args.neggen), end="")
        return 0
    print(report.markdown_table(recs), end="")
    return 0


def _significance(args) -> int:
    rdir = args.results_dir or records.RESULTS_DIR
    md, out = report.write_significance(args.dataset, args.metric, rdir, write=args.write)
    if md is None:
        print(f"no full-mode NegGen runs for {args.dataset} under {rdir}", file=sys.stderr)
        return 1
    print(md, end="")
    if out is not None:
        print(f"-> {out}")
    return 0


def _fig6(args) -> int:
    rdir = args.results_dir or records.RESULTS_DIR
    df, out = report.write_fig6(rdir)
    if out is None:
        print(f"no full-mode LightGCN or NegGen w/o CF runs under {rdir}", file=sys.stderr)
        return 1
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"-> {out}")
    return 0


def _readme(args) -> int:
    rdir = args.results_dir or records.RESULTS_DIR
    try:
        out = report.write_readme(rdir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"-> {out}")
    return 0


def _neggen_args(p) -> None:
    defaults = NegGenConfig()
    g = p.add_argument_group("NegGen (--model neggen; Sec. 3.3-3.4)")
    g.add_argument("--variant", default=None, choices=VARIANTS, help="default full")
    g.add_argument("--lam", type=float, default=None, help=f"weight of the causal score (default {defaults.lam:g})")
    g.add_argument("--alpha", type=float, default=None, help=f"weight of L_align (default {defaults.alpha:g})")
    g.add_argument("--tau", type=float, default=None, help=f"temperature of L_align (default {defaults.tau:g})")
    g.add_argument("--align", default=None, choices=ALIGN_FORMS, help=f"Eq. 20 (default {defaults.align})")
    g.add_argument("--base", default=None, choices=BASE_MODES, help=f"pre-trained LightGCN (default {defaults.base})")
    g.add_argument("--objective", default=None, choices=OBJECTIVES,
                   help=f"default {defaults.objective}: the frozen base and Eq. 19-21 as printed; joint: base and "
                        "causal module on real triples; repaired: joint + the positive's counterfactual contrast; "
                        "sampler: LightGCN with the real item nearest to the generated negative as BPR negative")
    g.add_argument("--beta", type=float, default=None,
                   help=f"repaired: weight of the counterfactual term (default {defaults.beta:g})")
    g.add_argument("--pick", default=None, choices=PICKS,
                   help=f"sampler: how a pair's negative is picked (default {defaults.pick}: the first of the "
                        "32 nearest not the user's, fixed; nearest-fresh: a fresh draw among them at every use; "
                        "random-fixed: the fixed rule over 32 items drawn at random once)")
    g.add_argument("--generator", default=None, help="negatives: auto (the offline Qwen2.5-Coder-1.5B cache "
                   "where it exists, rule-based elsewhere), direct (Sec. 2.1's Direct Generation cache), rule, "
                   "a model name (NAME, NAME:text, NAME:text-rulemask), or a .jsonl.gz cache path; freedom/vbpr: the "
                   "Direct Generation cache of --sampler direct")
    g.add_argument("--encoder", default=None, help=f"text encoder (default {DEFAULT_ENCODER})")
    g.add_argument("--subset-users", type=int, default=None,
                   help="train on N random users only (smoke runs and tests; never for reported numbers)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m neggen_lite", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a recommender with BPR and write one result JSON")
    t.add_argument("--dataset", required=True, choices=data.DATASETS)
    t.add_argument("--model", default="lightgcn", choices=["lightgcn", "bpr", "neggen", *MULTIMODAL_MODELS])
    t.add_argument("--modalities", default=None, help="multi-modal models: t, v or vt (default: every modality with "
                   "features; offline that is t)")
    t.add_argument("--features-dir", default=None,
                   help="multi-modal models: folder with MMRec image_feat.npy/text_feat.npy")
    t.add_argument("--sampler", default="uniform", help="uniform, dns, mixgcf, dens, ahns or irgan")
    t.add_argument("--sampler-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a sampler hyper-parameter, repeatable (e.g. --sampler dns --sampler-arg M=100 "
                        "--sampler-arg N=2); defaults in neggen_lite/samplers/hard.py")
    t.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
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
    w.add_argument("--device", default="auto")
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

    st = sub.add_parser("study", help="Sec. 2 with FREEDOM: Table 1, Fig. 2, Fig. 3 where the data allows")
    st.add_argument("--dataset", required=True)
    st.add_argument("--mode", default="full", choices=MODES)
    st.add_argument("--seed", type=int, default=None)
    st.add_argument("--device", default="auto")
    st.add_argument("--features-dir", default=None, help="folder with MMRec image_feat.npy / text_feat.npy")
    st.add_argument("--generator", default="auto", help="Direct Generation cache (name or .jsonl.gz path)")
    st.add_argument("--out-dir", default=None)
    st.add_argument("--threads", type=int, default=None)
    st.add_argument("--epochs", type=int, default=None)
    st.add_argument("--progress", action="store_true")
    st.set_defaults(func=_study)

    y = sub.add_parser("synthetic", help="SYNTHETIC illustration of the gradient imbalance (not the paper's data)")
    y.add_argument("--epochs", type=int, default=20)
    y.add_argument("--seed", type=int, default=2025)
    y.add_argument("--threads", type=int, default=1)
    y.add_argument("--device", default="auto")
    y.set_defaults(func=_synthetic)

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
    g.add_argument("--describe", default="model", choices=["model", "text"],
                   help="model: the paper's three steps (a description written by the model, masked, completed); "
                        "text: no description step, mask and complete the item's own title (or keywords)")
    g.add_argument("--mask", default="model", choices=["model", "rule"],
                   help="with --describe text: model (the paper's masking prompt) or rule (the item's rarest "
                        "words in the dataset are masked; the model only completes)")
    g.add_argument("--retries", type=int, default=2)
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto")
    g.add_argument("--threads", type=int, default=None)
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="weight precision (auto: bf16 on CUDA, fp32 on CPU; bf16 is about 2x faster on CPUs with "
                        "AVX512-BF16/AMX; another precision than auto gives a cache of its own, e.g. <model>-bf16)")
    g.add_argument("--runtime", default="transformers", choices=["transformers", "llama.cpp"],
                   help="how an offline model or .gguf runs: transformers (dequantised, batched) or llama.cpp "
                        "(llama-server on the quantised GGUF, --batch-size parallel sequences; `make llama-server`)")
    g.add_argument("--llama-server", default=None, metavar="PATH",
                   help="with --runtime llama.cpp: the llama-server executable (default $NEGGEN_LLAMA_SERVER or PATH)")
    g.add_argument("--out", default=None, help="cache file (default results/generations/<dataset>/<generator>.jsonl.gz)")
    g.add_argument("--data-root", default=None)
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=_generate)

    mg = sub.add_parser("merge", help="merge generation caches (e.g. --shard outputs) into one, dropping duplicates")
    mg.add_argument("out", help="the merged cache, a new file (inputs are never written)")
    mg.add_argument("inputs", nargs="+", help="caches to merge, in order")
    mg.set_defaults(func=_merge)

    sn = sub.add_parser("snapshot", help="write the manifest of a generation cache as it stands (e.g. merged shards "
                                          "mid-run), from its records: items, model-written share, hardness")
    sn.add_argument("--dataset", required=True, choices=data.DATASETS)
    sn.add_argument("--cache", required=True, help="the .jsonl.gz cache; its manifest is written beside it")
    sn.add_argument("--encoder", default=DEFAULT_ENCODER)
    sn.add_argument("--data-root", default=None)
    sn.set_defaults(func=_snapshot)

    pl = sub.add_parser("plan", help="the missing runs of the NegGen negatives experiment, one command line each")
    pl.add_argument("--dataset", required=True, choices=data.DATASETS)
    pl.add_argument("--seeds", type=int, nargs="*", default=None, help="default: Baby 5 seeds, Beauty 3")
    pl.add_argument("--objectives", nargs="*", choices=neggen_arms.OBJECTIVES, default=None)
    pl.add_argument("--ablations", action="store_true",
                    help="instead: Table 5 and Fig. 7 under the objective chosen on validation (joint or repaired)")
    pl.add_argument("--device", default="auto")
    pl.set_defaults(func=_plan)

    rp = sub.add_parser("repair", help="keep the readable members of a damaged generation cache (after a backup)")
    rp.add_argument("cache")
    rp.set_defaults(func=_repair)

    q = sub.add_parser("quality", help="validity rates and hardness (cosine) of a generation cache")
    q.add_argument("--dataset", required=True, choices=data.DATASETS)
    q.add_argument("--generator", default=DEFAULT_GENERATOR)
    q.add_argument("--encoder", default=DEFAULT_ENCODER)
    q.add_argument("--data-root", default=None)
    q.set_defaults(func=_quality)

    sa = sub.add_parser("sampler-audit", help="how often the sampler objective's negatives are the user's held-out items")
    sa.add_argument("--dataset", required=True, choices=data.DATASETS)
    sa.add_argument("--generator", default="auto", help="whose negatives: auto (the three-step cache), direct, rule")
    sa.add_argument("--encoder", default=DEFAULT_ENCODER)
    sa.add_argument("--data-root", default=None)
    sa.add_argument("--device", default="auto")
    sa.set_defaults(func=_sampler_audit)

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
        if getattr(args, "device", None) is not None:
            args.device = resolve_device(args.device)  # once, for every stage the command runs
        return args.func(args)
    except (ExpectedError, OSError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if not isinstance(exc, OSError) or exc.filename is None or str(exc.filename) in text \
        else f"{exc.filename}: {text}"
