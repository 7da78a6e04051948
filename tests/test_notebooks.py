"""Execute every notebook with papermill in smoke mode and check the values it records."""
import json
import math
import re
from pathlib import Path

import papermill as pm
import pytest

from neggen_lite.core.data import PAPER_TABLE3
from neggen_lite.results.notebook import PARAMETER_RULES, read_records

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


CHECKS = {
    "01_data": lambda r: (
        r["n_users"] == 19445 and r["n_items"] == 7050 and r["n_interactions"] == 160792
        and 0 < r["density"] < 0.01 and r["table3_users_match"] == 3 and r["min_train_per_user"] >= 3
        and 0.1 < r["top10pct_item_share"] < 1 and r["items_with_text"] == 3416
        and r["dataset_name"] == "baby" and r["seed_used"] == 2025 and r["table3_items_match"] == 4
        and len(r["example_items"]) == 3 and 0 <= r["example_user"] < r["n_users"]),
    "03_base_recommender": lambda r: (
        r["adjacency_nnz"] == 2 * 118551 and r["epochs"] == 2 and 1 <= r["best_epoch"] <= 2
        and all(finite(r[k]) for k in ("test_recall20", "test_ndcg20", "valid_recall20"))
        and 0.02 < r["test_recall20"] < 0.2 and 0 < r["test_ndcg20"] < r["test_recall20"]
        and r["n_full_runs"] >= 0),
    "04_prompt_pipeline": lambda r: (
        r["n_prompts"] == 4 and abs(r["coverage_share"] - 3416 / 7050) < 1e-9 and 0 < r["title_only_share"] <= 1
        and r["pipeline_items"] >= 2 and 1 <= r["n_shown"] <= min(6, r["pipeline_items"])
        and 0 <= r["valid_rate"] <= 1 and abs(r["valid_rate"] + r["fallback_rate"] - 1) < 1e-9
        and set(r["step_rates"]) == {"description_generation", "attribute_masking", "attribute_completion"}
        and all(abs(sum(v.values()) - 1) < 1e-9 for v in r["step_rates"].values())
        and r["mean_masks"] >= 1 and 0 < r["mean_changed_share"] < 1
        and all(finite(r[k]) and -1 <= r[k] <= 1 for k in ("cos_original_generated", "cos_original_random",
                                                          "cos_description_generated", "cos_original_description"))
        and r["cos_original_generated"] > r["cos_original_random"] and 0 <= r["share_harder_than_random"] <= 1
        # the embedded 135M model, run live on 2 items: the chapter's prose says its outputs are mostly rejected
        and r["demo_items"] == 2 and 0 <= r["demo_valid_rate"] <= 1
        and abs(r["demo_valid_rate"] + r["demo_fallback_rate"] - 1) < 1e-9 and 0.5 < r["demo_rejected_share"] <= 1
        # the committed generation benchmark: several paths, the fastest one's model-written share
        and r["bench_paths"] >= 2 and 0 <= r["bench_fastest_model_written"] <= 1
        # the prose compares the two runtimes of the bulk path
        and r["bench_llamacpp_s_per_item"] > 0 and r["bench_transformers_s_per_item"] > 0
        and 0 <= r["bench_llamacpp_model_written"] <= 1 and r["bench_llamacpp_build_minutes"] > 0
        # ... and of the Direct Generation prompt, which made Beauty's Direct cache in llama.cpp
        and 0 < r["bench_direct_llamacpp_s_per_item"] < r["bench_direct_transformers_s_per_item"]
        and r["bench_direct_llamacpp_batch"] >= 1
        and bool(re.fullmatch(r"transformers 0\.\d\d, llama\.cpp 0\.\d\d", r["bench_direct_cos"]))),
    "05_causal_learning": lambda r: (
        0 <= r["lambda_top10_overlap_0_1"] <= 1 and
        # the prose: Eq. 19 as printed sends no gradient to a real negative item, joint does
        r["printed_grad_to_negative"] == 0.0 and r["joint_grad_to_negative"] > 0 and
        all(0 <= r[k] < 1e-4 for k in ("attend_one_token_err", "causal_hand_err", "rec_loss_hand_err",
                                        "align_identity_err"))
        # Eq. 20 as printed is unbounded below, the bounded form is not
        and r["align_grid_printed_min"] <= -19.9 and 0 <= r["align_grid_bounded_min"] < 1e-6
        and r["opt_printed_final_loss"] < -100 < 0 <= r["opt_bounded_final_loss"] < 0.1
        and r["opt_printed_final_norm"] > 10 * r["opt_bounded_final_norm"] > 0
        # the live smoke run: 300 users, rule-based negatives, 3 epochs
        and r["neggen_run_source"] == "live smoke run" and r["neggen_run_variants_shown"] == ["full"]
        and r["neggen_run_epochs"] == 3 == r["neggen_run_n_history"] and 1 <= r["neggen_run_best_epoch"] <= 3
        and all(finite(r[k]) and 0 <= r[k] <= 1 for k in ("neggen_run_test_recall20", "neggen_run_test_ndcg20",
                                                          "neggen_run_base_test_recall20"))
        and (r["neggen_run_p_recall20"] is None or 0 <= r["neggen_run_p_recall20"] <= 1)
        and r["negatives"]["generator"] == "rule" and r["negatives"]["rule"] > 0
        and r["negatives"]["model_ok"] == r["negatives"]["model_fallback"] == 0),
    "06_results": lambda r: (
        r["n_runs"] >= r["n_table2_runs"] >= r["n_table_rows"] >= 1 and isinstance(r["missing"], list)
        and len(r["ours_r20"]) == r["n_table_rows"]
        and all(finite(v) and 0 < v < 1 for v in r["ours_r20"].values())
        and set(r["paper_r20"]) <= set(r["ours_r20"]) and all(0 < v < 1 for v in r["paper_r20"].values())
        and r["paper_r20"].get("baby/lightgcn", 0.0698) == 0.0698
        and all(0 <= p <= 1 for p in r["neggen_p_recall20"].values())
        and all(finite(g) and -1 < g < 10 for g in r["neggen_gain_vs_lightgcn"].values())
        and not set(r["missing"]) & set(r["ours_r20"])  # a row with a run is never reported missing
        and (r["best_baseline"] is None or r["best_baseline"] != "neggen")
        and all(0 <= p <= 1 for p in r["p_vs_best_baseline"].values())),
    "07_ablations": lambda r: (
        r["n_neggen_runs"] >= 0 and r["n_missing"] >= 0
        and set(r["variants_found"]) | set(r["variants_missing"]) == {"full", "w/o NEG", "w/o CF", "w/o both"}
        and not set(r["variants_found"]) & set(r["variants_missing"])
        and set(r["ablation_r20"]) == set(r["variants_found"])
        and all(finite(v) and 0 < v < 1 for v in r["ablation_r20"].values())
        and r["table4_runnable"] == ["T"] and "no visual modality" in r["table4_error"]
        and set(r["sweep_points"]) == {"lam", "alpha", "tau"} and all(0 <= n <= 6 for n in r["sweep_points"].values())
        and set(r["sweep_best"]) <= {"lam", "alpha", "tau"}
        and isinstance(r["align_printed_found"], bool) and isinstance(r["base_finetune_found"], bool)
        and r["fig6_points"] >= 0
        # Table 5 / Fig. 7 under the ranking objective chosen on validation
        and r["ranking_objective"] in (None, "joint", "repaired")
        and set(r["ranking_t5_r20"]) <= {"full", "w/o NEG", "w/o CF", "w/o both"}
        and all(0 < v < 1 for v in r["ranking_t5_r20"].values())
        and (r["ranking_objective"] is not None or not r["ranking_t5_r20"])
        and set(r["ranking_sweep_best"]) <= {"lam", "alpha", "tau"}
        and isinstance(r["ranking_elsewhere"], list)
        and all(t.startswith("**") and " under " in t and "best variant" in t for t in r["ranking_elsewhere"])),
    "02_naive_negatives": lambda r: (
        r["eq3_max_abs_err"] < 1e-4 and r["eq4_max_abs_err"] < 1e-5
        and r["table1_rows_run"] == ["T"] and finite(r["table1_ours_r20_t"]) and 0 <= r["table1_ours_r20_t"] < 1
        and r["grad_epochs"] >= 1 and r["grad_t_finite"] is True
        and 0 <= r["synthetic_easy_below_hard_share"] <= 1 and isinstance(r["direct_cache_available"], bool)
        and 0 <= r["direct_items"] <= r["direct_items_with_text"] and r["direct_items_with_text"] > 0
        and (r["direct_items"] > 0) == r["direct_cache_available"]
        and (r["direct_s_per_item"] > 0 if r["direct_cache_available"] else True)
        and (all(finite(r[k]) and -1 <= r[k] <= 1 for k in ("direct_cos_generated", "direct_cos_model_written",
                                                            "direct_cos_random"))
             and all(0 <= r[k] <= 1 for k in ("direct_same_fields", "direct_under_3_words", "direct_copies",
                                                   "direct_refusals"))
             if r["direct_cache_available"] else True)
        # Fig. 2: the committed uniform and Direct Generation runs, compared on the same metric
        and isinstance(r["fig2_ran"], bool) and (r["fig2_ran"] == (r["dataset_name"] in r["fig2_datasets"]))
        and (r["fig2_seeds"] >= 1 and 0 < r["fig2_share"] <= 1 and 0 < r["fig2_direct_r20"] < 1
             and 0 < r["fig2_uniform_r20"] < 1
             and abs(r["fig2_change_r20"] - (r["fig2_direct_r20"] / r["fig2_uniform_r20"] - 1)) < 1e-9
             and 0 <= r["fig2_seeds_no_change"] <= r["fig2_tested_seeds"] <= r["fig2_seeds"]
             if r["fig2_ran"] else r["fig2_seeds"] == 0)
        # what the chapter's prose says of the committed Baby runs: almost no change with MMRec's weight; the
        # text term's loss and gradient smaller on the generated negatives (easy); with the text term weighted
        # 1, uniform text negatives cost accuracy and Direct Generation ends at or above uniform
        and (abs(r["fig2_change_r20"]) < 0.01 and 0 < r["fig2_loss_ratio"] < 1 and 0 < r["fig2_grad_ratio"] < 1
             if r["dataset_name"] == "baby" else True)
        and (r["fig2_heavy_seeds"] >= 1 and r["fig2_heavy_change_r20"] >= 0
             and r["fig2_heavy_uniform_r20"] < r["fig2_uniform_r20"]
             and abs(r["fig2_heavy_change_r20"] - (r["fig2_heavy_direct_r20"] / r["fig2_heavy_uniform_r20"] - 1)) < 1e-9
             and r["fig2_heavy_verdict"].startswith("at or above") if r["dataset_name"] == "baby" else True)),
    "08_what_we_learned": lambda r: (
        r["n_base_rows"] >= 1 and 0 <= r["n_base_within_10pct"] <= r["n_base_rows"]
        and abs(r["neggen_vs_lightgcn_baby_test_recall20_paper"] - (0.1065 / 0.0698 - 1)) < 1e-9
        # the committed Baby runs: NegGen within 1 % of LightGCN both ways (chapters 6 and 8 cite these values)
        and len(r["neggen_vs_lightgcn_baby_test_recall20_same_seed_bases_seeds"]) >= 1
        and abs(r["neggen_vs_lightgcn_baby_test_recall20_same_seed_bases"]) < 0.01
        and abs(r["neggen_vs_lightgcn_baby_test_recall20_seed_means"]) < 0.01
        and 0 <= r["max_abs_variant_diff"] < 1
        and r[next(k for k in r if k.startswith("generation_baby_") and k.endswith("_seconds_per_item"))] > 0
        and r["generated_items"] >= 0
        # the committed Baby experiment: generated and rule-based negatives within 5 % of each other (the box's prose)
        and 0 <= r["experiment_generated_vs_rule_max_abs"] < 0.05
        # the sampler box's prose on the committed Baby audits: the sampler's negatives are the user's held-out
        # items several times more often than uniform draws, yet those cannot account for the whole drop
        and all(r[f"sampler_{arm}_heldout_ratio"] > 2 and 0 < r[f"sampler_{arm}_test_recall_bound"] < r[f"sampler_{arm}_drop"]
                for arm in ("generated", "rule"))
        # the sampler's controls, once committed: each wins back a finite share of the nearest pick's drop
        and all(finite(v) for k, v in r.items() if k.startswith("sampler_") and k.endswith("_recovered"))
        and all(finite(v) and v > 0 for v in r["sampler_epochs_vs_uniform"].values())
        # the committed results hold at least Baby's five samplers beside uniform LightGCN
        and r["sampler_pairs"] >= 5 and 0 <= r["sampler_pairs_better"] <= r["sampler_pairs"]
        and 5 <= r["sampler_pairs_sooner"] <= r["sampler_pairs"]
        # the Fig. 2 section's prose: with MMRec's weight no dataset ends below uniform and none moves by 1 %;
        # with the text term weighted 1 the order is the paper's reversed (Baby's committed runs)
        and r["fig2_pairs"] >= 1 and r["fig2_pairs_below"] == 0 and r["fig2_max_abs_change"] < 0.01
        and r["fig2_heavy_pairs"] >= 1 and r["fig2_heavy_pairs_at_or_above"] == r["fig2_heavy_pairs"]),
}


