"""The house rules that a reader relies on: layers import only downward, no import cycles.

The layers are those of docs/architecture.md. Every import counts, including the ones inside
functions and under ``TYPE_CHECKING``: a lazy import of a higher layer is still a dependency on it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top; a module belongs to the layer of its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("rso",)),
    ("prompts, retrieval, evaluation", ("prompts", "retrieval", "evaluation")),
    (
        "graph foundations and the Planner policy",
        (
            "graph.state",
            "graph.context",
            "graph.typed_text",
            "graph.models",
            "graph.constrained",
            "graph.llm_errors",
            "graph.llm_replies",
            "graph.llm_server",
            "graph.child_process",
            "graph.resources",
            "graph.routing",
            "graph.utils",
            "graph.experts",
            "policy",
        ),
    ),
    ("experts", ("agents",)),
    ("graphs", ("graph",)),
    ("batch runs", ("rollouts",)),
    ("training and experiments", ("rl",)),
    ("command line", ("cli",)),
    ("web page", ("web",)),
)
PACKAGES = sorted({prefix.split(".")[0] for _, prefixes in LAYERS for prefix in prefixes})

#: Source files may not grow past this many lines (tests excepted): split along the seams.
MAX_LINES = 400


def layer_of(module: str) -> int:
    """Return the index of `module`'s layer (longest matching prefix)."""
    best, best_len = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise KeyError(module)
    return best


def source_modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """Yield (line, imported project module) for every import statement in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from package import module" imports the module; "from module import name" the module.
            names = [
                f"{target}.{a.name}" if f"{target}.{a.name}" in known else target
                for a in node.names
            ]
        else:
            continue
        for name in names:
            # Resolve to the longest known module ("rso.data.records.Movie" -> "rso.data.records").
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {m: {name for _, name in imports_of(m, p, known)} - {m} for m, p in modules.items()}


def test_every_module_has_a_layer() -> None:
    for module in source_modules():
        layer_of(module)  # raises KeyError for a module outside every layer


def test_no_module_imports_from_a_higher_layer() -> None:
    modules = source_modules()
    known = set(modules)
    upward = [
        f"{path.relative_to(ROOT)}:{line}: {module} ({LAYERS[layer_of(module)][0]}) imports "
        f"{name} ({LAYERS[layer_of(name)][0]})"
        for module, path in modules.items()
        for line, name in imports_of(module, path, known)
        if layer_of(name) > layer_of(module)
    ]
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how packages work, not a cycle.
            if node.startswith(nxt + "."):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("rso.data.records", "core"),
        ("graph.state", "graph foundations and the Planner policy"),
        ("graph.child_process", "graph foundations and the Planner policy"),
        ("graph.episode", "graphs"),
        ("cli.commands.chat", "command line"),
        ("web.app", "web page"),
    ],
)
def test_layer_of(module: str, layer: str) -> None:
    assert LAYERS[layer_of(module)][0] == layer


def test_no_source_file_is_too_long() -> None:
    long = []
    for path in sorted(source_modules().values()) + sorted((ROOT / "bench").glob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, f"split these along their seams (limit {MAX_LINES}):\n" + "\n".join(long)
