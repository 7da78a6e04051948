"""benchmarks/bench_neggen.py on a toy dataset: the printed causal module and ours compute the same function,
and the comparison reports the median of alternating repeats."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_neggen as bench  # noqa: E402

from conftest import random_dataset  # noqa: E402
from neggen_lite.neggen.causal import CausalModule  # noqa: E402


def test_printed_module_and_ours_agree_in_value_and_gradient():
    torch.manual_seed(0)
    ours = CausalModule(12, out_dim=4, hidden=8)
    torch.nn.init.normal_(ours.proj[-1].weight)
    printed = bench.PrintedCausalModule(12, out_dim=4, hidden=8)
    printed.load_state_dict(ours.state_dict())
    e_m, e_s = torch.randn(5, 1, 12), torch.randn(5, 1, 12)
    outs = [m(e_m, e_s) for m in (ours, printed)]
    for a, b in zip(*outs):
        assert torch.allclose(a, b, atol=1e-5)
    assert not torch.equal(outs[0][0], ours.proj(e_m[:, 0]))  # the difference is taken, not e_m alone
    for m, (e_c, e_cs) in zip((ours, printed), outs):
        (e_c.sum() + 2 * e_cs.sum()).backward()
    assert torch.allclose(ours.w_v.weight.grad, printed.w_v.weight.grad, atol=1e-4)
    assert torch.allclose(ours.proj[0].weight.grad, printed.proj[0].weight.grad, atol=1e-4)


def test_compare_reports_the_median_of_alternating_repeats():
    ds = random_dataset(n_users=60, n_items=40, per_user=(4, 8), seed=3)
    feats = bench.random_features(ds.n_items, seed=1, dim=16)
    row = bench.compare(ds, feats, "joint", epochs=2, seed=1, threads=1, repeats=3)
    ratios = row["repeat_epoch_ratios"]
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    assert round(row["epoch_ratio"], 3) == sorted(ratios)[1]
    assert round(row["reference"]["epoch_s"] / row["ours"]["epoch_s"], 3) == sorted(ratios)[1]
    # the same training up to float rounding: the same validation metrics
    assert abs(row["reference"]["recall@20"] - row["ours"]["recall@20"]) < 1e-6