def test_every_notebook_has_a_check():
    assert {p.stem for p in NOTEBOOKS} == set(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_smoke_mode(path, tmp_path, executed_chapters):
    out = tmp_path / f"{path.stem}.out.ipynb"  # each test its own output file: safe in parallel
    # one torch thread keeps the smoke run fast when other jobs share the CPU: beside two training
    # runs on 2 cores, chapter 4 took 1 min 46 s with threads=1 and ran past 20 min with torch's default;
    # a chapter gets only the parameters it has (chapter 1 runs the same in every mode: it has no `mode`)
    declared = pm.inspect_notebook(str(path))
    params = {k: v for k, v in {"mode": "smoke", "threads": 1}.items() if k in declared}
    pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=False)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    rec = read_records(nb)
    executed_chapters[path.stem] = rec  # tests/test_record_consistency.py compares the chapters' records
    assert CHECKS[path.stem](rec), rec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_clean_with_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    src = "".join(params[0]["source"])
    # a chapter has only parameters it uses, each one that check_parameters knows, with the book's defaults
    names = re.findall(r"^(\w+) =", src, re.M)
    assert "dataset" in names and set(names) <= set(PARAMETER_RULES), names
    if "mode" in names:
        assert 'mode = "book"' in src
    if "results_dir" in names:
        assert 'results_dir = "../results"' in src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_prints_versions(path):
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "show_versions()" in "".join(first["source"]), "the first code cell calls neggen_lite.results.notebook.show_versions()"


