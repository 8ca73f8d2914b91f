"""The layers of docs/architecture.md, kept by the code: every import inside `lrlab` points down
the layer order, packages of one layer do not import each other, and no modules import each other
in a circle. Imports are read from the source (module level and inside functions), together with
the modules that code names for a lazy import: `importlib.import_module("lrlab.x.y")` and
"lrlab.x.y:function" references, so a lazy reference is held to the same order as an import.
(A command line that starts another process, `python -m lrlab.cli worker`, is a process
boundary, not an import.)"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lrlab"

# From the bottom up; a package may import its own layer's modules only inside itself.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("schedules",),
    ("store",),
    ("tasks",),
    ("finder", "training"),
    ("lr_check",),
    ("trackers",),
    ("jobs", "api"),
    ("web",),
    ("cli",),
]
LAYER_OF = {package: level for level, packages in enumerate(LAYERS) for package in packages}
# A schedule builds its torch scheduler, and the scheduler reads the schedule: one concept.
ALLOWED_CIRCLES = [{"lrlab.schedules.schedule", "lrlab.schedules.torch_adapter"}]
MAX_FUNCTION_LINES = 60
REFERENCE = re.compile(r"^lrlab(\.\w+)+:\w+$")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(module, line) of every lrlab module the file imports or names for importlib."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from lrlab.x import y` names module lrlab.x.y when y is one
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if REFERENCE.match(node.value):
                names = [node.value.partition(":")[0]]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant)):
            names = [str(node.args[0].value)]
        for name in names:
            if name == "lrlab" or name.startswith("lrlab."):
                yield name, node.lineno


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def edges() -> list[tuple[str, str, int]]:
    found = modules()
    known = set(found)
    out = []
    for source, path in found.items():
        for target, line in imported(path, known):
            while target not in known and "." in target:  # a name inside a module
                target = target.rsplit(".", 1)[0]
            if target != source:
                out.append((source, target, line))
    return out


def test_every_package_is_in_a_layer() -> None:
    packages = {package_of(m) for m in modules()} - {None}
    loose = {m for m in modules() if m.count(".") == 1 and package_of(m) not in LAYER_OF}
    assert packages - {package_of(m) for m in loose} <= set(LAYER_OF)
    assert loose == set(), f"modules outside every layer: {sorted(loose)}"


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for source, target, line in edges():
        here, there = package_of(source), package_of(target)
        if here is None or there is None or here == there:
            continue  # the package's face (lrlab/__init__) and a package's own modules
        if LAYER_OF[there] >= LAYER_OF[here]:
            wrong.append(f"{source}:{line} imports {target} ({there} is not below {here})")
    assert not wrong, "\n".join(wrong)


def test_only_the_version_is_taken_from_the_package_face() -> None:
    wrong = []
    for source, path in modules().items():
        if source == "lrlab":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "lrlab" and node.level == 0:
                names = {a.name for a in node.names}
                if names - {"__version__"} - {m.split(".")[1] for m in modules() if "." in m}:
                    wrong.append(f"{source}:{node.lineno} takes {sorted(names)} from lrlab")
    assert not wrong, "\n".join(wrong)


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges():
        if package_of(target) is not None and target != "lrlab":
            graph.setdefault(source, set()).add(target)
    circles = [c for c in _circles(graph) if c not in ALLOWED_CIRCLES]
    assert not circles, "circles: " + "; ".join(" <-> ".join(sorted(c)) for c in circles)


def test_no_function_is_longer_than_a_reader_can_follow() -> None:
    """60 lines at most: a longer one is split by the steps a reader follows."""
    long = []
    for source, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{source}.{node.name}: {lines} lines")
    assert not long, "\n".join(long)


@pytest.mark.parametrize("source, expected", [
    ("from lrlab.core.options import FIELDS\n", {"lrlab.core.options"}),
    ("def f():\n    from lrlab.web import ui\n", {"lrlab.web.ui"}),
    ('RUN = "lrlab.finder.job:run_from_config"\n', {"lrlab.finder.job"}),
    ('import importlib\nimportlib.import_module("lrlab.web.ui")\n', {"lrlab.web.ui"}),
    ('COMMAND = ["python", "-m", "lrlab.cli", "worker"]\n', set()),
])
def test_the_reader_sees_imports_local_imports_and_references(
        tmp_path: Path, source: str, expected: set[str]) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    known = set(modules())
    assert {name for name, _ in imported(path, known)} == expected


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """`lrlab --help` and a bad flag are answered at once: building the parser imports no torch,
    no database driver and no Streamlit (each command imports what it needs when it runs)."""
    import subprocess
    import sys

    heavy = ("torch", "sqlalchemy", "streamlit")
    code = ("import sys, lrlab.cli; lrlab.cli.build_parser(); "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
