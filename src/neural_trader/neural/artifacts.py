"""Model weights on disk: safetensors files (tensors only, never pickled objects) under the
configured models directory, checked against the hash the registry recorded before use."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from neural_trader.errors import NeuralError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_path(models_dir: Path, name: str, version: int) -> Path:
    return models_dir / name / f"v{version}.safetensors"


def save_weights(state: dict[str, torch.Tensor], path: Path) -> str:
    """Write atomically (temp file, then rename) and return the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp))
    os.replace(tmp, path)
    return sha256_of(path)


def verified(path: Path, sha256: str) -> Path:
    """``path`` if it exists and still has the recorded hash; a NeuralError otherwise."""
    if not path.is_file():
        raise NeuralError(f"model artifact {path} is missing", artifact=str(path))
    actual = sha256_of(path)
    if actual != sha256:
        raise NeuralError(
            f"model artifact {path} is corrupt: its sha256 is {actual[:12]}…, the registry "
            f"recorded {sha256[:12]}…",
            artifact=str(path),
        )
    return path


def load_weights(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(verified(path, sha256)))
    except SafetensorError as exc:
        raise NeuralError(f"model artifact {path} is unreadable: {exc}") from None
