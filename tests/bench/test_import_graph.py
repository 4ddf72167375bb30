"""The bench modules import each other without cycles (DESIGN.md: no arrow points up)."""

from __future__ import annotations

import ast
from pathlib import Path

import simbench


def _imports(path: Path) -> set[str]:
    """Every ``simbench.*`` module a file imports, at module level or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simbench"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("simbench"))
    return out


def _graph() -> dict[str, set[str]]:
    root = Path(simbench.__file__).parent
    mods = {f"simbench.bench.{p.stem}": p for p in (root / "bench").glob("*.py") if p.stem != "__init__"}
    return {m: {d for d in _imports(p) if d in mods and d != m} for m, p in mods.items()}


def test_bench_import_graph_has_no_cycle():
    graph = _graph()
    assert {"simbench.bench.sut", "simbench.bench.http", "simbench.bench.base"} <= set(graph)
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            assert state.get(d) != 1, "import cycle: " + " -> ".join(path + [m, d])
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_http_adapter_sits_beside_sut_not_above_it():
    graph = _graph()
    assert "simbench.bench.sut" not in graph["simbench.bench.http"]
    assert graph["simbench.bench.base"] == set()
