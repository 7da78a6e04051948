"""results/README.md's reading of Table 2 and the samplers is written from the records: a new seed changes
the sentence, a dataset that falls below the paper is counted, and the exception names the dataset."""
import pandas as pd

from neggen_lite.core.paper import PAPER_TABLE2
from neggen_lite.results import readings


def _rec(dataset, model, seed, r20, sampler="uniform", best_epoch=10, modalities=None):
    m = {"recall@10": r20 / 2, "recall@20": r20, "ndcg@10": r20 / 4, "ndcg@20": r20 / 3}
    r = {"dataset": dataset, "model": model, "sampler": sampler, "variant": None, "seed": seed, "mode": "full",
         "epochs": 30, "best_epoch": best_epoch, "valid": m, "test": m, "history": []}
    if modalities:
        r["modalities"] = modalities
    return r


def test_lightgcn_reading_follows_the_records():
    paper = {d: PAPER_TABLE2[("lightgcn", d)][1] for d in ("baby", "beauty", "sports")}
    recs = [_rec("baby", "lightgcn", 1, 0.0770), _rec("baby", "lightgcn", 2, 0.0776),
            _rec("beauty", "lightgcn", 1, paper["beauty"] * 1.3), _rec("sports", "lightgcn", 1, paper["sports"] * 0.9)]
    text = readings.table2_reading(recs)
    assert "reaches or exceeds the paper's LightGCN row on 2 of 3 datasets" in text
    assert "Baby 0.0773 (mean of 2 seeds; every seed >= 0.0770) against 0.0698 (+11 %)" in text
    assert "within 5 % of MMRec's published LightGCN" in text        # Baby is explained, not an exception
    assert "**Beauty is the exception: our LightGCN is 30 % above the paper" in text
    assert "Sports" in text and "(-10 %)" in text
    # one more seed moves the mean and the smallest seed
    text2 = readings.table2_reading(recs + [_rec("baby", "lightgcn", 3, 0.0700)])
    assert "Baby 0.0749 (mean of 3 seeds; every seed >= 0.0700)" in text2


def test_bpr_reading_names_the_far_datasets_and_the_paper_ratio_outlier():
    recs = [_rec(d, "bpr", 1, PAPER_TABLE2[("bpr", d)][1] * f, best_epoch=e)
            for d, f, e in (("baby", 1.01, 15), ("beauty", 0.99, 72), ("clothing", 0.8, 20))]
    recs[0]["history"] = [{"epoch": e, "loss": 1 / e} for e in range(1, 31)]   # still falling at epoch 30
    text = readings.table2_reading(recs)
    assert "within 5 % of the paper on Baby and Beauty and 20 % below on Clothing" in text
    assert "in 1 of the 3 runs the training loss keeps falling after the best epoch" in text
    assert "best epochs 15-72" in text
    assert "Clothing, the sparsest dataset" in text
    assert "whose NDCG@20 / Recall@20 ratio (0.33) is unlike every other row" in text   # the paper's Beauty BPR


def test_seeds_table_lists_every_row_with_several_seeds():
    recs = [_rec("baby", "bpr", 1, 0.055), _rec("baby", "bpr", 2, 0.057), _rec("sports", "lightgcn", 1, 0.086)]
    md = readings.seeds_markdown(recs)
    assert "| baby | bpr | 1 | 10 | 0.0275 | 0.0550 |" in md and "| baby | bpr | 2 |" in md
    assert "sports" not in md.split("\n\n")[0]                       # one seed: no row
    assert "**0.0560 ± 0.0014**" in md
    assert "largest standard deviation of test Recall@20 over seeds here is 0.0014 (baby bpr)" in md
    assert readings.seeds_markdown(recs[2:]).startswith("_no row")


def test_sampler_reading_counts_opposite_signs_and_the_lowest_sampler():
    recs = [_rec("baby", "lightgcn", 1, 0.0700)]
    for s, f in (("dns", 1.10), ("mixgcf", 1.005), ("irgan", 0.8), ("dens", 0.95), ("ahns", 1.2)):
        recs.append(_rec("baby", "lightgcn", 1, 0.0700 * f, sampler=s))
    text = readings.sampler_reading(recs)
    pv = {s: PAPER_TABLE2[(s, "baby")][1] / PAPER_TABLE2[("lightgcn", "baby")][1] - 1
          for s in ("dns", "irgan", "dens", "ahns")}
    ours = {"dns": 0.10, "irgan": -0.2, "dens": -0.05, "ahns": 0.2}
    flips = sum((ours[s] > 0) != (pv[s] > 0) for s in ours)
    assert f"in {flips} of 5 (dataset, sampler) cells" in text
    assert "(1 more of ours within 1 % of uniform)" in text          # MixGCF at +0.5 %
    assert "Baby DNS(M,N) +10 %, MixGCF 0 %" in text
    assert "**IRGAN is the lowest row on every dataset** (20 % below uniform on Baby)" in text


