"""Project-level invariants: the layout the user fixed, and one dependency list in two files."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_layout():
    for p in ("book", "notebooks", "neggen_lite", "_config.yml", "_toc.yml", "environment.yml", "tests",
              "pyproject.toml", "data", "results", "benchmarks", "Makefile", ".ci/run", "README.md"):
        assert (ROOT / p).exists(), p


def _name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_and_pyproject_name_the_same_dependencies():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip = [s for s in pip if not s.startswith("-e")]
    assert sorted(py) == sorted(pip)
    assert "torch==2.13.0" in py


def test_toc_files_exist():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [c for part in toc.get("parts", []) for c in part["chapters"]] + toc.get("chapters", [])
    files = [toc["root"]] + [c["file"] for c in entries]
    assert sum(f.startswith("notebooks/") for f in files) == 8 and files[-1] == "book/running"
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f
