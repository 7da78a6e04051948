import gzip
import hashlib
import re

import numpy as np
import pytest

from neggen_lite.core import data
from neggen_lite.core.data import DataError

from conftest import write_dataset

EXPECTED = {  # users, items, train, valid, test: data/README.md's summary table
    "baby": (19445, 7050, 118551, 20559, 21682),
    "beauty": (22363, 12101, 147320, 24868, 26314),
    "clothing": (39387, 23033, 197338, 40150, 41189),
    "sports": (35598, 18357, 218409, 37899, 40029),
}


@pytest.mark.parametrize("name", data.DATASETS)
def test_load_real_datasets(name):
    ds = data.load(name)
    assert (ds.n_users, ds.n_items, len(ds.train), len(ds.valid), len(ds.test)) == EXPECTED[name]
    assert ds.train_csr.shape == (ds.n_users, ds.n_items)
    assert ds.train_csr.nnz == len(ds.train)
    assert min(len(s) for s in ds.train_sets) >= 1
    u = int(ds.train[0, 0])
    assert int(ds.train[0, 1]) in ds.train_sets[u]
    # splits are disjoint
    keys = [set(map(tuple, getattr(ds, s).tolist())) for s in ("train", "valid", "test")]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])


def test_side_information_per_dataset():
    baby = data.load("baby")
    assert set(baby.side) == {"title", "description", "image_url"}
    assert (baby.side_coverage("title"), baby.side_coverage("description"), baby.side_coverage("image_url")) == (3416, 978, 7037)
    beauty = data.load("beauty")
    assert beauty.side_coverage("title") == 12086 and beauty.side_coverage("attributes") == 12101
    assert isinstance(beauty.side["attributes"][0], list)
    sports = data.load("sports")
    assert set(sports.side) == {"keywords"} and sports.side_coverage("keywords") == 18357
    assert "model-derived" in sports.side_notes["keywords"]
    assert data.load("clothing").side == {}


def test_stats_table3_matches_paper_counts():
    df = data.stats(show=False)
    # Baby/Beauty: the paper's #Interactions is train+valid; Clothing/Sports: all interactions (README)
    assert df.loc["baby", "train+valid"] == data.PAPER_TABLE3["baby"]["interactions"]
    assert df.loc["beauty", "train+valid"] == data.PAPER_TABLE3["beauty"]["interactions"]
    assert df.loc["clothing", "interactions"] == data.PAPER_TABLE3["clothing"]["interactions"]
    assert df.loc["sports", "interactions"] == data.PAPER_TABLE3["sports"]["interactions"]
    assert df.loc["clothing", "density"] == pytest.approx(0.00031, abs=5e-6)


def test_vendored_files_match_readme_sha256():
    readme = (data.DATA_DIR / "README.md").read_text()
    checked = 0
    for name in data.DATASETS:
        section = readme.split(f"### {name}/")[1].split("###")[0]
        for fname, digest in re.findall(r"\| `([^`]+)` \| ([0-9a-f]{64}) \|", section):
            path = data.DATA_DIR / name / (fname + ".gz")
            assert hashlib.sha256(gzip.open(path).read()).hexdigest() == digest, path
            checked += 1
    assert checked >= 20


GOOD = [(0, 0, 0), (0, 1, 0), (0, 2, 1), (1, 1, 0), (1, 2, 2), (2, 0, 0), (2, 2, 0)]


def test_tiny_dataset_loads(tmp_path):
    write_dataset(tmp_path, "tiny", GOOD)
    ds = data.load("tiny", root=tmp_path)
    assert (ds.n_users, ds.n_items) == (3, 3)
    assert ds.train.tolist() == [[0, 0], [0, 1], [1, 1], [2, 0], [2, 2]]
    assert ds.valid.tolist() == [[0, 2]] and ds.test.tolist() == [[1, 2]]


@pytest.mark.parametrize("rows,kwargs,pattern", [
    (GOOD, {"header": "userID\titemID\tlabel"}, r"tiny\.inter, line 1: missing column\(s\) \['x_label'\]"),
    (GOOD[:3] + [(1, 7, 0)] + GOOD[3:], {"n_items": 3}, r"tiny\.inter, line 5: itemID 7 out of range \[0, 3\)"),
    (GOOD + [(5, 0, 0)], {"n_users": 3}, r"line 9: userID 5 out of range \[0, 3\)"),
    (GOOD + [(0, 1, 2)], {}, r"line 9: duplicate pair \(userID 0, itemID 1\), first seen on line 3"),
    (GOOD[:3] + [(1, 1, 1)] + GOOD[4:], {}, r"userID 1 has no training interactions .*lines 5, 6"),
    (GOOD + [(1, 0, 3)], {}, r"line 9: x_label 3 not in \[0, 1, 2\]"),
])
def test_validation_errors_name_file_and_line(tmp_path, rows, kwargs, pattern):
    write_dataset(tmp_path, "tiny", rows, **kwargs)
    with pytest.raises(DataError, match=pattern):
        data.load("tiny", root=tmp_path)


def test_non_integer_value(tmp_path):
    d = write_dataset(tmp_path, "tiny", GOOD)
    text = (d / "tiny.inter").read_text().splitlines()
    text[3] = "1\tabc\t0"
    (d / "tiny.inter").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"tiny\.inter, line 4: column 'itemID' has 'abc'"):
        data.load("tiny", root=tmp_path)


def test_missing_file_and_unknown_dataset(tmp_path):
    d = write_dataset(tmp_path, "tiny", GOOD)
    (d / "i_id_mapping.csv").unlink()
    with pytest.raises(DataError, match=r"i_id_mapping\.csv: file not found"):
        data.load("tiny", root=tmp_path)
    with pytest.raises(DataError, match="known datasets: baby, beauty, clothing, sports"):
        data.load("nope", root=tmp_path)


def test_bad_side_information_line(tmp_path):
    d = write_dataset(tmp_path, "sports", GOOD)
    (d / "item_keywords.jsonl").write_text('{"itemID": 0, "keywords": "a b"}\n{"itemID": 9, "keywords": "c"}\n')
    with pytest.raises(DataError, match=r"item_keywords\.jsonl, line 2: itemID 9 out of range"):
        data.load("sports", root=tmp_path)
    (d / "item_keywords.jsonl").write_text('{"itemID": 0, "keywords": "a b"}\n{"itemID": 1}\n')
    with pytest.raises(DataError, match=r"line 2: missing field 'keywords'"):
        data.load("sports", root=tmp_path)
    (d / "item_keywords.jsonl").write_text('{"itemID": 0, "keywords": "a"}\n')
    ds = data.load("sports", root=tmp_path)
    assert ds.side["keywords"] == ["a", None, None]
