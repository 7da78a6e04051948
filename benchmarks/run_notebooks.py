"""Run every chapter (``notebooks/*.ipynb``) with papermill under one set of parameters, a few at a time, and
record per chapter its wall seconds and whether it ran through: the GPU check runs the book in smoke mode
with ``device=cuda`` (DEVELOPERS.md). A chapter gets only the parameters its ``parameters`` cell declares,
as in ``tests/test_notebooks.py``.

    .venv/bin/python benchmarks/run_notebooks.py --out /tmp/nb -p mode smoke -p device cuda -p threads 4
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import papermill as pm

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.ipynb"))


def run_one(path: Path, out_dir: Path, params: dict) -> dict:
    declared = pm.inspect_notebook(str(path))
    given = {k: v for k, v in params.items() if k in declared}
    start = time.perf_counter()
    row = {"chapter": path.stem, "parameters": given}
    try:
        pm.execute_notebook(str(path), str(out_dir / path.name), parameters=given, cwd=str(path.parent),
                            kernel_name="python3", progress_bar=False)
        row["ok"] = True
    except Exception as e:  # papermill's PapermillExecutionError carries the cell's error
        row["ok"], row["error"] = False, f"{type(e).__name__}: {str(e)[-1500:]}"
    row["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{path.stem}: {'ok' if row['ok'] else 'FAILED'} in {row['seconds']} s", flush=True)
    return row


def parse_value(text: str):
    """``-p name value`` as papermill's CLI reads it: an int or float where it parses as one, else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder for the executed notebooks and notebooks.json")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    p.add_argument("--jobs", type=int, default=2, help="chapters run at once")
    p.add_argument("--chapters", nargs="+", default=None, help="stems to run (default: all)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    params = {k: parse_value(v) for k, v in args.parameter}
    paths = [n for n in NOTEBOOKS if args.chapters is None or n.stem in args.chapters]
    if not paths:
        p.error(f"--chapters {args.chapters}: none of {[n.stem for n in NOTEBOOKS]}")
    rows = []
    # processes, not threads: papermill's ``cwd`` changes the process's working directory while a chapter runs
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        for row in as_completed([pool.submit(run_one, n, out, params) for n in paths]):
            rows.append(row.result())  # written as each chapter ends: a run cut short keeps the finished ones
            (out / "notebooks.json").write_text(json.dumps({"parameters": params, "results": rows}, indent=1) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
