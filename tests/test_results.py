import json

import pytest

from neggen_lite import results


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
    recs = results.load_results(tmp_path)
    assert len(recs) == 2
    t = results.comparison_table(recs)
    row = t.loc[("baby", "lightgcn")]
    assert row["seeds"] == 2
    assert row["ours recall@20"] == pytest.approx(0.075)
    assert row["paper recall@20"] == 0.0698
    assert row["R@20 ours/paper"] == pytest.approx(0.075 / 0.0698)
    md = results.markdown_table(recs)
    assert "| baby | lightgcn | 2 | 10 | 0.0375 / 0.0458 | 0.0750 / 0.0698 |" in md


def test_bad_json_names_the_file(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"x\.json: not valid JSON"):
        results.load_results(tmp_path)


def test_committed_full_results_have_the_common_fields():
    fields = {"dataset", "model", "sampler", "variant", "seed", "mode", "config", "commit", "epochs", "best_epoch",
              "seconds", "valid", "test", "history"}
    recs = results.load_results()
    for r in recs:
        assert fields <= set(r), r["_path"]
        assert set(r["test"]) >= {"recall@10", "recall@20", "ndcg@10", "ndcg@20"}
        assert r["epochs"] == len(r["history"]) and 1 <= r["best_epoch"] <= r["epochs"]
        assert r["config"]["batch_size"] == 2048 and r["config"]["dim"] == 64
        # early stopping: ended 20 epochs after the best one, or at the 1000-epoch cap
        assert r["epochs"] - r["best_epoch"] == 20 or r["epochs"] == 1000
