"""The checks that `make book` runs on the built pages catch what they are meant to catch."""
import base64
import importlib.util
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


@pytest.fixture
def site(tmp_path):
    (tmp_path / "fig.png").write_bytes(PNG)
    (tmp_path / "good.html").write_text(page('<img src="fig.png" alt="figure">'))
    (tmp_path / "broken.html").write_text(page('<img src="missing.png" alt="figure">'))
    (tmp_path / "nofigure.html").write_text(page(""))
    (tmp_path / "error.html").write_text(page('<img src="fig.png"><div class="output traceback">'
                                              "Traceback (most recent call last): ValueError</div>"))
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
