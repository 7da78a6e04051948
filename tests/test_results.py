import importlib
import json

import numpy as np
import pytest

from neggen_lite.core import metrics, paper, paths
from neggen_lite.experiments.multimodal import BASELINES, baseline_config
from neggen_lite.neggen import causal
from neggen_lite.results import quantities, records, report, tables


def _rec(dataset, model, seed, r20, mode="full"):
    m = {"recall@10": r20 / 2, "recall@20": r20, "ndcg@10": r20 / 4, "ndcg@20": r20 / 3}
    return {"dataset": dataset, "model": model, "sampler": "uniform", "variant": None, "seed": seed, "mode": mode,
            "epochs": 30, "best_epoch": 10, "valid": m, "test": m, "history": []}


def test_table_averages_seeds_and_sits_beside_the_paper(tmp_path):
    for seed, r20 in ((1, 0.07), (2, 0.08)):
        p = tmp_path / "baby" / f"lightgcn-uniform-seed{seed}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(_rec("baby", "lightgcn", seed, r20)))
    (tmp_path / "baby" / "smoke.json").write_text(json.dumps(_rec("baby", "lightgcn", 9, 0.5, mode="smoke")))
    (tmp_path / "baby" / "manifest.json").write_text(json.dumps({"dataset": "baby"}))  # not a run record
    recs = records.load_results(tmp_path)
    assert len(recs) == 2
    t = tables.comparison_table(recs)
    row = t.loc[("baby", "lightgcn")]
    assert row["seeds"] == 2
    assert row["ours recall@20"] == pytest.approx(0.075)
    assert row["paper recall@20"] == 0.0698
    assert row["R@20 ours/paper"] == pytest.approx(0.075 / 0.0698)
    md = report.markdown_table(recs)
    assert "| baby | lightgcn | 2 | 10 | Table 2 | 0.0375 / 0.0458 | 0.0750 / 0.0698 |" in md


def test_tuning_runs_are_kept_apart(tmp_path):
    _write(tmp_path, "lightgcn-uniform-seed1.json", _rec("baby", "lightgcn", 1, 0.077))
    _write(tmp_path, "tuning/vbpr-reg0.01-seed1.json", _rec("baby", "vbpr", 1, 0.05))
    assert [r["model"] for r in records.load_results(tmp_path)] == ["lightgcn"]
    assert [r["model"] for r in records.load_results(tmp_path, tuning=True)] == ["vbpr"]


def test_tuning_table_marks_the_reported_run():
    def run(model, reg, valid, seed=1, lr=1e-3):
        r = _rec("baby", model, seed, valid)
        r["config"] = {"reg": reg, "lr": lr}
        return r

    search = [run("vbpr", 0.01, 0.07), run("vbpr", 0.1, 0.06), run("mmgcn", 0.01, 0.053),
              run("mmgcn", 1e-4, 0.05, lr=1e-4)]
    reported = [run("vbpr", 0.01, 0.07), run("mmgcn", 1e-4, 0.054), run("mmgcn", 1e-4, 0.055, seed=2),
                run("bpr", 0.0, 0.06)]
    rows = report.tuning_rows(search, reported)
    assert [(t["model"], t["reg"], t["lr"], t["reported"]) for t in rows] == [
        ("mmgcn", 1e-4, 1e-4, False), ("mmgcn", 1e-4, 1e-3, True), ("mmgcn", 0.01, 1e-3, False),
        ("vbpr", 0.01, 1e-3, True), ("vbpr", 0.1, 1e-3, False)]
    md = report.tuning_markdown(search, reported)
    assert "| baby | mmgcn | 1 | 0.0001 | 0.001 | 10 | 0.0540 | 0.0540 | yes |" in md
    assert "| baby | mmgcn | 1 | 0.0001 | 0.0001 | 10 | 0.0500 | 0.0500 |  |" in md
    assert "| baby | vbpr | 1 | 0.1 | 0.001 | 10 |" in md


def test_bad_json_names_the_file(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"x\.json: not valid JSON"):
        records.load_results(tmp_path)


def test_committed_full_results_have_the_common_fields():
    fields = {"dataset", "model", "sampler", "variant", "seed", "mode", "config", "commit", "epochs", "best_epoch",
              "seconds", "valid", "test", "history"}
    recs = records.load_results()
    for r in recs:
        assert fields <= set(r), r["_path"]
        assert set(r["test"]) >= {"recall@10", "recall@20", "ndcg@10", "ndcg@20"}
        assert r["epochs"] == len(r["history"]) and 1 <= r["best_epoch"] <= r["epochs"]
        # the paper's batch 2048, or a baseline's published one (DiffMM: 1024)
        published = (getattr(baseline_config(r["model"], r["dataset"]), "batch_size", None)
                     if r["model"] in BASELINES else None)
        assert r["config"]["batch_size"] == (published or 2048) and r["config"]["dim"] == 64, r["_path"]
        # early stopping: ended 20 epochs after the best one, or at the 1000-epoch cap
        assert r["epochs"] - r["best_epoch"] == 20 or r["epochs"] == 1000


def _neggen_rec(seed, r20, variant="full", sweep=None, p=0.03, **kw):
    rec = _rec("baby", "neggen", seed, r20)
    rec["sampler"] = "uniform" if variant in ("w/o NEG", "w/o both") else "generated"
    rec["variant"] = variant
    rec["model_kwargs"] = {"lam": 0.5, "alpha": 0.01, "tau": 0.1, "variant": variant, "align": "bounded",
                           "base": "frozen", "generator": "auto", **kw}
    rec["config"] = {"model_kwargs": rec["model_kwargs"]}
    rec["base"] = {"test": {"recall@10": 0.05, "recall@20": 0.077, "ndcg@10": 0.026, "ndcg@20": 0.033}, "best_epoch": 103}
    rec["significance"] = {"vs": "lightgcn", "test": {m: {"mean_diff": r20 - 0.077, "t": 1.0, "p": p, "n_users": 10}
                                                      for m in metrics.METRICS}}
    rec["negatives"] = {"model_ok": 40, "model_fallback": 10, "rule": 5, "no_text": 3}
    if sweep:
        rec["sweep"] = {"param": sweep[0], "value": sweep[1]}
        rec["model_kwargs"][sweep[0]] = sweep[1]
    return rec


def _write(tmp_path, name, rec):
    p = tmp_path / "baby" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(rec))


