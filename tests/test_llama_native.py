"""The engine's one seam into llama-cpp-python: the installed version has what it needs, and a
version without it fails loudly, naming what is missing."""

from __future__ import annotations

import types

import pytest

from curation.errors import LLMError
from curation.llm import llama_native


def test_the_installed_llama_cpp_python_has_what_the_engine_needs():
    llama_native.check_compatible()


def test_a_version_without_a_needed_function_or_field_is_refused_by_name():
    import llama_cpp.llama_cpp as lib

    fake = types.SimpleNamespace(
        **{name: getattr(lib, name) for name in llama_native._FUNCTIONS if name != "llama_memory_seq_cp"}
    )
    fake.llama_context_params = type("P", (), {"_fields_": [("n_seq_max", int)]})
    fake.llama_model_params = lib.llama_model_params
    with pytest.raises(LLMError, match=r"missing llama_memory_seq_cp, llama_context_params.kv_unified"):
        llama_native.check_compatible(fake)


def test_engine_uses_no_private_llama_field():
    """Only the adapter may reach below llama-cpp-python's public API."""
    from pathlib import Path

    source = (Path(llama_native.__file__).parent / "engine.py").read_text(encoding="utf-8")
    assert "._ctx" not in source and "._batch" not in source and "._model" not in source
    assert "llama_context_default_params" not in source
