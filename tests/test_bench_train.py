"""benchmarks/bench_train.py's comparison on a toy dataset: alternating repeats, median ratios, the floor."""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_train as bench  # noqa: E402

from conftest import random_dataset  # noqa: E402


def test_compare_reports_the_median_of_alternating_repeats_and_the_floor():
    ds = random_dataset(n_users=60, n_items=40, per_user=(4, 8), seed=3)
    row = bench.compare(ds, epochs=2, seed=1, threads=1, repeats=3)
    ratios = row["repeat_epoch_ratios"]
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    assert round(row["epoch_ratio"], 3) == sorted(ratios)[1]                                  # the median
    assert round(row["reference"]["epoch_s"] / row["ours"]["epoch_s"], 3) == sorted(ratios)[1]  # its repeat
    for side in ("ours", "reference"):
        assert 0 <= row[side]["recall@20"] <= 1 and len(row[side]["epoch_s_all"]) == 2
    assert row["floor"]["propagations_per_epoch"] == math.ceil(len(ds.train) / 2048)
    assert row["floor"]["epoch_cpu_s"] > 0 and row["floor"]["eval_cpu_s"] > 0
