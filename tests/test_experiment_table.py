"""The controlled experiment's table (neggen_lite.results.experiment) on small made-up runs."""
import math

import numpy as np
import pytest

from neggen_lite.core.metrics import save_per_user
from neggen_lite.results.experiment import arm_of, experiment_markdown, experiment_table

USERS = np.arange(50)


def _run(tmp_path, name, seed, values, model="neggen", **extra):
    path = tmp_path / f"{name}-seed{seed}.json"
    save_per_user(str(path).replace(".json", ".per_user.npz"),
                  {"users": USERS, "per_user": {"recall@20": np.asarray(values, dtype=np.float32)}})
    return {"dataset": "baby", "model": model, "seed": seed, "mode": "full", "test": {"recall@20": float(np.mean(values))},
            "_path": str(path), **extra}


def _neggen(tmp_path, arm, generator, variant, seed, values, base=0.05, p=0.01):
    kw = {"objective": "joint", "generator": generator, "lam": 0.5, "alpha": 1e-2, "tau": 0.1, "beta": 1.0}
    mean = float(np.mean(values))
    return _run(tmp_path, f"neggen-{arm}", seed, values, variant=variant, model_kwargs=kw,
                base={"test": {"recall@20": base}},
                negatives={"model_ok": 90, "model_fallback": 5, "rule": 5} if variant == "full" else None,
                significance={"test": {"recall@20": {"mean_diff": mean - base, "p": p}}})


def test_table_compares_arms_with_pooled_paired_tests(tmp_path):
    rng = np.random.default_rng(0)
    noise = {s: rng.uniform(0, 0.1, len(USERS)) for s in (1, 2)}
    recs = []
    for s in (1, 2):
        recs.append(_neggen(tmp_path, "rule", "rule", "full", s, noise[s]))
        recs.append(_neggen(tmp_path, "gen", "auto", "full", s, noise[s] + 0.02))
        recs.append(_run(tmp_path, "freedom-uniform-t", s, noise[s] + 0.01, model="freedom", modalities=["t"],
                         negatives={"source": "uniform"}))
    df = experiment_table("baby", recs).set_index(["objective", "arm"])
    gen, rule = df.loc[("joint", "generated")], df.loc[("joint", "rule")]
    assert gen["seeds"] == [1, 2] and gen["ours"] == pytest.approx(np.mean([(noise[s] + 0.02).mean() for s in (1, 2)]), rel=1e-6)
    pooled_rule = np.mean([noise[s].mean() for s in (1, 2)])
    assert gen["vs rule"] == pytest.approx(0.02 / pooled_rule, rel=1e-4)
    assert gen["p vs rule"] < 1e-10  # every user +0.02
    assert gen["vs freedom (T)"] > 0 and rule["vs freedom (T)"] < 0
    assert math.isnan(rule["vs rule"]) and gen["model-written share"] == pytest.approx(0.9)  # fallbacks are not
    assert gen["p<0.05 vs lightgcn"] == "2 up, 0 down of 2"
    assert gen["vs lightgcn"] == pytest.approx((gen["ours"] - 0.05) / 0.05, rel=1e-6)
    md = experiment_markdown("baby", recs)
    assert "| joint | generated | 2 |" in md and "p < 1e-20" in md


def test_runs_outside_the_experiment_are_left_out(tmp_path):
    rec = _neggen(tmp_path, "rule", "rule", "full", 1, np.full(len(USERS), 0.05))
    assert arm_of(rec) == ("joint", "rule")
    assert arm_of({**rec, "sweep": {"param": "lam", "value": 0.1}}) is None
    assert arm_of({**rec, "model_kwargs": {**rec["model_kwargs"], "lam": 0.1}}) is None
    assert arm_of({**rec, "model_kwargs": {**rec["model_kwargs"], "objective": "printed"}}) is None
    assert arm_of({**rec, "variant": "w/o CF"}) is None
    assert "No controlled-experiment runs" in experiment_markdown("beauty", [rec])
