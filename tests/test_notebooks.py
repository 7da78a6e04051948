"""Execute every notebook with papermill in smoke mode and check the values it records."""
import json
import math
from pathlib import Path

import papermill as pm
import pytest

from neggen_lite.record import read_records

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


CHECKS = {
    "01_data": lambda r: (
        r["n_users"] == 19445 and r["n_items"] == 7050 and r["n_interactions"] == 160792
        and 0 < r["density"] < 0.01 and r["table3_users_match"] == 3 and r["min_train_per_user"] >= 3
        and 0.1 < r["top10pct_item_share"] < 1 and r["items_with_text"] == 3416),
    "03_base_recommender": lambda r: (
        r["adjacency_nnz"] == 2 * 118551 and r["epochs"] == 2 and 1 <= r["best_epoch"] <= 2
        and all(finite(r[k]) for k in ("test_recall20", "test_ndcg20", "valid_recall20"))
        and 0.02 < r["test_recall20"] < 0.2 and 0 < r["test_ndcg20"] < r["test_recall20"]
        and r["n_full_runs"] >= 0),
}


def test_every_notebook_has_a_check():
    assert {p.stem for p in NOTEBOOKS} == set(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_smoke_mode(path, tmp_path):
    out = tmp_path / f"{path.stem}.out.ipynb"  # each test its own output file: safe in parallel
    pm.execute_notebook(str(path), str(out), parameters={"mode": "smoke"}, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=False)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    rec = read_records(nb)
    assert CHECKS[path.stem](rec), rec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_clean_with_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "commit without outputs"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    src = "".join(params[0]["source"])
    for name in ("dataset", "device", "mode", "seed", "results_dir"):
        assert f"{name} =" in src, name
    assert 'mode = "book"' in src
