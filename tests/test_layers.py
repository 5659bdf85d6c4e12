"""The import contract: each layer imports only the layers below it (read from the source, not run).

domain (records) ◄─ llm (the seam) ◄─ stages ◄─ pipeline ◄─ cli / ui ◄─ pages
foundations (errors, config, pure maths) sit under everything; the store sits beside the
seam, under the stages; the library never imports streamlit, ui or pages.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: module (dotted, without ``curation.``; a package name covers its modules) -> layer
LAYERS = {
    "errors": "foundation",
    "config": "foundation",
    "config_values": "foundation",
    "glossary": "foundation",
    "confidence": "foundation",
    "stats": "foundation",
    "signals": "foundation",
    "likelihood_signals": "foundation",
    "diff": "foundation",
    "contest": "foundation",
    "alternatives": "foundation",
    "throughput": "foundation",
    "tiers": "foundation",
    "fold": "foundation",
    "arithmetic": "foundation",
    "answer_kind": "foundation",
    "__init__": "foundation",
    "__version__": "foundation",
    "records": "domain",
    "formats": "io",
    "render": "io",
    "fields": "io",
    "tool_turns": "io",
    "readers": "io",
    "raw_input": "io",
    "csv_rows": "io",
    "tables": "io",
    "json_errors": "io",
    "llm": "llm",
    "engines": "engine",
    "store": "store",
    "prompts": "stage",
    "parsers": "stage",
    "bsdetector": "stage",
    "injection": "stage",
    "repair": "stage",
    "ingest": "stage",
    "file_format": "stage",
    "score": "stage",
    "score_compute": "stage",
    "score_parts": "stage",
    "filter": "stage",
    "correct": "stage",
    "judge": "stage",
    "demonstrations": "stage",
    "review": "stage",
    "team": "stage",
    "insights": "stage",
    "export": "stage",
    "export_files": "stage",
    "presets": "stage",
    "finetune": "stage",
    "pipeline": "pipeline",
    "estimate": "pipeline",
    "phases": "pipeline",
    "cli": "front",
    "cli_pipeline": "front",
    "progress": "front",
    "api": "front",
}
#: layer -> the layers it may import (besides itself)
ALLOWED = {
    "foundation": set(),
    "domain": {"foundation"},
    "io": {"foundation", "domain"},
    "llm": {"foundation", "domain"},
    "store": {"foundation", "domain"},
    "engine": {"foundation", "domain", "llm"},
    "stage": {"foundation", "domain", "io", "llm", "engine", "store"},
    "pipeline": {"foundation", "domain", "io", "llm", "engine", "store", "stage"},
    "front": {"foundation", "domain", "io", "llm", "engine", "store", "stage", "pipeline"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    raise KeyError(module)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "curation":
                found |= {f"curation.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


LIBRARY = sorted((ROOT / "curation").rglob("*.py"))


def module_of(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT / "curation").with_suffix("").parts)
    return name.removesuffix(".__init__")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_library_module_imports_only_the_layers_below(path):
    if path.name == "__init__.py" and path.parent.name == "curation":
        return
    mine = layer(module_of(path))
    for name in imports(path):
        top = name.split(".")[0]
        assert top not in ("streamlit", "ui", "pages"), f"{path.name} imports {name}: the library is UI-free"
        if top != "curation" or name == "curation":
            continue
        theirs = layer(name.removeprefix("curation."))
        assert theirs == mine or theirs in ALLOWED[mine], f"{module_of(path)} ({mine}) imports {name} ({theirs})"


def test_every_library_module_has_a_layer():
    for path in LIBRARY:
        if module_of(path):
            layer(module_of(path))


def test_ui_and_pages_sit_on_top():
    for path in sorted((ROOT / "ui").glob("*.py")):
        assert not any(n.split(".")[0] == "pages" for n in imports(path)), path
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert all(not n.startswith("curation.llm") or n == "curation.llm" for n in imports(path)), path


SQL = re.compile(
    r"\b(SELECT\s+\S+.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|VIEW))\b", re.S
)


def test_only_the_store_writes_sql():
    """No SQL text outside curation/store/, and no pass-through for it on the Store."""
    for path in LIBRARY:
        if path.parent.name == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not SQL.search(node.value), f"{path.name}: {node.value[:80]!r}"
    from curation.store import Store

    assert not {"query_rows", "query_dicts", "execute"} & set(dir(Store))
