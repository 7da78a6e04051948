"""Sphinx extension: drop duplicate <script> entries from every page.

sphinx-thebe 0.3.1 registers its inline configuration script (``const THEBE_JS_URL = ...``) twice under
jupyter-book 1.x, so every page throws "Identifier 'THEBE_JS_URL' has already been declared" in the
browser (found by book/check_browser.py). A script with the same file name and attributes is kept once.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""),  # inline scripts: None or ""
               tuple(sorted((getattr(js, "attributes", None) or {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