def exercises_part(nb: dict) -> tuple[list[dict], str]:
    """The cells from the last '## Exercises' heading to the end, and their Markdown after the heading."""
    start = max(i for i, c in enumerate(nb["cells"])
                if c["cell_type"] == "markdown" and "## Exercises" in "".join(c["source"]))
    tail = nb["cells"][start:]
    text = "\n".join("".join(c["source"]) for c in tail if c["cell_type"] == "markdown")
    return tail, text.split("## Exercises", 1)[1]


EXERCISE = re.compile(r"^(\d+\. |\*\*Exercise \d+\.\*\*)", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_ends_with_exercises(path):
    tail, text = exercises_part(json.loads(path.read_text()))
    n = len(EXERCISE.findall(text))
    assert 2 <= n <= 4, f"{n} exercises"
    # after the exercises come only their hints and solutions: Markdown, or solution code folded away
    assert all(c["cell_type"] == "markdown" or "hide-input" in c.get("metadata", {}).get("tags", []) for c in tail)


#: chapters with a course's scaffolding (goals and needs, summary, hints, folded solutions): every chapter
SCAFFOLDED = tuple(p.stem for p in NOTEBOOKS)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem in SCAFFOLDED], ids=lambda p: p.stem)
def test_chapter_has_goals_summary_hints_and_folded_solutions(path):
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert "**You will learn**" in first and "**You need**" in first and "minute" in first  # and how long it runs
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "## Summary" in md and md.index("## Summary") < md.rindex("## Exercises")
    _, text = exercises_part(nb)
    blocks = EXERCISE.split(text)[1:]
    bodies = blocks[1::2]
    # each exercise: a hint and a solution, folded (a dropdown admonition, "Solution" or "Hint and solution")
    assert bodies and all("*Hint:*" in b and "Solution" in b.replace("*Solution:*", "Solution") and ":class: dropdown" in b
                          for b in bodies)


