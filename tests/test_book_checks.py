"""The checks that `make book` runs on the built pages catch what they are meant to catch."""
import base64
import importlib.util
import json
import re
import struct
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "book" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


check_browser = load("check_browser")
# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
TEXT = "<p>" + "A chapter with enough prose to count as a rendered page. " * 10 + "</p>"


def page(body):
    return f"<!DOCTYPE html><html><head><title>t</title></head><body><main>{TEXT}{body}</main></body></html>"


def png(width, height):
    """A white PNG of ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def column_page(body):
    """A page whose text column is 688 px wide, as sphinx-book-theme's at a 1280-px window."""
    return (f"<!DOCTYPE html><html><head><title>t</title><style>img {{max-width: 100%}} "
            f".cell_output {{overflow-x: auto}}</style></head><body><main><article class='bd-article' "
            f"style='width: 688px'>{TEXT}<section id='results'>{body}</section></article></main></body></html>")


@pytest.fixture
def site(tmp_path):
    (tmp_path / "fig.png").write_bytes(PNG)
    (tmp_path / "good.html").write_text(page('<img src="fig.png" alt="figure">'))
    (tmp_path / "broken.html").write_text(page('<img src="missing.png" alt="figure">'))
    (tmp_path / "nofigure.html").write_text(page(""))
    (tmp_path / "error.html").write_text(page('<img src="fig.png"><div class="output traceback">'
                                              "Traceback (most recent call last): ValueError</div>"))
    (tmp_path / "wide.png").write_bytes(png(1400, 300))
    (tmp_path / "column.png").write_bytes(png(640, 300))
    (tmp_path / "fits.html").write_text(column_page(
        '<img src="column.png" alt="a column-wide figure"><table><tr><td>ours 0.0913</td><td>paper 0.0973</td></tr>'
        '</table><div class="cell_output"><pre>a short line</pre></div>'
        '<details><summary>folded</summary><table><tr>' + "<td>a wide cell, folded</td>" * 30 + "</tr></table></details>"))
    (tmp_path / "too_wide.html").write_text(column_page(
        '<img src="column.png"><div class="cell_output"><pre>' + "x" * 300 + "</pre></div>"
        "<table><tr>" + "<td>a wide cell of a wide table</td>" * 30 + "</tr></table>"))
    (tmp_path / "strip.html").write_text(column_page('<img src="wide.png" alt="a strip of six panels">'))
    return tmp_path


needs_browser = pytest.mark.skipif(check_browser.find_browser() is None,
                                   reason="no headless Chromium (apt-get install chromium)")


@needs_browser
def test_browser_check_passes_a_good_page_and_catches_bad_ones(site):
    browser = check_browser.find_browser()
    problems, info = check_browser.check_page(browser, site / "good.html", needs_figure=True)
    assert problems == [] and info["images"] == 1 and info["broken"] == []
    problems, _ = check_browser.check_page(browser, site / "broken.html", needs_figure=True)
    assert any("missing.png" in p for p in problems)
    problems, _ = check_browser.check_page(browser, site / "nofigure.html", needs_figure=True)
    assert any("without any figure" in p for p in problems)
    problems, _ = check_browser.check_page(browser, site / "error.html", needs_figure=True)
    assert any("error output" in p for p in problems)
    assert not list(site.glob(".browser-check-*")), "probe copies are removed"


