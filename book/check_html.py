"""Check a built book: every page of the table of contents exists, no page shows an error output,
every chapter notebook has a figure, and MathJax is bundled (math renders offline).

Usage: python book/check_html.py _build/html
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ERROR_MARKERS = ("Traceback (most recent call last)", 'class="output traceback', "output_type\": \"error")


def main(html_dir: str) -> int:
    html = Path(html_dir)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [c for part in toc.get("parts", []) for c in part.get("chapters", [])] + toc.get("chapters", [])
    pages = [toc["root"]] + [c["file"] for c in entries]
    problems = []
    for page in pages:
        f = html / f"{page}.html"
        if not f.exists():
            problems.append(f"{f}: missing")
            continue
        text = f.read_text(encoding="utf-8")
        problems += [f"{f}: contains {m!r}" for m in ERROR_MARKERS if m in text]
        if page.startswith("notebooks/") and "<img" not in text:
            problems.append(f"{f}: a chapter notebook without any figure")
    mathjax = html / "_static" / "mathjax" / "tex-chtml.js"
    if not mathjax.exists():
        problems.append(f"{mathjax}: missing (math would need the internet to render)")
    for p in problems:
        print("book check:", p, file=sys.stderr)
    print(f"book check: {len(pages)} pages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "_build/html"))