@pytest.mark.parametrize("params, name", [({"mode": "fast"}, "mode"), ({"seed": "abc"}, "seed"),
                                          ({"dataset": "movies"}, "dataset")])
def test_a_bad_parameter_stops_the_chapter_at_once_naming_it(params, name, tmp_path):
    path = NOTEBOOKS[-1]  # chapter 8 reads committed results only: the quickest to start
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters=params, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False)
    assert f"parameter {name}=" in str(err.value)
    executed = [c for c in json.loads((tmp_path / "out.ipynb").read_text())["cells"]
                if c["cell_type"] == "code" and c.get("execution_count")]
    # the cell that checks the parameters is the last one that ran (after versions and parameters)
    assert "check_parameters(globals())" in "".join(executed[-1]["source"])
    assert any(o.get("output_type") == "error" for o in executed[-1]["outputs"])


def test_a_chapter_uses_the_dataset_and_seed_it_is_given(tmp_path):
    """Chapter 1 (the quickest) run on Beauty with another seed: its numbers and examples are Beauty's,
    drawn with that seed, not the defaults'."""
    path = ROOT / "notebooks" / "01_data.ipynb"
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(path), str(out), parameters={"dataset": "beauty", "seed": 2026}, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=False)
    r = read_records(out)
    assert r["dataset_name"] == "beauty" and r["seed_used"] == 2026
    assert (r["n_users"], r["n_items"]) == (PAPER_TABLE3["beauty"]["users"], PAPER_TABLE3["beauty"]["items"])
    assert all(0 <= i < r["n_items"] for i in r["example_items"]) and 0 <= r["example_user"] < r["n_users"]
