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

from ..core.data import DATASETS
from ..core.runtime import git_commit, resolve_device
from ..core.safety import SettingsError

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


def glue_output(name: str, value: Any, display: bool = False) -> None:
    """The output myst-nb's ``glue`` writes, for a kernel without the book's build tools (a chapter run with
    papermill alone): ``value``'s display bundle, its MIME types under :data:`GLUE_PREFIX` unless ``display``,
    and ``scrapbook`` metadata naming it."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def record(name: str, value: Any, display: bool = False) -> None:
    """Glue ``value`` under ``name`` into the executing notebook (shown only with ``display=True``): myst-nb's
    ``glue`` where jupyter-book is installed, else :func:`glue_output`, the same output."""
    try:
        from myst_nb import glue
    except ImportError:
        glue = glue_output
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
    few lines that fit the book's column -- the first code cell of every chapter calls this -- and return them as a dict."""
    info = versions()
    commit = git_commit()
    info["commit"] = commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")
    info["cuda available"] = str(torch.cuda.is_available())
    info["torch threads"] = str(torch.get_num_threads())
    info.update({k: str(v) for k, v in context.items()})
    line = ""
    for part in (f"{k} {v}" for k, v in info.items()):  # lines of at most ~78 characters: the book's column
        if line and len(line) + 3 + len(part) > 78:
            print(line)
            line = ""
        line = f"{line} | {part}" if line else part
    print(line)
    return info


#: admonition classes :func:`conclusion` accepts (sphinx-book-theme colours them)
CONCLUSION_KINDS = ("note", "tip", "important", "warning")


def conclusion(title: str, text: str, kind: str = "note") -> str:
    """Show ``text`` (Markdown, written from recorded values) as a MyST admonition titled ``title`` and
    return its source. The book renders Markdown outputs as MyST (``nb_render_markdown_format: myst`` in
    ``_config.yml``), so a cell tagged ``remove-input`` that calls this shows only the boxed conclusion;
    in JupyterLab the same cell shows the Markdown."""
    from IPython.display import Markdown, display

    if kind not in CONCLUSION_KINDS:
        raise ValueError(f"kind must be one of {CONCLUSION_KINDS}, got {kind!r}")
    source = f":::{{admonition}} {title}\n:class: {kind}\n{text.strip()}\n:::\n"
    display(Markdown(source))
    return source


NOTEBOOK_MODES = ("smoke", "book", "full")


def _int_at_least(low: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


#: every chapter parameter papermill may set (``-p NAME VALUE``), with what it accepts
PARAMETER_RULES = {
    "dataset": (lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}"),
    "device": (lambda v: isinstance(v, str) and (v in ("cpu", "cuda", "auto") or v.startswith("cuda:")),
               "cpu, cuda, cuda:N or auto"),
    "mode": (lambda v: v in NOTEBOOK_MODES, f"one of {', '.join(NOTEBOOK_MODES)}"),
    "seed": (_int_at_least(0), "an integer >= 0"),
    "generator": (lambda v: isinstance(v, str) and v.strip() != "", "a generator name, cache or URL"),
    "encoder": (lambda v: isinstance(v, str) and v.strip() != "", "a sentence-transformers model name"),
    "results_dir": (lambda v: v is None or Path(v).is_dir(), "None or an existing folder"),
    "n_items": (_int_at_least(1), "an integer >= 1"),
    "n_show": (_int_at_least(1), "an integer >= 1"),
    "demo_items": (_int_at_least(0), "an integer >= 0"),
    "threads": (lambda v: v is None or _int_at_least(1)(v), "None or an integer >= 1"),
}


def check_parameters(namespace: dict) -> None:
    """Validate a chapter's parameters (the names of :data:`PARAMETER_RULES` found in ``namespace``, e.g.
    ``globals()``) before anything runs; a :class:`SettingsError` names the parameter and what it accepts.
    A CUDA device on a machine without CUDA is refused here too."""
    for name, (ok, accepts) in PARAMETER_RULES.items():
        if name in namespace and not ok(namespace[name]):
            raise SettingsError(f"parameter {name}={namespace[name]!r}: expected {accepts}")
    if "device" in namespace:
        resolve_device(namespace["device"])
