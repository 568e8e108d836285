"""Check the package's shape: sizes, import cycles, imports at the top. CI runs it (tests/test_layout.py).

    python scripts/check_layout.py            # prints every violation, exits 1 if any
    python scripts/check_layout.py --report   # also prints the largest modules, classes, functions

Limits (issue 10): no module over 400 lines, no class over 150, no function over 60; no import cycle
between the package's modules; every import at the top of its module, unless the line before it (or
the import line itself) carries a comment saying why (optional heavy dependencies); and data flows
down the pipeline: a stage package imports only from the stages before it (STAGES), the shared
top-level modules (records, settings, errors, ...) import no stage at all, and only `app` may import
the facade (`library`).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_MODULE, MAX_CLASS, MAX_FUNCTION = 400, 150, 60
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "paperqa"
# The pipeline, in order; packages on one rank (keep, evaluate) are siblings and import neither other.
STAGES: tuple[tuple[str, ...], ...] = (
    ("catalog",),
    ("corpus",),
    ("parse",),
    ("search",),
    ("answer",),
    ("keep", "evaluate"),
    ("library",),  # the facade: every stage below it, only the app above
    ("app",),
)
RANK = {name: rank for rank, names in enumerate(STAGES) for name in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _span(node: ast.AST) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1  # type: ignore[attr-defined]


def sizes(path: Path, tree: ast.Module, lines: list[str]) -> list[str]:
    out = []
    if len(lines) > MAX_MODULE:
        out.append(f"{path}: module has {len(lines)} lines (max {MAX_MODULE})")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and _span(node) > MAX_CLASS:
            out.append(f"{path}:{node.lineno}: class {node.name} has {_span(node)} lines (max {MAX_CLASS})")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _span(node) > MAX_FUNCTION:
            out.append(
                f"{path}:{node.lineno}: function {node.name} has {_span(node)} lines (max {MAX_FUNCTION})"
            )
    return out


def _resolve(mod: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(
    mod: str, path: Path, tree: ast.Module, lines: list[str], known: set[str]
) -> tuple[set[str], list[str]]:
    """The package modules `mod` imports at module level, and imports not at the top."""
    deps: set[str] = set()
    late: list[str] = []
    is_pkg = path.name == "__init__.py"
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [_resolve(mod, node, is_pkg)]
            + [f"{_resolve(mod, node, is_pkg)}.{a.name}" for a in node.names]
        )
        targets = {n for n in names if n in known}
        if id(node) in top_level:
            if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                deps |= targets
            continue
        in_type_check = False
        here = lines[node.lineno - 1]
        before = lines[node.lineno - 2] if node.lineno > 1 else ""
        if "#" in here or before.strip().startswith("#"):
            continue
        for parent in tree.body:
            guarded = isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test)
            if guarded and parent.lineno <= node.lineno <= (parent.end_lineno or parent.lineno):
                in_type_check = True
        if not in_type_check:
            late.append(
                f"{path}:{node.lineno}: import inside a function or block without a comment saying why"
            )
    return deps, late


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _stage(mod: str) -> tuple[str, int]:
    """(stage, rank) of a module; rank -1 for the shared top-level modules every stage may use."""
    parts = mod.split(".")
    name = parts[1] if len(parts) > 1 else ""
    return (name, RANK[name]) if name in RANK else ("shared", -1)


def direction(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go up the pipeline, or across between sibling stages."""
    out = []
    for mod in sorted(graph):
        stage, rank = _stage(mod)
        for dep in sorted(graph[mod]):
            if dep == PACKAGE.name:
                continue  # the package root: `from .. import __version__`, set before it imports anything
            dep_stage, dep_rank = _stage(dep)
            if dep_stage == stage or dep_rank == -1:
                continue
            if dep_rank >= rank:
                out.append(f"import against the pipeline: {mod} ({stage}) imports {dep} ({dep_stage})")
    return out


def check(report: bool = False) -> list[str]:
    files = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in files}
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        rel = path.relative_to(ROOT)
        problems += sizes(rel, tree, lines)
        mod = module_name(path)
        deps, late = imports(mod, rel, tree, lines, known)
        # a package's __init__ importing its own modules is how it exports them, not a cycle
        graph[mod] = {
            d for d in deps if d != mod and not (path.name == "__init__.py" and d.startswith(mod + "."))
        }
        problems += late
    problems += direction(graph)
    for comp in cycles(graph):
        problems.append("import cycle: " + " -> ".join(comp))
    if report:
        for path in files:
            n = len(path.read_text(encoding="utf-8").splitlines())
            print(f"{n:5d} {path.relative_to(ROOT)}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    problems = check(args.report)
    for p in problems:
        print(p)
    print(f"{len(problems)} layout problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
