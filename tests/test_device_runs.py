"""benchmarks/device_runs.sh (a full run on a lent accelerator machine), exercised on the CPU, and the commit
that a copy without git history names (``NEGGEN_COMMIT``)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from neggen_lite.core import runtime

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "device_runs.sh"


def run_script(out: Path, seconds: int, *train_args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEVICE="cpu", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["bash", str(SCRIPT), str(out), str(seconds), *train_args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_git_commit_falls_back_to_NEGGEN_COMMIT_where_git_cannot_answer(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "REPO_ROOT", tmp_path)  # no repository there: git rev-parse fails
    monkeypatch.delenv("NEGGEN_COMMIT", raising=False)
    assert runtime.git_commit() == "unknown"
    monkeypatch.setenv("NEGGEN_COMMIT", "0123abc")
    assert runtime.git_commit() == "0123abc"
    monkeypatch.setattr(runtime, "REPO_ROOT", ROOT)  # where git answers, it wins
    assert runtime.git_commit().split("-")[0] != "0123abc"


def test_device_runs_trains_and_hands_over_the_record(tmp_path):
    rel = Path("results/smoke/baby") / f"device-runs-test-{os.getpid()}.json"
    try:
        got = run_script(tmp_path / "out", 240, "--dataset", "baby", "--model", "lightgcn", "--mode", "smoke",
                         "--seed", "11", "--threads", "1", "--out", str(rel))
        assert got.returncode == 0, got.stdout[-2000:] + got.stderr[-2000:]
        landed = tmp_path / "out" / rel
        rec = json.loads(landed.read_text())
        assert rec["device"] == "cpu" and rec["seed"] == 11 and rec["epochs"] == 3
        assert rec["test"]["recall@20"] == json.loads((ROOT / rel).read_text())["test"]["recall@20"]
        assert landed.with_name(landed.stem + ".per_user.npz").exists()
        assert "device_runs: exit 0" in (tmp_path / "out" / "train.log").read_text()
    finally:
        for p in (ROOT / rel).parent.glob(rel.stem + ".*"):
            p.unlink()


def test_device_runs_cut_by_its_limit_exits_124_and_lands_nothing(tmp_path):
    got = run_script(tmp_path / "out", 1, "--dataset", "baby", "--model", "lightgcn", "--mode", "smoke",
                     "--seed", "12", "--threads", "1", "--out", "results/smoke/baby/device-runs-cut.json")
    for p in (ROOT / "results/smoke/baby").glob("device-runs-cut.*"):
        p.unlink()
    assert got.returncode == 124
    assert not (tmp_path / "out" / "results").exists()
    assert "device_runs: exit 124" in got.stdout


def test_device_env_copies_the_carried_cache_and_unzips_its_encodings(tmp_path):
    """A carried ``.devcache/encodings/NAME.npy.gz`` (how Sports' encodings fit the 64 MiB a call carries) lands
    as ``.cache/encodings/NAME.npy``, byte for byte; the carried copy is left as it was."""
    import gzip

    import numpy as np

    enc = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    carried = tmp_path / ".devcache" / "encodings"
    carried.mkdir(parents=True)
    np.save(carried / "plain.npy", enc)
    (carried / "zipped.npy.gz").write_bytes(gzip.compress((carried / "plain.npy").read_bytes()))
    before = (carried / "zipped.npy.gz").read_bytes()
    env = dict(os.environ, OUT=str(tmp_path / "out"), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "out").mkdir()
    got = subprocess.run(["bash", "-c", f"source {ROOT / 'benchmarks' / 'device_env.sh'}"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr[-2000:]
    for name in ("plain.npy", "zipped.npy"):
        assert np.array_equal(np.load(tmp_path / ".cache" / "encodings" / name), enc)
    assert not (tmp_path / ".cache" / "encodings" / "zipped.npy.gz").exists()
    assert (carried / "zipped.npy.gz").read_bytes() == before
    assert "torch" in (tmp_path / "out" / "machine.txt").read_text()
