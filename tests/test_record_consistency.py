"""One number per quantity: no two chapters record different values under one name.

The chapters are executed once, by ``tests/test_notebooks.py`` (which runs first and stores what each
chapter recorded in the session fixture ``executed_chapters``); this module compares them with
``quantities.record_conflicts``, and tests that function on two small fake notebooks."""
import pytest

from neggen_lite.results import quantities
from neggen_lite.results.notebook import GLUE_PREFIX, read_records


def fake_notebook(values: dict) -> dict:
    """An executed notebook (nbformat dict) whose outputs are ``record(name, value)``'s, as myst-nb glues them."""
    outputs = [{"output_type": "display_data", "data": {f"{GLUE_PREFIX}text/plain": repr(v)},
                "metadata": {"scrapbook": {"mime_prefix": GLUE_PREFIX, "name": k}}} for k, v in values.items()]
    return {"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": outputs}]}


def test_the_comparison_finds_one_name_with_two_values():
    a = read_records(fake_notebook({"neggen_vs_lightgcn_baby_test_recall20_same_seed_bases": -0.0024,
                                    "shared_list": [1, 2], "only_in_a": 1.0, "nan_both": float("nan")}))
    b = read_records(fake_notebook({"neggen_vs_lightgcn_baby_test_recall20_same_seed_bases": 0.0017,
                                    "shared_list": [1, 2], "only_in_b": "x", "nan_both": float("nan")}))
    assert a["shared_list"] == [1, 2] and a["only_in_a"] == 1.0  # read back from the fake outputs
    conflicts = quantities.record_conflicts({"06_results": a, "08_what_we_learned": b})
    assert [c["name"] for c in conflicts] == ["neggen_vs_lightgcn_baby_test_recall20_same_seed_bases"]
    assert conflicts[0]["values"] == {"06_results": -0.0024, "08_what_we_learned": 0.0017}
    # one value under the name in both chapters: no conflict; nested values compared element by element
    b["neggen_vs_lightgcn_baby_test_recall20_same_seed_bases"] = -0.0024
    assert quantities.record_conflicts({"06_results": a, "08_what_we_learned": b}) == []
    assert quantities.record_conflicts({"x": {"d": {"k": [1.0, 2.0]}}, "y": {"d": {"k": [1.0, 2.5]}}})
    assert not quantities.record_conflicts({"x": {"d": {"k": [1.0, 2.0]}}, "y": {"d": {"k": [1.0, 2.0]}}})
    assert quantities.record_conflicts({"x": {"n": 3}, "y": {"n": "3"}})  # a number is not its text


def test_formatting_rules():
    assert quantities.fmt_p(1.35e-21) == "p < 1e-20"
    assert quantities.fmt_p(0.048421) == "p = 0.0484"
    assert quantities.fmt_p(float("nan")) == "p n/a"
    assert quantities.fmt_pct(0.0017) == "+0.2 %" and quantities.fmt_pct(-0.159) == "-15.9 %"
    assert quantities.mean_name("freedom (T)", "baby", "recall@20", 3) == "freedom_t_baby_test_recall20_mean3"


def test_no_two_chapters_record_different_values_under_one_name(executed_chapters):
    if len(executed_chapters) < 2:
        pytest.skip("needs at least two chapters executed in this session by tests/test_notebooks.py")
    conflicts = quantities.record_conflicts(executed_chapters)
    assert not conflicts, "\n".join(f"{c['name']}: {c['values']}" for c in conflicts)