def _neggen_dir(tmp_path):
    _write(tmp_path, "neggen-generated-full-seed1.json", _neggen_rec(1, 0.080, p=0.01))
    _write(tmp_path, "neggen-generated-full-seed2.json", _neggen_rec(2, 0.090, p=0.02))
    _write(tmp_path, "neggen-uniform-wo-NEG-seed1.json", _neggen_rec(1, 0.060, "w/o NEG"))
    _write(tmp_path, "neggen-generated-full-align_printed-seed1.json", _neggen_rec(1, 0.050, align="printed"))
    _write(tmp_path, "neggen-generated-full-base_finetune-seed1.json", _neggen_rec(1, 0.040, base="finetune"))
    for v, r20 in ((0.0, 0.07), (0.2, 0.075)):
        _write(tmp_path, f"sweeps/neggen-lam{v:g}-seed1.json", _neggen_rec(1, r20, sweep=("lam", v)))
    _write(tmp_path, "lightgcn-uniform-seed1.json", _rec("baby", "lightgcn", 1, 0.077))
    dns = _rec("baby", "lightgcn", 1, 0.072)
    dns["sampler"] = "dns"
    _write(tmp_path, "lightgcn-dns-seed1.json", dns)


def test_load_neggen_is_tidy_with_settings_sweeps_and_significance(tmp_path):
    _neggen_dir(tmp_path)
    df = tables.load_neggen(tmp_path, "baby")
    assert len(df) == 7 and set(df["dataset"]) == {"baby"}
    assert tables.load_neggen(tmp_path, "beauty").empty
    settings = df.groupby(["variant", "setting"]).size().to_dict()
    assert settings == {("full", "default"): 2, ("full", "align=printed"): 1, ("full", "base=finetune"): 1,
                        ("full", "sweep"): 2, ("w/o NEG", "default"): 1}
    sw = df[df["setting"] == "sweep"].sort_values("value")
    assert sw["param"].tolist() == ["lam", "lam"] and sw["value"].tolist() == [0.0, 0.2]
    assert sw["lam"].tolist() == [0.0, 0.2] and sw["recall@20"].tolist() == [0.07, 0.075]
    full = df[(df["variant"] == "full") & (df["setting"] == "default")].sort_values("seed")
    assert full["p recall@20"].tolist() == [0.01, 0.02]
    assert full["diff recall@20"].tolist() == pytest.approx([0.003, 0.013])
    assert full["base recall@20"].tolist() == [0.077, 0.077] and full["base best_epoch"].tolist() == [103, 103]
    assert full["model_negatives"].tolist() == [40, 40]  # model_ok only: a fallback is rule-based
    assert df.loc[df["setting"] == "align=printed", "align"].item() == "printed"


def test_mean_std_by_group_and_formatting(tmp_path):
    _neggen_dir(tmp_path)
    df = tables.load_neggen(tmp_path, "baby")
    ms = tables.mean_std(df[df["setting"] == "default"], ["variant"])
    assert ms.loc["full", "n"] == 2 and ms.loc["full", "seeds"] == [1, 2]
    assert ms.loc["full", "recall@20 mean"] == pytest.approx(0.085)
    assert ms.loc["full", "recall@20 std"] == pytest.approx(0.0070710678)  # sample std (ddof=1)
    assert ms.loc["w/o NEG", "n"] == 1 and ms.loc["w/o NEG", "recall@20 std"] != ms.loc["w/o NEG", "recall@20 std"]
    assert tables.fmt_mean_std(0.085, 0.00707, 2) == "0.0850 ± 0.0071 (2)"
    assert tables.fmt_mean_std(0.06, float("nan"), 1) == "0.0600 (1 seed)"
    assert tables.fmt_mean_std(float("nan"), float("nan"), 0) == "missing"
    assert tables.fmt_mean_std(0.085, 0.00707, 2, show_n=False) == "0.0850 ± 0.0071"
    assert tables.fmt_mean_std(0.06, float("nan"), 1, show_n=False) == "0.0600"
    assert tables.mean_std(df.iloc[:0], "variant").empty


def test_table2_rows_keep_samplers_and_neggen_apart(tmp_path):
    _neggen_dir(tmp_path)
    recs = records.load_results(tmp_path)
    assert [records.table_row(r) for r in recs].count("neggen") == 2  # only the default full runs
    t = tables.comparison_table(recs)
    assert set(t.index) == {("baby", "lightgcn"), ("baby", "dns"), ("baby", "neggen")}
    assert t.loc[("baby", "lightgcn"), "ours recall@20"] == pytest.approx(0.077)  # the DNS run is not averaged in
    assert t.loc[("baby", "dns"), "paper recall@20"] == 0.0725
    row = t.loc[("baby", "neggen")]
    assert row["seeds"] == 2 and row["ours recall@20"] == pytest.approx(0.085) and row["paper recall@20"] == 0.1065
    assert row["ours recall@20 std"] == pytest.approx(0.0070710678)
    frame = records.runs_frame(recs)
    assert len(frame) == 9 and frame["row"].isna().sum() == 5


def test_paper_tables_are_complete_and_defaults_match_the_code():
    from neggen_lite.neggen.causal import NegGenConfig

    datasets = ("baby", "beauty", "clothing", "sports")
    assert {r for r, _ in paper.PAPER_TABLE2} == set(paper.PAPER_ROW_NAMES) and len(paper.PAPER_TABLE2) == 60
    assert {(d, v) for d in datasets for v in causal.NEGGEN_VARIANTS} == set(paper.PAPER_TABLE5)
    assert {(d, v) for d in datasets for v in ("V", "T", "V&T")} == set(paper.PAPER_TABLE4)
    for d in datasets:  # Table 5's full NegGen row is Table 4's V&T row
        assert paper.PAPER_TABLE5[(d, "full")] == paper.PAPER_TABLE4[(d, "V&T")]
    cfg = NegGenConfig()
    assert {k: getattr(cfg, k) for k in records.NEGGEN_DEFAULTS} == records.NEGGEN_DEFAULTS


def _per_user(tmp_path, name, values, users=None):
    from neggen_lite.core.metrics import save_per_user
    from neggen_lite.core.paths import per_user_path

    users = np.arange(len(values)) if users is None else users
    save_per_user(per_user_path(tmp_path / "baby" / name), {"users": users, "per_user": {"recall@20": np.asarray(values)}})


