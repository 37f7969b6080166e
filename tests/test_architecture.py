"""The package's import graph: no cycles, and the CUDA backend independent of the CPU engine.

Imports are read from the source (module level and inside functions), so a
lazy import that would close a cycle counts too.
"""
import ast
from pathlib import Path

import lstmlab

ROOT = Path(lstmlab.__file__).parent
#: Modules of the CPU engine (njit kernels, fastmath overloads, BLAS bindings).
CPU_ENGINE = {"lstmlab.engine", "lstmlab.codegen", "lstmlab.fastmath", "lstmlab.blas", "lstmlab.recompute"}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


def _graph():
    mods = {name: (path, pkg) for name, path, pkg in _modules()}
    graph = {}
    for name, (path, is_pkg) in mods.items():
        package = name if is_pkg else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                # importing the top-level package (lstmlab/__init__) from inside it is not a dependency edge
                if t and t != name and t != "lstmlab":
                    edges.add(t)
        graph[name] = edges
    return graph


def _reach(graph, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycles():
    graph = _graph()
    cycles = sorted(m for m in graph if m in _reach(graph, m))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_the_graph_sees_lazy_imports():
    # variant.py once imported derive inside describe(), and derive imported variant: that was a cycle
    graph = _graph()
    assert "lstmlab.cuda.engine" in graph["lstmlab.backends"]  # imported inside a method
    assert "lstmlab.variant" in graph["lstmlab.spec"]


def test_cuda_backend_does_not_import_the_cpu_engine():
    graph = _graph()
    for mod in [m for m in graph if m.startswith("lstmlab.cuda")]:
        bad = _reach(graph, mod) & CPU_ENGINE
        assert not bad, f"{mod} reaches {sorted(bad)}"


def test_user_facing_text_names_no_tracker_issues():
    """Docs, help and messages say what a thing is, not which ticket asked for it."""
    import re
    top = ROOT.parent
    files = [*ROOT.rglob("*.py"), *(top / "docs").glob("*.md"), top / "README.md",
             *(top / "asv_benchmarks").rglob("*.py"), *(top / "asv_benchmarks").glob("*.md")]
    hits = [f"{p.relative_to(top)}:{n}" for p in files if p.exists()
            for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\bissues? #?\d", line, re.I)]
    assert not hits, hits
