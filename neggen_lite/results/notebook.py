"""Record a notebook's key numbers so the prose can cite them and tests can read them back.

``record(name, value)`` stores the value with myst-nb's ``glue`` (so the book can write
``{glue:}`name``` in prose); ``read_records(notebook)`` returns ``{name: value}`` from an executed
notebook. Values are plain Python literals (numbers, strings, lists, dicts).
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
import importlib.metadata
import platform
from typing import Any

import numpy as np
import torch

from ..core.runtime import git_commit

GLUE_PREFIX = "application/papermill.record/"


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # torch scalars
        return value.item()
    return value


def record(name: str, value: Any, display: bool = False) -> None:
    """Glue ``value`` under ``name`` into the executing notebook (shown only with ``display=True``)."""
    from myst_nb import glue

    glue(name, _plain(value), display=display)


def read_records(notebook: str | Path | dict) -> dict[str, Any]:
    """``{name: value}`` of everything recorded in an executed notebook (path or nbformat dict)."""
    nb = json.loads(Path(notebook).read_text()) if not isinstance(notebook, dict) else notebook
    out: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            data = o.get("data", {})
            text = data.get(meta.get("mime_prefix", "") + "text/plain")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            try:
                out[meta["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[meta["name"]] = text
    return out


#: distributions whose versions a chapter prints first (read from the installed metadata, no imports)
VERSION_PACKAGES = ("neggen-lite", "torch", "numpy", "pandas", "scipy", "matplotlib", "seaborn", "transformers",
                    "sentence-transformers", "ipywidgets", "papermill", "jupyter-book")


def versions(packages: tuple[str, ...] = VERSION_PACKAGES) -> dict[str, str]:
    """``{name: version}`` of Python, the platform and ``packages`` (``"not installed"`` where missing)."""
    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def show_versions(**context: Any) -> dict[str, str]:
    """Print the package and library versions, the git commit (and ``context``, e.g. ``device=...``) on a
    few short lines -- the first code cell of every chapter calls this -- and return them as a dict."""
    info = versions()
    commit = git_commit()
    info["commit"] = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")
    info["cuda available"] = str(torch.cuda.is_available())
    info["torch threads"] = str(torch.get_num_threads())
    info.update({k: str(v) for k, v in context.items()})
    line = ""
    for part in (f"{k} {v}" for k, v in info.items()):  # lines of at most ~100 characters
        if line and len(line) + 3 + len(part) > 100:
            print(line)
            line = ""
        line = f"{line} | {part}" if line else part
    print(line)
    return info
