"""The DiffMM reference harness of benchmarks/bench_mm_models.py: its command line and CPU shims (the run
itself needs a checkout of HKUDS/DiffMM, given at benchmark time, never vendored)."""
import sys
from pathlib import Path

import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_mm_models as bench  # noqa: E402

from neggen_lite.core import data  # noqa: E402


def test_diffmm_command_line_carries_every_published_setting():
    ds = data.load("baby")
    settings, cfg = bench.trainer_config("diffmm", ds, 3, 2025)
    argv = bench.diffmm_argv(settings, cfg)
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "Main.py" and len(argv) % 2 == 1
    assert flags["--reg"] == "1e-05" and flags["--ssl_reg"] == "0.1" and flags["--e_loss"] == "0.01"  # Baby's
    assert flags["--keepRate"] == "1.0" and flags["--dims"] == "[1000]" and flags["--batch"] == "1024"
    assert flags["--seed"] == "2025" and flags["--latdim"] == "64" and flags["--gnn_layer"] == "1"
    sports = bench.diffmm_argv(*bench.trainer_config("diffmm", data.load("sports"), 3, 1)[:2])
    assert dict(zip(sports[1::2], sports[2::2]))["--trans"] == "1"


def test_diffmm_shims_are_undone():
    before = torch.Tensor.cuda, torch.nn.Module.cuda
    x = torch.ones(2)
    with bench.diffmm_shims():
        assert x.cuda() is x and torch.nn.Linear(2, 2).cuda().weight.device.type == "cpu"
        assert (sp.coo_matrix([[1, 0]]).A == [[1, 0]]).all()
        import setproctitle  # noqa: F401  (the reference imports it and never uses it)
    assert (torch.Tensor.cuda, torch.nn.Module.cuda) == before
    assert not hasattr(sp.coo_matrix((1, 1)), "A")


def test_summaries_carry_cpu_seconds_and_their_ratios():
    """Both sides' histories record CPU seconds beside wall seconds; the summary averages epochs 2.. of each and
    the ratios come in both measures, CPU only where both sides have it."""
    import reference

    def hist(wall, cpu):
        h = [{"epoch": e + 1, "loss": 0.5, "seconds": w, "cpu_seconds": c} for e, (w, c) in enumerate(zip(wall, cpu))]
        h[-1] |= {"valid": {"recall@20": 0.05, "ndcg@20": 0.02}, "eval_seconds": 2.0, "eval_cpu_seconds": 1.0}
        return h

    ref = reference.summarise(hist([9.0, 8.0, 10.0], [5.0, 6.0, 6.0]))
    ours = reference.summarise(hist([5.0, 4.0, 2.0], [2.0, 2.0, 1.0]))
    assert (ref["epoch_s"], ref["epoch_cpu_s"], ref["eval_cpu_s"]) == (9.0, 6.0, 1.0)
    r = reference.ratios(ref, ours)
    assert r == {"epoch_ratio": 3.0, "eval_ratio": 1.0, "cpu_epoch_ratio": 4.0, "cpu_eval_ratio": 1.0}
    no_cpu = {k: v for k, v in ours.items() if "cpu" not in k}
    assert set(reference.ratios(ref, no_cpu)) == {"epoch_ratio", "eval_ratio"}
    start = reference.clock()
    sum(i * i for i in range(200_000))
    wall, cpu = reference.since(start)
    assert wall > 0 and cpu > 0


def test_random_visual_features_are_seeded_and_keep_the_text():
    """``--random-visual DIM``: the benchmark's V&T setting without image files. Every item gets a non-negative
    visual row of width DIM, the same for the same seed; the text modality is the one passed in, untouched."""
    from neggen_lite.core.features import ItemFeatures

    text = ItemFeatures({"t": torch.randn(5, 3)}, {"t": torch.tensor([True, False, True, True, False])}, {"t": "x"})
    a, b = bench.with_random_visual(text, 8, 7), bench.with_random_visual(text, 8, 7)
    assert a.modalities == ("v", "t") and a.feats["v"].shape == (5, 8) and bool(a.masks["v"].all())
    assert torch.equal(a.feats["v"], b.feats["v"]) and float(a.feats["v"].min()) >= 0
    assert not torch.equal(a.feats["v"], bench.with_random_visual(text, 8, 8).feats["v"])
    assert a.feats["t"] is text.feats["t"] and torch.equal(a.masks["t"], text.masks["t"])
    assert "seed 7" in a.sources["v"]


def test_random_visual_flag_is_validated():
    import pytest

    for argv in (["--random-visual", "0", "--modalities", "vt"], ["--random-visual", "16"],
                 ["--random-visual", "16", "--modalities", "vt", "--features-dir", "x"]):
        with pytest.raises(SystemExit):
            bench.main(["--models", "bm3", *argv])
