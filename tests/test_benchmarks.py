"""Every benchmark module imports, and every benchmark script answers ``--help``.

No test runs a benchmark (they take minutes to an hour); these catch a script broken by a move
or a rename in the library or in ``benchmarks/support`` before someone needs its numbers.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = {".".join(p.relative_to(ROOT).with_suffix("").parts): p for p in (ROOT / "benchmarks").rglob("*.py")}
MODULES = sorted(FILES)
#: Found by their source, so that one script that fails to import fails its own tests only.
SCRIPTS = sorted(name for name, path in FILES.items() if "\ndef main(" in path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_module_imports(name):
    importlib.import_module(name)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_answers_help(name, capsys):
    main = importlib.import_module(name).main
    assert "argv" in inspect.signature(main).parameters, f"{name}.main takes no argv"
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")