def test_significance_against_the_best_baseline(tmp_path):
    from scipy import stats

    _neggen_dir(tmp_path)  # baselines: LightGCN 0.077 (best), DNS 0.072; NegGen full seeds 1 and 2, w/o NEG seed 1
    rng = np.random.default_rng(0)
    base = rng.random(40).astype(np.float32)
    ours1 = (base + 0.05 + 0.01 * rng.standard_normal(40)).astype(np.float32)
    _per_user(tmp_path, "lightgcn-uniform-seed1.json", base)
    _per_user(tmp_path, "lightgcn-dns-seed1.json", base - 0.5)  # not the best baseline: never compared with
    _per_user(tmp_path, "neggen-generated-full-seed1.json", ours1)
    _per_user(tmp_path, "neggen-generated-full-seed2.json", base)
    _per_user(tmp_path, "neggen-generated-full-align_printed-seed1.json", base)  # changed setting: left out
    df = tables.significance_table("baby", results_dir=tmp_path)
    assert list(zip(df.variant, df.seed)) == [("full", 1), ("full", 2), ("w/o NEG", 1)]
    assert set(df.baseline) == {"lightgcn"}
    r1 = df.iloc[0]
    t, p = stats.ttest_rel(ours1.astype(np.float64), base.astype(np.float64))
    assert r1["baseline seed"] == 1 and r1.note == "" and r1.n_users == 40
    assert r1.p == pytest.approx(p) and r1.t == pytest.approx(t)
    assert r1.mean_diff == pytest.approx(float((ours1.astype(np.float64) - base).mean()))
    r2 = df.iloc[1]  # no LightGCN run of seed 2: paired with seed 1's, and says so
    assert r2["baseline seed"] == 1 and r2.note == "baseline of another seed" and r2.mean_diff == pytest.approx(0)
    r3 = df.iloc[2]  # no per-user file: no p-value, and the note says which file is missing
    assert np.isnan(r3.p) and "neggen-uniform-wo-NEG-seed1.per_user.npz" in r3.note
    _per_user(tmp_path, "neggen-uniform-wo-NEG-seed1.json", base[:-1], users=np.arange(39))
    r3 = tables.significance_table("baby", results_dir=tmp_path).iloc[2]
    assert np.isnan(r3.p) and "different users" in r3.note


def test_significance_cli_writes_json(tmp_path, capsys):
    from neggen_lite.cli import main

    _neggen_dir(tmp_path)
    assert main(["significance", "--dataset", "baby", "--results-dir", str(tmp_path), "--write"]) == 0
    out = json.loads((tmp_path / "baby" / "significance.json").read_text())
    assert out["metric"] == "recall@20" and len(out["rows"]) == 3 and out["rows"][0]["p"] is None
    assert "no per-user file for lightgcn" in capsys.readouterr().out
    assert main(["significance", "--dataset", "beauty", "--results-dir", str(tmp_path)]) == 1


def test_fig6_frame_and_cli(tmp_path, capsys):
    from neggen_lite.cli import main

    _neggen_dir(tmp_path)  # LightGCN uniform (seed 1) and DNS (seed 1), no w/o CF yet
    for seed, (ep, n20) in ((1, (4, 0.030)), (2, (6, 0.034))):
        rec = _neggen_rec(seed, 0.08, "w/o CF")
        rec["best_epoch"], rec["test"]["ndcg@20"] = ep, n20
        _write(tmp_path, f"neggen-generated-wo-CF-seed{seed}.json", rec)
    df = tables.fig6_frame(records.load_results(tmp_path)).set_index("method")
    assert sorted(df.index) == ["dns", "neggen w/o CF", "uniform"]  # full NegGen, w/o NEG, sweeps left out
    w = df.loc["neggen w/o CF"]
    assert w["seeds"] == 2 and w["convergence epoch"] == 5 and w["epochs incl. base"] == 5 + 103
    assert w["ndcg@20"] == pytest.approx(0.032) and w["ndcg@20 std"] == pytest.approx(np.std([0.030, 0.034], ddof=1))
    assert df.loc["dns", "convergence epoch"] == 10 and df.loc["dns", "epochs incl. base"] == 10
    assert main(["fig6", "--results-dir", str(tmp_path)]) == 0
    csv = (tmp_path / "fig6.csv").read_text().splitlines()
    assert csv[0].startswith("dataset,method,seeds,convergence epoch") and len(csv) == 4
    capsys.readouterr()
    assert main(["fig6", "--results-dir", str(tmp_path / "none")]) == 1


def test_multimodal_rows_name_their_modalities(tmp_path):
    def mm(variant, modalities, source="uniform", r20=0.09):
        rec = _rec("baby", "freedom", 1, r20)
        rec.update(variant=variant, modalities=modalities, negatives={"source": source})
        return rec

    assert records.table_row(mm("T", ["t"])) == "freedom (T)"
    assert records.table_row(mm("V&T", ["v", "t"])) == "freedom"
    assert records.table_row(mm("T", ["t"], source="direct")) is None  # Fig. 2 runs are no Table 2 row
    t = tables.comparison_table([mm("T", ["t"]), mm("V&T", ["v", "t"], r20=0.1)])
    # the text-only run sits beside Table 1's T row, the two-modality run beside Table 2's FREEDOM row
    assert t.loc[("baby", "freedom (T)"), "paper recall@20"] == paper.PAPER_TABLE1[("baby", "T")][1]
    assert t.loc[("baby", "freedom"), "paper recall@20"] == paper.PAPER_TABLE2[("freedom", "baby")][1]
    assert t.loc[("baby", "freedom (T)"), "paper row"] == "Table 1 (T)"
    assert t.loc[("baby", "freedom (T)"), "R@20 ours/paper"] == pytest.approx(0.09 / paper.PAPER_TABLE1[("baby", "T")][1])
    row, runs = tables.best_baseline([mm("T", ["t"]), _rec("baby", "lightgcn", 1, 0.08)], "baby")
    assert row == "freedom (T)" and len(runs) == 1


def test_text_only_baselines_sit_beside_the_papers_two_modality_row_without_a_ratio():
    bm3 = _rec("baby", "bm3", 1, 0.08)
    bm3.update(variant="T", modalities=["t"], negatives={"source": "uniform"})
    assert records.table_row(bm3) == "bm3 (T)"
    t = tables.comparison_table([bm3, _rec("baby", "lightgcn", 1, 0.07)])
    r = t.loc[("baby", "bm3 (T)")]
    assert r["paper row"] == "Table 2 (V&T)" and r["paper recall@20"] == paper.PAPER_TABLE2[("bm3", "baby")][1]
    assert np.isnan(r["R@20 ours/paper"])       # another setting: shown, never divided into ours
    assert t.loc[("baby", "lightgcn"), "paper row"] == "Table 2"
    assert tables.paper_numbers("bm3 (T)", "clothing")[1] == "Table 2 (V&T)"
    assert tables.paper_numbers("nosuch (T)", "baby") == (None, "")
    md = report.markdown_table([bm3])
    assert "| baby | bm3 (T) | 1 | 10 | Table 2 (V&T) | " in md and "0.0800 / 0.0873" in md
    # the best baseline is read from every row we ran, the text-only models included
    assert tables.best_baseline([bm3, _rec("baby", "lightgcn", 1, 0.07)], "baby")[0] == "bm3 (T)"


