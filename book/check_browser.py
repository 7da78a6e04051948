"""Open every page of the built book in headless Chromium and check what a reader would see.

For each page of the table of contents, a copy with a small probe script is loaded from disk
(``chromium --headless --dump-dom``); after the page's ``load`` event the probe writes into the DOM how
many images the page has and which of them did not decode, every script error, and every resource
(script, style sheet, image, font) that failed to load. A page fails the check when it does not load,
when a chapter notebook has no image or a broken one, when a script or resource failed, or when the
rendered page shows an error output (a traceback).

The pages are loaded in a 1280 x 900 window, as a reader on a laptop sees them. The probe also measures
what fits the text column (``article.bd-article``, else ``main``): a page fails when an output area, a
table, a displayed equation or an image inside the column is wider than the column (its ``scrollWidth``
against the column's width: such an element is cut at the column's edge or scrolls sideways), naming the
innermost such element, its section and both widths; and when a figure is shown at under 60 % of its
natural width (a strip whose ticks and legend are unreadable: draw it narrower, at most ~7 in wide).
``main`` also takes three screenshots (the first, middle and last page checked) into the folder above
the HTML (``_build/screenshot-<page>.png``) for a person to look at.

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
WINDOW = (1280, 900)          # the probe's window: a laptop's browser at full width
MIN_FIGURE_SCALE = 0.6        # a figure shown at less than this share of its natural width fails
#: what must fit the text column: output areas, tables, displayed equations, images
WIDE_SELECTORS = ".cell_output, .cell_output .output, .cell_output pre, table, div.math, mjx-container, img"
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
    var done = function () {
      var out = document.createElement("pre");
      out.id = "%s";
      var layout = measure();
      out.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__ngErrors,
                                        title: document.title, text_chars: main.innerText.length,
                                        column: layout.column, wide: layout.wide, shrunk: layout.shrunk});
      document.body.appendChild(out);
    };
    var mj = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    if (mj) { mj.then(done, done); } else { done(); }
  }, 1500);
});
function describe(el) {
  var name = el.tagName.toLowerCase();
  var cls = (el.getAttribute("class") || "").split(/\\s+/).filter(Boolean).slice(0, 2);
  if (cls.length) { name += "." + cls.join("."); }
  var what = el.tagName === "IMG" ? (el.getAttribute("alt") || el.getAttribute("src") || "")
                                   : (el.innerText || el.textContent || "");
  what = what.replace(/\\s+/g, " ").trim();
  if (what.length > 60) { what = what.slice(0, 57) + "..."; }
  var sec = el.closest("section[id]");
  return name + (what ? ' "' + what + '"' : "") + (sec ? " in section #" + sec.id : "");
}
function measure() {
  var col = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  var cs = getComputedStyle(col);
  var width = col.clientWidth - parseFloat(cs.paddingLeft || 0) - parseFloat(cs.paddingRight || 0);
  var wide = [], shrunk = [];
  var els = Array.prototype.slice.call(col.querySelectorAll("%s"));
  els.forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) { return; }   // hidden
    var folded = el.parentElement && el.parentElement.closest("details:not([open])");
    if (folded && !(folded.firstElementChild && folded.firstElementChild.contains(el))) { return; }  // in a closed <details>
    var w = Math.max(el.scrollWidth, Math.round(r.width));
    if (w > width + 2) { wide.push({el: el, width: w}); }
    if (el.tagName === "IMG" && el.naturalWidth > 0 && r.width < %s * el.naturalWidth) {
      shrunk.push({what: describe(el), shown: Math.round(r.width), natural: el.naturalWidth});
    }
  });
  // name the innermost element only: an output area is wide because of the table or line inside it
  var inner = wide.filter(function (a) {
    return !wide.some(function (b) { return b !== a && a.el.contains(b.el); });
  });
  return {column: Math.round(width), shrunk: shrunk,
          wide: inner.map(function (a) { return {what: describe(a.el), width: a.width}; })};
}
</script>""" % (PROBE_ID, WIDE_SELECTORS, MIN_FIGURE_SCALE)


def find_browser() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).is_file() else None
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def toc_pages(toc_file: Path = ROOT / "_toc.yml") -> list[str]:
    """The root and every file of the table of contents, in order (``chapters`` or ``parts``)."""
    toc = yaml.safe_load(Path(toc_file).read_text())
    entries = [c for part in toc.get("parts", []) for c in part.get("chapters", [])] + toc.get("chapters", [])
    return [toc["root"]] + [c["file"] for c in entries]


def chromium_cmd(browser: str, profile: str) -> list[str]:
    return [browser, "--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-extensions", "--allow-file-access-from-files", "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={profile}", "--virtual-time-budget=20000"]


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
            cmd = chromium_cmd(browser, profile) + ["--dump-dom", probe.as_uri()]
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
    col = info.get("column")
    problems += [f"{page}: wider than the {col}-px text column at a {WINDOW[0]}-px window: {w['what']} is "
                 f"{w['width']} px wide" for w in info.get("wide", [])]
    problems += [f"{page}: figure shown at {s['shown']} px of its natural {s['natural']} px "
                 f"({s['shown'] / s['natural']:.0%} < {MIN_FIGURE_SCALE:.0%}; draw it narrower): {s['what']}"
                 for s in info.get("shrunk", [])]
    return problems, info


def screenshot(browser: str, page: Path, out: Path, height: int = 2000, timeout: int = 120) -> Path:
    """A ``WINDOW[0]``-px-wide screenshot of the top ``height`` px of ``page`` (PNG at ``out``)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = chromium_cmd(browser, profile) + [f"--window-size={WINDOW[0]},{height}",
                                                f"--screenshot={Path(out).resolve()}", Path(page).resolve().as_uri()]
        subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not Path(out).is_file():
        raise RuntimeError(f"{browser} wrote no screenshot of {page}")
    return Path(out)


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
                  f"{len(info['errors'])} errors, {info['text_chars']} characters of text, "
                  f"column {info.get('column')} px, {len(info.get('wide', []))} elements wider, "
                  f"{len(info.get('shrunk', []))} figures shrunk below {MIN_FIGURE_SCALE:.0%}")
    existing = [n for n in pages if (html_root / f"{n}.html").exists()]
    for name in dict.fromkeys(existing[i] for i in (0, len(existing) // 2, -1)) if existing else ():
        out = html_root.parent / f"screenshot-{name.replace('/', '-')}.png"
        try:
            print(f"browser check: screenshot {screenshot(browser, html_root / f'{name}.html', out)}")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{name}: no screenshot ({exc})")
    for p in problems:
        print("browser check:", p, file=sys.stderr)
    print(f"browser check ({Path(browser).name}): {len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