def test_missing_browser_fails_in_ci_and_warns_locally(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(check_browser, "find_browser", lambda: None)
    monkeypatch.setenv("CI", "true")
    assert check_browser.main(str(tmp_path), pages=["x"]) == 1
    monkeypatch.delenv("CI")
    assert check_browser.main(str(tmp_path), pages=["x"]) == 0
    assert "warning" in capsys.readouterr().err


def test_conclusion_renders_a_myst_admonition_and_refuses_unknown_kinds():
    from neggen_lite.results.notebook import conclusion

    source = conclusion("Ours vs the paper", "ours 0.0913, the paper 0.0973\n", "tip")
    assert source.splitlines() == [":::{admonition} Ours vs the paper", ":class: tip", "ours 0.0913, the paper 0.0973", ":::"]
    with pytest.raises(ValueError, match="kind must be one of"):
        conclusion("t", "x", "danger-zone")


@needs_browser
def test_browser_check_fails_elements_wider_than_the_column_and_shrunk_figures(site):
    browser = check_browser.find_browser()
    problems, info = check_browser.check_page(browser, site / "fits.html", needs_figure=True)
    assert problems == [] and info["column"] == 688 and info["wide"] == [] and info["shrunk"] == []
    problems, info = check_browser.check_page(browser, site / "too_wide.html", needs_figure=True)
    wide = [p for p in problems if "wider than the 688-px text column" in p]
    # the innermost elements are named (the line and the table, not the output area around the line)
    assert len(wide) == 2, problems
    assert any(p.startswith(f"{site / 'too_wide.html'}: ") and "pre \"xxx" in p and "#results" in p for p in wide)
    assert any("table" in p and "a wide cell" in p for p in wide)
    assert all(int(p.rsplit(" is ", 1)[1].split()[0]) > 688 for p in wide)
    problems, info = check_browser.check_page(browser, site / "strip.html", needs_figure=True)
    assert len(problems) == 1 and "figure shown at 688 px of its natural 1400 px (49% < 60%" in problems[0]
    assert "a strip of six panels" in problems[0]


@needs_browser
def test_browser_check_screenshots_three_pages_beside_the_html(site, capsys):
    html_dir = site / "html"
    html_dir.mkdir()
    for name in ("a", "b", "c", "d"):
        (html_dir / f"{name}.html").write_text(page("<p>page</p>"))
    assert check_browser.main(str(html_dir), pages=["a", "b", "c", "d"]) == 0
    shots = sorted(p.name for p in site.glob("screenshot-*.png"))
    assert shots == ["screenshot-a.png", "screenshot-c.png", "screenshot-d.png"]
    assert all((site / s).read_bytes().startswith(b"\x89PNG") for s in shots)


def test_toc_pages_reads_chapters_and_parts(tmp_path):
    (tmp_path / "flat.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: a\n  - file: b\n")
    (tmp_path / "parts.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: Chapters\n"
                                        "    chapters:\n      - file: a\n  - caption: Appendix\n"
                                        "    chapters:\n      - file: book/running\n")
    assert check_browser.toc_pages(tmp_path / "flat.yml") == ["book/intro", "a", "b"]
    assert check_browser.toc_pages(tmp_path / "parts.yml") == ["book/intro", "a", "book/running"]


def test_record_without_jupyter_book_writes_what_myst_nb_glue_writes(monkeypatch):
    """A chapter run with papermill alone (no jupyter-book, e.g. on a GPU machine's image) records its values in
    the same outputs as myst-nb's glue, so read_records reads them back alike."""
    import sys

    import IPython.display
    import numpy as np
    from myst_nb import glue

    from neggen_lite.results import notebook

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    import myst_nb.ext.glue as glue_module
    monkeypatch.setattr(glue_module, "ipy_display", lambda *a, **k: shown.append((a, k)))
    for display in (False, True):
        shown.clear()
        glue("recall", 0.0931, display=display)
        notebook.glue_output("recall", 0.0931, display=display)
        assert len(shown) == 2 and shown[0] == shown[1]
    shown.clear()
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb -> ImportError
    notebook.record("n_users", np.int64(19445))
    (bundle,), meta = shown[0][0], shown[0][1]
    cell = {"outputs": [{"output_type": "display_data", "data": bundle, "metadata": meta["metadata"]}]}
    assert notebook.read_records({"cells": [cell]}) == {"n_users": 19445}


#: code cells with one of these tags show no input in the book
HIDDEN_INPUT = {"remove-input", "remove-cell", "hide-input", "hide-cell"}
#: MyST directives whose fenced body is code; other fenced directives (admonitions) hold Markdown
CODE_DIRECTIVES = {"code-cell", "code", "code-block", "sourcecode"}


def fenced_code(text):
    """``(line number, line)`` of every line of Markdown ``text`` inside a fenced code block (``` or ~~~, plain
    or a code directive such as ```{code-cell}); a fenced admonition's body is Markdown, searched for fences."""
    fences = []  # the open fences, innermost last: (character, length, holds code)
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(`{3,}|~{3,})(.*)", line)
        closes = bool(m and fences and m.group(1)[0] == fences[-1][0] and len(m.group(1)) >= fences[-1][1]
                      and not m.group(2).strip())
        if fences and fences[-1][2]:
            if closes:
                fences.pop()
            else:
                yield n, line
        elif closes:
            fences.pop()
        elif m:
            info = m.group(2).strip()
            fences.append((m.group(1)[0], len(m.group(1)),
                           not info.startswith("{") or info[1:].split("}")[0] in CODE_DIRECTIVES))


def visible_code_lines(paths):
    """``(where, line number, line)`` of every code line the book shows: the code cells of notebooks without a
    tag that hides their input, and the fenced code blocks of Markdown (notebook cells and ``.md`` pages)."""
    for path in paths:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if path.suffix != ".ipynb":
            for n, line in fenced_code(path.read_text()):
                yield f"{name}", n, line
            continue
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and not HIDDEN_INPUT & set(cell.get("metadata", {}).get("tags", [])):
                lines = enumerate(src.splitlines(), 1)
            elif cell["cell_type"] == "markdown":
                lines = fenced_code(src)
            else:
                continue
            for n, line in lines:
                yield f"{name} cell {i}", n, line


def test_every_visible_code_line_fits_the_column():
    """A code cell's input wider than the text column scrolls sideways: every line the book shows fits."""
    from neggen_lite.results import layout

    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
    long = [f"{where}, line {n}: {len(line)} > {layout.CODE_CHARS} characters: {line.strip()[:50]}"
            for where, n, line in visible_code_lines(paths) if len(line) > layout.CODE_CHARS]
    assert not long, "\n".join(long)


def test_code_line_check_reads_only_what_the_book_shows(tmp_path):
    wide = "x = " + "1 + " * 30 + "1"
    cells = [{"cell_type": "code", "metadata": {"tags": [tag]}, "source": [wide]}
             for tag in sorted(HIDDEN_INPUT) + ["remove-output"]]
    cells.append({"cell_type": "markdown", "metadata": {}, "source": [
        "```{admonition} Note\n", wide + "\n", "```\n", "~~~python\n", "short\n", wide + "\n", "~~~\n",
        "````{admonition} Solution\n", "```{code-cell} ipython3\n", wide + "\n", "```\n", "````\n", wide]})
    (tmp_path / "chapter.ipynb").write_text(json.dumps({"cells": cells}))
    (tmp_path / "page.md").write_text(f"{wide}\n\n```bash\n{wide}\n```\n{wide}\n")
    found = [(where, n) for where, n, line in visible_code_lines([tmp_path / "chapter.ipynb", tmp_path / "page.md"])
             if line == wide]
    assert found == [(f"{tmp_path / 'chapter.ipynb'} cell 4", 1), (f"{tmp_path / 'chapter.ipynb'} cell 5", 6),
                     (f"{tmp_path / 'chapter.ipynb'} cell 5", 10), (f"{tmp_path / 'page.md'}", 4)]