def test_neggen_markdown_and_cli(tmp_path, capsys):
    from neggen_lite.cli import main

    _neggen_dir(tmp_path)
    md = report.neggen_markdown(tables.load_neggen(tmp_path), "baby")
    full = next(line for line in md.splitlines() if line.startswith("| full |"))
    # seeds 1, 2 at 0.080 and 0.090: mean 0.0850, std 0.0071; paper 0.1065; stored p-values 0.01, 0.02
    assert "| 1, 2 | 0.0850 ± 0.0071 / 0.1065 |" in full and "| 0.01, 0.02 |" in full
    assert "`align=printed` (seed 1): test recall@20 0.0500" in md and "| lam | 0.2 | 1 | 0.0750 |" in md
    assert report.neggen_markdown(tables.load_neggen(tmp_path), "sports").startswith("_no full-mode")
    assert main(["table", "--neggen", "baby", "--results-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == md


def test_readme_template_is_filled_and_unknown_placeholders_name_their_line(tmp_path, capsys):
    from neggen_lite.cli import main

    _neggen_dir(tmp_path)
    tpl = "# R\n\n{TABLE2}\nsets {1e-4, 1e-3} stay\n{NEGGEN:baby}\n{FIG6}\n{SIG:baby}\n"
    text = report.render_readme(tpl, tmp_path)
    assert "{" not in text.replace("{1e-4, 1e-3}", "") and "sets {1e-4, 1e-3} stay" in text
    assert report.markdown_table(records.load_results(tmp_path)) in text
    assert "| full | 1, 2 | 0.0850 ± 0.0071 / 0.1065 |" in text and "| baby | dns | 1 |" in text
    with pytest.raises(ValueError, match=r"line 3: unknown placeholder '\{TABEL2\}'"):
        report.render_readme("a\n\n{TABEL2}\n", tmp_path)
    (tmp_path / "README.template.md").write_text(tpl)
    assert main(["readme", "--results-dir", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == text
    (tmp_path / "README.template.md").write_text("{NOPE}\n")
    assert main(["readme", "--results-dir", str(tmp_path)]) == 2
    assert "unknown placeholder '{NOPE}'" in capsys.readouterr().err


def test_generations_table_reads_each_manifest(tmp_path):
    gen = tmp_path / "generations" / "beauty"
    gen.mkdir(parents=True)
    (gen / "m-llamacpp.text-rulemask.jsonl.gz").write_bytes(b"")
    (gen / "m-llamacpp.text-rulemask.manifest.json").write_text(json.dumps({
        "dataset": "beauty", "generator": "m-llamacpp", "pipeline": "rule masking>completion", "items": 200,
        "items_with_text": 1000, "snapshot": True, "valid_rate": 0.98, "refusals_share": 0.01, "seconds": 300.0,
        "hardness_model": {"cos_original_generated": 0.87, "cos_original_random_item": 0.39},
        "hardness_rule_same_items": {"cos_original_generated": 0.75}}))
    (gen / "other-bf16.direct.jsonl.gz").write_bytes(b"")  # a cache without a manifest
    (gen / "other-bf16.direct.manifest.json.tmp").write_text("{")  # not a manifest
    md = report.generations_markdown(tmp_path)
    row = next(line for line in md.splitlines() if "`m-llamacpp.text-rulemask`" in line)
    assert row == ("| beauty | `m-llamacpp.text-rulemask` | rule masking>completion | 200 of 1,000 (snapshot) | 98.0 % "
                   "| 1.0 % | 1.50 | llama.cpp (GGUF q4_k_m) | 0.870 / 0.750 / 0.390 |")
    assert "| beauty | `other-bf16.direct` | no manifest |" in md
    assert report.render_readme("{GENERATIONS}\n", tmp_path) == md + "\n"


def test_revalidated_table_counts_what_todays_validator_rejects_in_each_cache(tmp_path):
    from conftest import random_dataset
    from neggen_lite.generation import pipeline

    ds = random_dataset(n_items=12, per_user=(4, 8))
    ds.side = {"title": ["red ball toy", "blue car toy", "green [2 pack] cup"] + [f"item {k}" for k in range(9)]}
    gen = tmp_path / "generations" / "baby"
    gen.mkdir(parents=True)
    cache = gen / "m-bf16.direct.jsonl.gz"
    ok = {"step": "direct_generation", "status": "ok", "attempt": 0}
    pipeline.GenerationCache(cache).append([
        {**ok, "item": 0, "output": "None"}, {**ok, "item": 1, "output": "Title: grey [UNKNOWN] toy"},
        {**ok, "item": 2, "output": "Title: white [2 pack] mug"}])  # a bracket its text holds is no fill
    (gen / "m-bf16.direct.manifest.json").write_text("{}")
    (gen / "other-bf16.direct.jsonl.gz").write_bytes(b"")  # no manifest: not listed
    before = cache.read_bytes()
    md = report.revalidated_markdown(tmp_path, load_dataset=lambda name: ds)
    assert md.splitlines()[2:] == ["| baby | `m-bf16.direct` | 3 | 2 (66.7 %) "
                                   "| a bracketed fill 1; a refusal or placeholder 1 |"]
    assert cache.read_bytes() == before


def test_committed_results_readme_is_up_to_date():
    # results/README.md is generated: committing results without `make results-readme` fails here
    expected = report.render_readme(report.README_TEMPLATE.read_text())
    assert (paths.RESULTS_DIR / "README.md").read_text() == expected, "run `make results-readme`"


def _sports_dns_without_uniform(tmp_path):
    # a sampler run on a dataset with no uniform LightGCN run to compare it with
    lonely = _rec("sports", "lightgcn", 1, 0.09)
    lonely["sampler"] = "dns"
    (tmp_path / "sports").mkdir()
    (tmp_path / "sports" / "lightgcn-dns-seed1.json").write_text(json.dumps(lonely))


def test_sampler_markdown_sets_each_sampler_beside_uniform_and_the_paper(tmp_path):
    _neggen_dir(tmp_path)  # baby: uniform LightGCN 0.077 and DNS 0.072 (seed 1, best epoch 10 each)
    _sports_dns_without_uniform(tmp_path)
    md = report.sampler_markdown(records.load_results(tmp_path))
    # 0.072 / 0.077 - 1 = -6.5 %; the paper's DNS 0.0725 against its LightGCN 0.0698 = +3.9 %
    assert "| baby | dns | 1 | 0.0720 | -6.5% | 10 (10) | 0.0725 | +3.9% |" in md
    assert "sports" not in md  # no uniform run to compare with
    assert "| baby | 0.0" not in md and md.count("\n|") == 2
    # the computed summary under the table: DNS converges at the same epoch as uniform and ends lower
    assert ("Over 1 cell (dataset, sampler): 0 converge sooner than uniform, at mean best epochs 10-10 against "
            "uniform's 10-10; 0 end with a higher test recall@20.\n") in md
    # the runs still owed: every sampler below three seeds, a missing one with 0
    assert md.endswith("Fewer than 3 seeds so far (seeds in brackets): baby: dns (1), mixgcf (0), dens (0), "
                       "ahns (0), irgan (0).\n")
    second = _rec("baby", "lightgcn", 2, 0.076)
    second["sampler"] = "dns"
    (tmp_path / "baby" / "lightgcn-dns-seed2.json").write_text(json.dumps(second))
    md = report.sampler_markdown(records.load_results(tmp_path), min_seeds=2)
    # mean 0.074 ± sample std 0.0028 over two seeds, now +/-3.9 % against uniform; dns no longer owed
    assert "| baby | dns | 2 | 0.0740 ± 0.0028 | -3.9% |" in md
    assert "baby: mixgcf (0), dens (0), ahns (0), irgan (0)." in md
    assert "; seed std of test recall@20 0.0028-0.0028 over the 1 cell with several seeds." in md
    with pytest.raises(ValueError, match="metric must be one of"):
        report.sampler_markdown([], metric="recall@10")


def test_sampler_vs_uniform_compares_each_sampler_with_the_same_dataset_uniform_run(tmp_path):
    _neggen_dir(tmp_path)  # baby: uniform LightGCN 0.077 and DNS 0.072, both best at epoch 10 (seed 1)
    mix = _rec("baby", "lightgcn", 1, 0.080)
    mix.update(sampler="mixgcf", best_epoch=4)
    _write(tmp_path, "lightgcn-mixgcf-seed1.json", mix)
    _sports_dns_without_uniform(tmp_path)
    sv = tables.sampler_vs_uniform(records.load_results(tmp_path))
    # sports has no uniform run; NegGen w/o CF (a Fig. 6 method) is no sampler; uniform first, then paper order
    assert list(zip(sv.dataset, sv.sampler)) == [("baby", "uniform"), ("baby", "dns"), ("baby", "mixgcf")]
    r = sv.set_index("sampler")
    assert r.loc["uniform", "vs uniform"] == 0 and r.loc["uniform", "paper vs its LightGCN"] == 0
    assert r.loc["dns", "vs uniform"] == pytest.approx(0.072 / 0.077 - 1)
    assert r.loc["dns", "paper vs its LightGCN"] == pytest.approx(0.0725 / 0.0698 - 1)
    assert not r.loc["dns", "sooner"] and not r.loc["dns", "better"]  # same epoch, lower recall
    assert r.loc["mixgcf", "sooner"] and r.loc["mixgcf", "better"]
    assert r.loc["mixgcf", "epochs vs uniform"] == pytest.approx(0.4)
    nd = tables.sampler_vs_uniform(records.load_results(tmp_path), metric="ndcg@20").set_index("sampler")
    assert nd.loc["mixgcf", "ndcg@20"] == pytest.approx(0.080 / 3)  # _rec sets ndcg@20 = r20 / 3
    assert nd.loc["mixgcf", "paper ndcg@20"] == 0.0341
    assert tables.sampler_vs_uniform([]).empty
    with pytest.raises(ValueError, match="metric must be one of"):
        tables.sampler_vs_uniform([], metric="recall@10")


def test_fig2_pairs_direct_with_uniform_freedom_runs():
    def fr(dataset, source, seed, r20, share=None):
        rec = _rec(dataset, "freedom", seed, r20)
        neg = {"source": source}
        if source == "direct":
            neg.update(generator="g-bf16", share_of_train_positives=share)
        rec.update(variant="T", modalities=["t"], negatives=neg)
        return rec

    recs = [fr("baby", "uniform", 1, 0.10), fr("baby", "uniform", 2, 0.12), fr("baby", "direct", 1, 0.09, 0.5),
            fr("baby", "direct", 2, 0.1, 0.5), fr("beauty", "uniform", 1, 0.15),   # beauty: no direct run
            _rec("baby", "lightgcn", 1, 0.2)]                                     # not FREEDOM
    t = tables.fig2_table(recs)
    assert t[["dataset", "negatives", "seeds"]].values.tolist() == [["baby", "uniform", 2], ["baby", "direct", 2]]
    d = t.iloc[1]
    assert d["recall@20"] == pytest.approx(0.095) and d["recall@20 std"] == pytest.approx(np.std([0.09, 0.1], ddof=1))
    assert d["recall@20 vs uniform"] == pytest.approx(0.095 / 0.11 - 1) and d["generated share"] == 0.5
    assert d["generator"] == "g-bf16" and np.isnan(t.iloc[0]["recall@20 vs uniform"])
    md = report.fig2_markdown(recs)
    assert "| baby | T | 0.0001 (MMRec) | direct | 2 | 0.0475 ± 0.0035 | 0.0950 ± 0.0071 |" in md and "-13.6%" in md
    assert ("With text-term weight 0.0001 (MMRec), Direct Generation negatives end below uniform sampling in test "
            "Recall@20 on baby (the paper" in md and "beauty" not in md)
    up = [fr("baby", "uniform", 1, 0.10), fr("baby", "direct", 1, 0.12, 0.9)]
    assert "on no dataset and at or above it on baby" in report.fig2_markdown(up)
    assert tables.fig2_table(recs[-2:]).empty and "No dataset has both" in report.fig2_markdown(recs[-2:])
    # runs with another weight on the text term form their own pair, and are no Table 1/2 row
    heavy = [dict(fr("baby", neg, 1, r20, 0.5), config={"reg": 1.0}) for neg, r20 in (("uniform", 0.08), ("direct", 0.06))]
    t2 = tables.fig2_table(recs + heavy)
    assert t2[["text weight", "negatives", "seeds"]].values.tolist() == [
        [1e-4, "uniform", 2], [1e-4, "direct", 2], [1.0, "uniform", 1], [1.0, "direct", 1]]
    assert t2.iloc[3]["recall@20 vs uniform"] == pytest.approx(0.06 / 0.08 - 1)
    assert t2.iloc[1]["recall@20 vs uniform"] == pytest.approx(0.095 / 0.11 - 1)   # unchanged by the heavy pair
    md2 = report.fig2_markdown(recs + heavy)
    assert "| baby | T | 1 | direct | 1 | 0.0300 |" in md2 and "With text-term weight 1, Direct Generation" in md2
    assert records.table_row(heavy[0]) is None and records.table_row(recs[0]) == "freedom (T)"
    # a uniform seed without its direct run stays in the uniform row but not in the change (Beauty: uniform
    # seeds 2025 and 2026, direct 2025 only, read +0.6 % against the mean of both; same seed, +0.0 %)
    extra = recs + [fr("baby", "uniform", 3, 0.20)]
    t3 = tables.fig2_table(extra)
    assert t3.iloc[0]["seeds"] == 3 and t3.iloc[0]["recall@20"] == pytest.approx(0.14)
    assert t3.iloc[1]["recall@20 vs uniform"] == pytest.approx(0.095 / 0.11 - 1)
    assert t3.iloc[1]["paired seeds"] == 2 and np.isnan(t3.iloc[0]["paired seeds"])


def test_fig2_significance_pairs_each_direct_run_with_its_seeds_uniform_run(tmp_path):
    from scipy import stats

    from neggen_lite.core.metrics import load_per_user

    def fr(source, seed, r20):
        rec = _rec("baby", "freedom", seed, r20)
        rec.update(variant="T", modalities=["t"], negatives={"source": source})
        return rec

    rng = np.random.default_rng(0)
    uni = rng.random(50)
    for name, rec, values in (("freedom-uniform-t-seed1.json", fr("uniform", 1, 0.10), uni),
                              ("freedom-direct-t-seed1.json", fr("direct", 1, 0.09), uni - 0.01 * rng.random(50)),
                              ("freedom-uniform-t-seed2.json", fr("uniform", 2, 0.11), None),   # no per-user file
                              ("freedom-direct-t-seed2.json", fr("direct", 2, 0.10), uni),
                              ("freedom-direct-t-seed3.json", fr("direct", 3, 0.10), uni)):     # no uniform seed 3
        _write(tmp_path, name, rec)
        if values is not None:
            _per_user(tmp_path, name, values)
    sig = tables.fig2_significance(records.load_results(tmp_path))
    assert sig["seed"].tolist() == [1, 2]
    one, two = sig.iloc[0], sig.iloc[1]
    d = load_per_user(tmp_path / "baby" / "freedom-direct-t-seed1.per_user.npz")["per_user"]["recall@20"]
    assert one["p"] == pytest.approx(stats.ttest_rel(d, uni).pvalue) and one["mean_diff"] < 0 and one["n_users"] == 50
    assert one["direct"] == 0.09 and one["uniform"] == 0.10 and one["note"] == ""
    assert np.isnan(two["p"]) and "freedom-uniform-t-seed2.per_user.npz" in two["note"]
    md = report.fig2_markdown(records.load_results(tmp_path))
    assert f"baby, weight 0.0001, seed 1: {one['mean_diff']:+.4f}, p = {one['p']:.2g}." in md and "seed 2:" not in md


def test_ranking_objective_runs_and_their_sweeps_stay_out_of_the_printed_objectives_section(tmp_path):
    _neggen_dir(tmp_path)
    _write(tmp_path, "neggen-generated-full-objective_repaired-seed1.json",
           _neggen_rec(1, 0.031, base="finetune", objective="repaired"))
    sweep = _neggen_rec(1, 0.032, sweep=("lam", 0.2), base="finetune", objective="repaired")
    _write(tmp_path, "sweeps/neggen-objective_repaired-lam0.2-seed1.json", sweep)
    assert records.neggen_setting(sweep) == "sweep:base=finetune,objective=repaired"
    assert records.neggen_setting(_neggen_rec(1, 0.07, sweep=("lam", 0.2))) == "sweep"
    md = report.neggen_markdown(tables.load_neggen(tmp_path), "baby")
    assert "0.031" not in md and "0.032" not in md and "objective" not in md
    assert "| lam | 0.2 | 1 | 0.0750 |" in md            # Eq. 19-21's own sweep is still there


def test_baselines_table_lists_every_model_and_text_dataset_with_what_is_missing():
    runs = []
    for seed, r20 in ((1, 0.08), (2, 0.09)):
        rec = _rec("baby", "dragon", seed, r20)
        rec.update(variant="T", modalities=["t"], negatives={"source": "uniform"}, seconds=600.0)
        runs.append(rec)
    md = report.baselines_markdown(runs)
    assert "| dragon | baby | 1, 2 | 0.0850 ± 0.0071 | 0.0996 | 10, 10 | 10, 10 |" in md
    assert "| dragon | sports | not run | | 0.1085 | | |" in md
    assert md.count("not run") == 5 * 3 - 1 and "clothing" not in md


def test_bench_mm_markdown_reads_the_benchmark_file_and_names_what_has_no_reference(tmp_path):
    assert "not measured yet" in report.bench_mm_markdown(tmp_path / "none.json")
    side = {"epoch_s": 2.0, "eval_s": 1.0, "recall@20": 0.05, "cpu_share": 0.9}
    bench = {"dataset": "baby", "modalities": "vt", "epochs": 3, "timed_epochs": "epochs 2..", "threads": 1,
             "commit": "abcdef1234567", "load_average": [1.0, 1.0, 1.0], "cpu_count": 2,
             "results": [{"model": "bm3", "ours": side, "reference": {**side, "epoch_s": 5.0, "eval_s": 1.5},
                          "epoch_ratio": 2.5, "eval_ratio": 1.5},
                         {"model": "diffmm", "ours": side, "reference": None, "reference_note": "no CPU reference"}]}
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_mm_markdown(tmp_path / "b.json")
    assert "| bm3 | 5.00 | 2.00 | 2.50x | 1.50 | 1.00 | 1.50x | 0.0500 / 0.0500 | 0.90 / 0.90 |" in md
    assert "| diffmm | — | 2.00 | — |" in md and "* diffmm: no CPU reference" in md and "commit abcdef123" in md
    assert "per epoch: met by every model with a reference (bm3)." in md
    bench["results"][0].update(cpu_epoch_ratio=1.8, cpu_eval_ratio=1.2)
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_mm_markdown(tmp_path / "b.json")
    assert "| bm3 | 5.00 | 2.00 | 2.50x (1.80x CPU) | 1.50 | 1.00 | 1.50x (1.20x CPU) |" in md
    assert "met by every model with a reference (bm3); in CPU seconds (measured for bm3): met by none, not by bm3." in md
    for k in ("cpu_epoch_ratio", "cpu_eval_ratio"):
        del bench["results"][0][k]
    # rows replaced by a later `--update` run carry their own commit and load average
    bench["results"][0].update(commit="0123456789ab", load_average=[2.5, 2.0, 2.0])
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_mm_markdown(tmp_path / "b.json")
    assert "commit 012345678, load average 2.5 (bm3); commit abcdef123, load average 1.0 (diffmm)." in md


def test_bench_mm_update_replaces_only_the_models_it_ran(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(paths.REPO_ROOT / "benchmarks"))
    bench = importlib.import_module("bench_mm_models")
    setting = {"dataset": "baby", "modalities": "vt", "epochs": 3, "seed": 2025, "threads": 1}
    old = setting | {"commit": "old", "date": "d0", "load_average": [3.7, 3, 3],
                     "results": [{"model": "lgmrec", "ours": 1}, {"model": "bm3", "ours": 2}]}
    (tmp_path / "b.json").write_text(json.dumps(old))
    rows = bench.merged_rows(tmp_path / "b.json", [{"model": "bm3", "ours": 3, "commit": "new"}], setting)
    assert rows == [{"commit": "old", "date": "d0", "load_average": [3.7, 3, 3], "model": "lgmrec", "ours": 1},
                    {"model": "bm3", "ours": 3, "commit": "new"}]
    with pytest.raises(SystemExit, match="b.json: --update needs the same modalities"):
        bench.merged_rows(tmp_path / "b.json", [], setting | {"modalities": "t"})


def test_best_baseline_compares_rows_on_their_shared_seeds():
    # DNS's lucky seed 4 does not outrank LightGCN's three seeds: both have seed 1, where LightGCN wins
    lightgcn = [_rec("baby", "lightgcn", s, v) for s, v in ((1, 0.080), (2, 0.070), (3, 0.070))]
    dns = [_rec("baby", "lightgcn", 1, 0.075), _rec("baby", "lightgcn", 4, 0.090)]
    for r in dns:
        r["sampler"] = "dns"
    row, runs = tables.best_baseline(lightgcn + dns, "baby")
    assert row == "lightgcn" and [r["seed"] for r in runs] == [1, 2, 3]
    # by the mean over each row's own seeds DNS would have won (0.0825 vs 0.0733)
    # no seed in common: each row's own mean decides
    row, _ = tables.best_baseline([_rec("baby", "lightgcn", 1, 0.080), dict(dns[1], seed=5)], "baby")
    assert row == "dns"
    # two rows on three seeds are compared on all three, whatever row has one seed: DNS is ahead of LightGCN
    # on seeds 1-3 (0.0767 vs 0.0733) though LightGCN wins seed 1, the one seed BPR shares with both
    dns3 = [dict(_rec("baby", "lightgcn", s, v), sampler="dns") for s, v in ((1, 0.075), (2, 0.078), (3, 0.077))]
    bpr = [dict(_rec("baby", "lightgcn", 1, 0.050), model="bpr")]
    assert tables.table_row(bpr[0]) == "bpr"
    row, runs = tables.best_baseline(lightgcn + dns3 + bpr, "baby")
    assert row == "dns" and [r["seed"] for r in runs] == [1, 2, 3]
    # a cycle (A ahead of B on seed 1, B ahead of C on seed 2, C ahead of A on seed 3): the seeds all share
    # decide -- none here, so each row's own mean
    a = [_rec("baby", "lightgcn", 1, 0.09), _rec("baby", "lightgcn", 3, 0.05)]
    b = [dict(_rec("baby", "lightgcn", s, v), sampler="dns") for s, v in ((1, 0.08), (2, 0.09))]
    c = [dict(_rec("baby", "lightgcn", s, v), sampler="mixgcf") for s, v in ((2, 0.08), (3, 0.06))]
    row, _ = tables.best_baseline(a + b + c, "baby")
    assert row == "dns"  # own means: lightgcn 0.070, dns 0.085, mixgcf 0.070


def test_generation_speed_reads_the_manifest_hardness(tmp_path):
    cache = tmp_path / "m.text-rulemask.jsonl.gz"
    cache.write_bytes(b"")
    (tmp_path / "m.text-rulemask.manifest.json").write_text(json.dumps({
        "dataset": "baby", "generator": "m", "items": 40, "seconds": 100.0, "valid_rate": 0.95,
        "hardness_model": {"cos_original_generated": 0.84, "cos_original_random_item": 0.24},
        "hardness_rule_same_items": {"cos_original_generated": 0.82}}))
    speed = quantities.generation_speed(cache)
    assert speed["seconds_per_item"] == 2.5 and speed["items"] == 40
    assert speed["hardness"] == {"model": 0.84, "rule": 0.82, "random": 0.24}
    (tmp_path / "m.text-rulemask.manifest.json").write_text(json.dumps({"items": 4, "seconds": 1.0}))
    assert quantities.generation_speed(cache)["hardness"] == {"model": None, "rule": None, "random": None}


def test_n_seeds_counts_in_words():
    assert quantities.n_seeds(1) == "1 seed" and quantities.n_seeds(3) == "3 seeds"
    assert quantities.n_seeds(1, "NegGen") == "1 NegGen seed" and quantities.n_seeds(0, "LightGCN") == "0 LightGCN seeds"


def test_bench_train_markdown_reads_the_benchmark_and_names_the_aims(tmp_path):
    assert "not measured yet" in report.bench_train_markdown(tmp_path / "none.json")
    side = {"epoch_s": 2.0, "eval_s": 1.0, "recall@20": 0.06, "cpu_share": 0.9}
    bench = {"epochs": 5, "timed_epochs": "epochs 2..", "threads": 1, "cpu_count": 2, "commit": "abcdef1234567",
             "load_average": [1.0, 1.0, 1.0],
             "results": [{"dataset": "baby", "ours": side, "reference": {**side, "epoch_s": 6.2, "eval_s": 5.5},
                          "epoch_ratio": 3.1, "eval_ratio": 5.5},
                         {"dataset": "clothing", "ours": side, "reference": {**side, "epoch_s": 5.0, "eval_s": 0.5},
                          "epoch_ratio": 2.5, "eval_ratio": 0.5}]}
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_train_markdown(tmp_path / "b.json")
    assert "| baby | 6.20 | 2.00 | 3.10x | 5.50 | 1.00 | 5.50x | 0.0600 / 0.0600 | 0.90 / 0.90 |" in md
    assert "3x per epoch: met on baby of 2; 5x per evaluation: met on baby of 2." in md
    assert "commit abcdef123, load average 1.0" in md
    # CPU-time ratios, where the benchmark measured them, beside the wall ratios and in the verdict
    bench["results"][0].update(cpu_epoch_ratio=2.9, cpu_eval_ratio=6.0)
    bench["results"][1].update(cpu_epoch_ratio=3.2, cpu_eval_ratio=0.4)
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_train_markdown(tmp_path / "b.json")
    assert "| baby | 6.20 | 2.00 | 3.10x (2.90x CPU) | 5.50 | 1.00 | 5.50x (6.00x CPU) |" in md
    assert ("3x per epoch: met on baby of 2 (in CPU seconds: on clothing of 2); "
            "5x per evaluation: met on baby of 2 (in CPU seconds: on baby of 2).") in md
    assert "What bounds ours" not in md
    cpu = {"epoch_cpu_s": 1.0, "eval_cpu_s": 0.5}
    bench["results"][0].update(ours={**side, **cpu}, reference={**side, "epoch_cpu_s": 6.0, "eval_cpu_s": 1.2},
                               floor={"epoch_cpu_s": 0.8, "eval_cpu_s": 0.4, "propagations_per_epoch": 58})
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_train_markdown(tmp_path / "b.json")
    assert ("baby: the 58 propagations of an epoch take 0.80 of ours' 1.00 s, the score product and top-20 "
            "0.40 of ours' 0.50 s per evaluation, so no trainer on these kernels gets past 7.5x per epoch and "
            "3.0x per evaluation.") in md
    assert "repeats" not in md
    bench.update(repeats=3)
    bench["results"][0]["repeat_epoch_ratios"] = [2.9, 3.1, 3.2]
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_train_markdown(tmp_path / "b.json")
    assert "each ratio the median of 3 runs of both, in alternating order" in md
    assert "* Epoch ratio of each repeat: baby 2.90x, 3.10x, 3.20x." in md


def test_runtime_span_reads_the_shortest_and_longest_bpr_and_lightgcn_runs():
    recs = [{"model": "bpr", "dataset": "baby", "sampler": "uniform", "seconds": 39.4},
            {"model": "lightgcn", "dataset": "clothing", "sampler": "uniform", "seconds": 3120.0},
            {"model": "lightgcn", "dataset": "baby", "sampler": "dns", "seconds": 9000.0},      # another sampler
            {"model": "freedom", "dataset": "baby", "sampler": "uniform", "seconds": 1.0}]      # another model
    assert report.runtime_span(recs) == "between 39 s (baby bpr) and 52 min (clothing lightgcn)"
    assert report.runtime_span(recs[2:]) == "_no timed runs yet_"


def test_bench_device_markdown_reads_the_device_files_and_each_chapters_latest_run(tmp_path):
    assert "not measured yet" in report.bench_device_markdown(tmp_path / "none.json")
    summary = lambda e, v, r: {"epoch_s": e, "eval_s": v, "recall@20": r}  # noqa: E731
    bench = {"dataset": "baby", "device_name": "GPU X", "threads": 16, "cpu_count": 16, "epochs": 3, "seed": 1,
             "torch": "2", "commit": "abcdef0123", "results": [
                 {"model": "lightgcn", "device": summary(0.5, 0.1, 0.06), "cpu": summary(2.0, 0.3, 0.061),
                  "epoch_ratio": 4.0, "eval_ratio": 3.0},
                 {"model": "bm3", "device": summary(1.0, 0.1, 0.05), "cpu": summary(1.5, 0.2, 0.047),
                  "epoch_ratio": 1.5, "eval_ratio": 2.0}]}
    runs = {"runs": [{"commit": "a", "results": [{"chapter": "01_data", "ok": False, "error": "x\nKeyError: 'k'\n"},
                                                 {"chapter": "02_naive", "ok": False, "error": "ImportError: no | pkg"}]},
                     {"commit": "b", "results": [{"chapter": "01_data", "ok": True}]}]}
    (tmp_path / "b.json").write_text(json.dumps(bench))
    (tmp_path / "n.json").write_text(json.dumps(runs))
    md = report.bench_device_markdown(tmp_path / "b.json", tmp_path / "n.json")
    assert "| lightgcn | 0.50 | 2.00 | 4.0x | 0.100 | 0.300 | 3.0x | 0.0600 / 0.0610 |" in md
    assert "at most 0.0030 (bm3)" in md and "GPU X" in md and "commit abcdef012" in md
    assert "1 of 2 ran through (01_data)" in md                      # the later run of 01_data counts
    assert "* 02_naive: ImportError: no / pkg" in md and "KeyError" not in md  # a cell's pipe would split the row


def test_bench_neggen_markdown_reads_the_benchmark(tmp_path):
    assert "not measured yet" in report.bench_neggen_markdown(tmp_path / "none.json")
    side = {"epoch_s": 7.0, "eval_s": 0.7, "recall@20": 0.0197, "cpu_share": 0.67}
    bench = {"objective": "joint", "dataset": "baby", "features": "real", "epochs": 3, "threads": 1, "cpu_count": 2,
             "commit": "abcdef1234567", "load_average": [3.2, 3.0, 3.0], "repeats": 3,
             "repeat_epoch_ratios": [2.4, 1.8, 2.0], "ours": side,
             "reference": {**side, "epoch_s": 14.0, "eval_s": 0.84, "recall@20": 0.0198},
             "epoch_ratio": 2.0, "eval_ratio": 1.2}
    (tmp_path / "b.json").write_text(json.dumps(bench))
    md = report.bench_neggen_markdown(tmp_path / "b.json")
    assert "| baby | 14.00 | 7.00 | 2.00x | 0.84 | 0.70 | 1.20x | 0.0198 / 0.0197 | 0.67 / 0.67 |" in md
    assert "NegGen (`joint`) on baby, real features, 3 epochs" in md and "2.40x, 1.80x, 2.00x" in md


def test_printed_reading_is_written_from_the_runs(tmp_path):
    from neggen_lite.results import readings

    _neggen_dir(tmp_path)
    hist = [{"epoch": 1, "loss": 0.02}, {"epoch": 2, "loss": 0.004}]
    for seed, r20, p in ((1, 0.080, 0.01), (2, 0.070, 0.02)):
        rec = _neggen_rec(seed, r20, p=p)
        rec["history"] = hist
        _write(tmp_path, f"neggen-generated-full-seed{seed}.json", rec)
    recs = records.load_results(tmp_path)
    text = readings.printed_reading(tables.load_neggen(records=recs), recs)
    # seed 1 above its base at p = 0.01: the headline counts it; seed 2 is below at p = 0.02
    assert "**NegGen improves on its same-seed LightGCN in 1 of 2 runs (p < 0.05)" in text
    assert "Baby, two seeds: the full model's test Recall@20 is 0.0750 ± 0.0071 against 0.0770" in text
    assert "p between 0.01 and 0.02 per seed, and 1 of the 2 seeds below 0.05 are *below* their base" in text
    assert "training loss falls below 0.005 by epoch 2 in every run" in text
    assert "collapses**: seed 1, test Recall@20 0.0500 against the frozen base's 0.0770 (-0.0270, p = 0.03)" in text
    assert "λ (values 0-0.2): best at 0.2 (0.0750)" in text
    assert "{PRINTED}" not in report.render_readme("{PRINTED}\n{READING}\n{SEEDS}\n{SIG:baby}\n", tmp_path)
