"""The parts of llama-cpp-python the engine uses below the ``Llama`` class, in one place.

Everything here goes through llama-cpp-python's public low-level API (``llama_cpp.llama_cpp``):
the engine's own batch, decode, the logits of a row, copying and dropping a sequence's KV
cells, and the end-of-generation test. One need has no public route: ``Llama(...)`` cannot
set a context's number of sequences (``n_seq_max``), a unified KV cache (``kv_unified``) or
leave out the model's extra buffer types (``use_extra_bufts``). :func:`tuned_defaults`
swaps llama-cpp-python's default-parameter functions while the constructor runs, and
:func:`quiet_expected_logs` forwards llama.cpp's log lines to llama-cpp-python's own callback;
those are the only private uses, and :func:`check_compatible` fails loudly on a version without
what the engine needs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from curation.errors import LLMError

#: What the engine reads from llama_cpp.llama_cpp (functions) and the two parameter structs.
_FUNCTIONS = (
    "llama_batch_init",
    "llama_batch_free",
    "llama_decode",
    "llama_get_logits_ith",
    "llama_get_memory",
    "llama_memory_seq_rm",
    "llama_memory_seq_cp",
    "llama_model_get_vocab",
    "llama_vocab_is_eog",
    "llama_context_default_params",
    "llama_model_default_params",
    "llama_print_system_info",
)
_FIELDS = {"llama_context_params": ("n_seq_max", "kv_unified"), "llama_model_params": ("use_extra_bufts",)}
_DEFAULTS_LOCK = threading.Lock()
#: llama.cpp's log line when a decode finds no room in the KV cache. The engine expects it (it
#: drops a cached prompt and decodes again), so it goes to the debug log, not to the terminal.
EXPECTED_LOG = b"failed to find a memory slot"
_LOG_HOOK: list[Any] = []  # the installed log callback, kept alive while llama.cpp may call it
log = logging.getLogger(__name__)


def _lib() -> Any:
    import llama_cpp.llama_cpp as lib  # heavy import, only when the embedded model is used

    return lib


def check_compatible(lib: Any = None) -> None:
    """Raise when the installed llama-cpp-python lacks a function or field the engine relies on.

    Raises:
        LLMError: naming the version and every missing piece.
    """
    lib = lib or _lib()
    missing = [name for name in _FUNCTIONS if not callable(getattr(lib, name, None))]
    for struct, fields in _FIELDS.items():
        known = {f[0] for f in getattr(getattr(lib, struct, None), "_fields_", ())}
        missing += [f"{struct}.{name}" for name in fields if name not in known]
    if missing:
        import llama_cpp

        raise LLMError(
            f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} is not supported by the "
            f"embedded engine: missing {', '.join(missing)}; install the version pyproject.toml pins"
        )


def quiet_expected_logs() -> None:
    """Route llama.cpp's log through a filter (once per process): :data:`EXPECTED_LOG` lines go
    to the debug log, every other line to llama-cpp-python's callback as before. Without it, a
    run over long prompts printed dozens of "decode: failed to find a memory slot" lines that
    read as failures while every example scored."""
    if _LOG_HOOK:
        return
    import ctypes

    import llama_cpp
    from llama_cpp import _logger

    forward = getattr(_logger, "llama_log_callback", None)
    if forward is None:  # another llama-cpp-python: leave its logging as it is
        return

    @llama_cpp.llama_log_callback
    def hook(level: int, text: bytes, user_data: Any) -> None:
        if EXPECTED_LOG in text:
            log.debug("llama.cpp: %s", text.decode("utf-8", "replace").strip())
            return
        forward(level, text, user_data)

    llama_cpp.llama_log_set(hook, ctypes.c_void_p(0))
    _LOG_HOOK.append(hook)


@contextmanager
def tuned_defaults(*, n_seq_max: int) -> Iterator[None]:
    """While a ``Llama`` is built: ``n_seq_max`` sequences in one unified KV cache, and no
    extra (AMX) buffers on a CPU that has AMX.

    AMX: a build for a CPU with AMX (``GGML_NATIVE`` on a Sapphire Rapids Xeon) crashes in its
    first decode with a Q4_K_M model (SIGSEGV in ``ggml_backend_amx_mul_mat``, as in
    ggml-org/llama.cpp#20824); without the extra buffers the same build runs normally.
    """
    lib = _lib()
    check_compatible(lib)
    context_defaults, model_defaults = lib.llama_context_default_params, lib.llama_model_default_params
    amx = b"AMX_INT8 = 1" in lib.llama_print_system_info()

    def context_params():
        p = context_defaults()
        p.n_seq_max = n_seq_max
        p.kv_unified = True
        return p

    def model_params():
        p = model_defaults()
        if amx:
            p.use_extra_bufts = False
        return p

    with _DEFAULTS_LOCK:
        lib.llama_context_default_params, lib.llama_model_default_params = context_params, model_params
        try:
            yield
        finally:
            lib.llama_context_default_params, lib.llama_model_default_params = context_defaults, model_defaults


class Native:
    """A loaded ``Llama``'s context through the public low-level API, with a batch of our own."""

    def __init__(self, llm: Any, *, n_seq_max: int):
        self._lib = _lib()
        self._llm = llm
        self._memory = self._lib.llama_get_memory(llm.ctx)
        self._vocab = self._lib.llama_model_get_vocab(llm.model)
        self._batch = self._lib.llama_batch_init(llm.n_batch, 0, n_seq_max)
        self.n_vocab = llm.n_vocab()

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None

    def seq_rm(self, seq: int, start: int = -1, end: int = -1) -> None:
        """Drop sequence ``seq``'s KV cells in positions [start, end) (-1: open)."""
        self._lib.llama_memory_seq_rm(self._memory, seq, start, end)

    def seq_cp(self, source: int, target: int, start: int, end: int) -> None:
        """Let ``target`` share ``source``'s KV cells in positions [start, end)."""
        self._lib.llama_memory_seq_cp(self._memory, source, target, start, end)

    def decode(self, rows: list[tuple[tuple[int, ...], int, int, bool]]) -> bool:
        """Decode ``(sequences, token, position, wants_logits)`` rows in one batch.

        Returns:
            False when the KV cache has no room for them (nothing decoded), True otherwise.
        Raises:
            LLMError: any other failure of ``llama_decode``.
        """
        batch = self._batch
        for i, (seqs, token, position, wants) in enumerate(rows):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, position, len(seqs), wants
            for k, seq in enumerate(seqs):
                batch.seq_id[i][k] = seq
        batch.n_tokens = len(rows)
        code = self._lib.llama_decode(self._llm.ctx, batch)
        if code == 1:
            return False
        if code != 0:
            raise LLMError(f"llama_decode failed with code {code}")
        return True

    def logits(self, row: int) -> np.ndarray:
        """A copy of the raw logits after the ``row``-th logits row of the last decode."""
        return np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self._llm.ctx, row), shape=(self.n_vocab,)).copy()

    def is_end(self, token: int) -> bool:
        return bool(self._lib.llama_vocab_is_eog(self._vocab, token))


__all__ = ["Native", "check_compatible", "quiet_expected_logs", "tuned_defaults"]
