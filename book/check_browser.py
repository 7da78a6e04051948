"""Open every page of the built book in headless Chromium and check what a reader would see.

For each page of the table of contents, a copy with a small probe script is loaded from disk
(``chromium --headless --dump-dom``); after the page's ``load`` event the probe writes into the DOM how
many images the page has and which of them did not decode, every script error, and every resource
(script, style sheet, image, font) that failed to load. A page fails the check when it does not load,
when a chapter notebook has no image or a broken one, when a script or resource failed, or when the
rendered page shows an error output (a traceback).

Chromium is Debian's ``chromium`` package (``apt-get install -y chromium``; ``.ci/run`` installs it).
When it is missing the check warns and passes locally, and fails under CI (``CI=true``).

Usage: python book/check_browser.py [_build/html]     (env CHROMIUM: the browser binary to use)
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ERROR_MARKERS = ("Traceback (most recent call last)", 'class="output traceback', "output_type\": \"error")
PROBE_ID = "neggen-browser-check"
PROBE = """<script>
window.__ngErrors = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) { window.__ngErrors.push("failed to load " + (t.src || t.href)); }
  else { window.__ngErrors.push("script error: " + e.message); }
}, true);
window.addEventListener("load", function () {
  setTimeout(function () {
    var imgs = Array.prototype.slice.call(document.images);
    var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return i.getAttribute("src"); });
    var main = document.querySelector("main") || document.body;
    var out = document.createElement("pre");
    out.id = "%s";
    out.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__ngErrors,
                                      title: document.title, text_chars: main.innerText.length});
    document.body.appendChild(out);
  }, 1500);
});
</script>""" % PROBE_ID


def find_browser() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).is_file() else None
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]


def dump_dom(browser: str, page: Path, timeout: int = 120) -> str:
    """The DOM of ``page`` after its scripts ran, loaded from disk through a probed copy beside it."""
    text = page.read_text(encoding="utf-8")
    text = text.replace('loading="lazy"', 'loading="eager"')  # lazy images would never load off-screen
    text = re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{PROBE}", text, count=1)
    page = page.resolve()
    probe = page.with_name(f".browser-check-{page.name}")
    probe.write_text(text, encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
                   "--no-first-run", "--disable-extensions", "--allow-file-access-from-files",
                   f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", probe.as_uri()]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0 and not res.stdout:
            raise RuntimeError(f"{browser} exited with {res.returncode}: {res.stderr.strip()[-500:]}")
        return res.stdout
    finally:
        probe.unlink(missing_ok=True)


def check_page(browser: str, page: Path, needs_figure: bool) -> tuple[list[str], dict]:
    if not page.exists():
        return [f"{page}: missing"], {}
    try:
        dom = dump_dom(browser, page)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [f"{page}: the browser could not load it ({exc})"], {}
    m = re.search(rf'<pre id="{PROBE_ID}">(.*?)</pre>', dom, re.S)
    if not m:
        return [f"{page}: the page did not finish loading in the browser (no probe result in the DOM)"], {}
    info = json.loads(html.unescape(m.group(1)))
    problems = [f"{page}: {e}" for e in info["errors"]]
    problems += [f"{page}: image does not decode: {src}" for src in info["broken"]]
    if needs_figure and info["images"] == 0:
        problems.append(f"{page}: a chapter notebook without any figure")
    if info["text_chars"] < 200:
        problems.append(f"{page}: almost no text rendered ({info['text_chars']} characters)")
    problems += [f"{page}: shows an error output ({mk!r})" for mk in ERROR_MARKERS if mk in dom]
    return problems, info


def main(html_dir: str = "_build/html", pages: list[str] | None = None) -> int:
    browser = find_browser()
    if browser is None:
        msg = ("headless Chromium not found (install Debian's package: apt-get install -y chromium, "
               "or set CHROMIUM=/path/to/browser)")
        if in_ci():
            print(f"browser check: error: {msg}; CI=true, so this fails", file=sys.stderr)
            return 1
        print(f"browser check: warning: {msg}; pages NOT checked in a browser", file=sys.stderr)
        return 0
    html_root = Path(html_dir).resolve()
    problems = []
    pages = pages if pages is not None else toc_pages()
    for name in pages:
        page_problems, info = check_page(browser, html_root / f"{name}.html", name.startswith("notebooks/"))
        problems += page_problems
        if info:
            print(f"browser check: {name}: {info['images']} images, {len(info['broken'])} broken, "
                  f"{len(info['errors'])} errors, {info['text_chars']} characters of text")
    for p in problems:
        print("browser check:", p, file=sys.stderr)
    print(f"browser check ({Path(browser).name}): {len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