def test_best_baseline_phrase_counts_the_runs_below_it():
    recs = [_rec("baby", "lightgcn", 1, 0.077), _rec("baby", "freedom", 1, 0.090, modalities=["t"]),
            _rec("baby", "freedom", 2, 0.092, modalities=["t"])]
    sig = pd.DataFrame({"mean_diff": [-0.01, 0.001, float("nan")], "p": [1e-20, 0.5, float("nan")]})
    text = readings.best_baseline_phrase(recs, "baby", sig=sig)
    assert text.startswith("freedom (T), the best baseline we ran on Baby (test Recall@20 0.0910 ± 0.0014 over 2")
    assert "is above 1 of the 3 NegGen runs" in text and "every p <= 5e-01" in text
    assert readings.best_baseline_phrase(recs, "sports") == "no baseline run on Sports yet"


def test_freedom_reading_sets_other_settings_apart():
    recs = [_rec("baby", "freedom", 1, 0.0913, modalities=["t"]), _rec("sports", "freedom", 1, 0.0977,
                                                                      modalities=["t"])]
    text = readings.freedom_reading(recs)
    assert "Baby 0.0913 / 0.0304 over 1 seed (best epoch 10) against the paper's Table 1 (T) row, 0.0991" in text
    assert "(-8 % in Recall@20)" in text
    assert "Sports 0.0977 / 0.0326 over 1 seed (best epoch 10) (the paper has no text-only row here" in text


def test_the_results_template_types_no_result_of_ours():
    # every four-decimal metric typed into results/README.template.md must be one of the paper's printed
    # numbers: ours are computed from the records (a typed one goes stale when a seed lands)
    import re
    from pathlib import Path

    from neggen_lite.core import paper

    printed = {f"{v:.4f}" for table in (paper.PAPER_TABLE1, paper.PAPER_TABLE2, paper.PAPER_TABLE5)
               for row in table.values() for v in row}
    text = (Path(__file__).resolve().parents[1] / "results" / "README.template.md").read_text()
    typed = set(re.findall(r"(?<![\w.])0\.\d{4}(?!\d)", text))  # not a name such as reg0.0001
    assert typed and typed <= printed, sorted(typed - printed)


def _freedom(dataset, seed, r20, negatives="uniform", reg=1e-4, best_epoch=10, bpr=0.5, grad=1.0):
    r = _rec(dataset, "freedom", seed, r20, best_epoch=best_epoch, modalities=["t"])
    r["config"] = {"reg": reg}
    r["variant"] = "T"
    r["history"] = [{"epoch": e, "bpr_t": bpr, "neg_grad_norm_t": grad} for e in range(1, 21)]
    if negatives == "direct":
        r["negatives"] = {"source": "direct", "cache": "results/generations/none/x.jsonl.gz"}
    return r


def test_fig2_reading_follows_the_paired_runs():
    recs = [_freedom("baby", s, 0.0913) for s in (1, 2)]
    recs += [_freedom("baby", s, 0.0913, "direct", bpr=0.05, grad=0.1) for s in (1, 2)]
    text = readings.fig2_reading(recs, "mmrec")
    assert "change almost nothing:** On Baby, over two seeds, Direct Generation ends +0.0 % in mean test" in text
    assert "at the same best epoch in 2 of 2" in text and "We do not reproduce that." in text
    easy = readings.fig2_reading(recs, "easy")
    assert "a text BPR loss 0.10 times and an Eq. 3 gradient 0.10 times those of uniformly sampled items" in easy
    # a direct arm 5 % below uniform moves the headline, and the paper's finding is no longer denied
    low = [_freedom("baby", 1, 0.1000), _freedom("baby", 1, 0.0950, "direct")]
    text = readings.fig2_reading(low, "mmrec")
    assert "move the result" in text and "-5.0 %" in text and "We do not reproduce" not in text
    heavy = [_freedom("baby", 1, 0.0900, reg=1), _freedom("baby", 1, 0.0918, "direct", reg=1, bpr=0.001),
             _freedom("baby", 1, 0.0920)]
    text = readings.fig2_reading(heavy, "heavy")
    assert "ends above uniform, not below:** On Baby with the text term weighted 1, Direct Generation ends +2.0 %" in text
    assert "higher in 1 of 1 seeds" in text and "end -2.2 % against MMRec's weight on the same seeds" in text
    assert readings.fig2_reading(recs, "heavy") == "_no paired Fig. 2 runs yet_"


def test_same_seed_reading_compares_the_standalone_run_with_the_neggen_base():
    lg = [_rec("baby", "lightgcn", 1, 0.0771), _rec("baby", "lightgcn", 2, 0.0773)]
    ng = []
    for seed, base in ((1, 0.0771), (2, 0.0772), (3, 0.0700)):   # seed 3 has no standalone run
        r = _rec("baby", "neggen", seed, 0.0770)
        r["base"] = {"test": {"recall@20": base}}
        ng.append(r)
    text = readings.same_seed_reading(lg + ng)
    assert "Of the 2 (dataset, seed) pairs" in text and ", 1 agree in test recall@20" in text
    assert "these differ: Baby seed 2." in text
    assert readings.same_seed_reading(lg).startswith("No standalone LightGCN run")
