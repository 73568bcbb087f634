"""Choose the torch device from the ``neural.device`` setting, never failing on a missing GPU.

A config written on a GPU workstation must still run on a laptop: asking for ``cuda`` where
there is none falls back to the CPU with a warning instead of an error.
"""

from __future__ import annotations

import structlog
import torch

from neural_trader.errors import NeuralError

log = structlog.get_logger(__name__)

DEVICE_SETTINGS: tuple[str, ...] = ("auto", "cpu", "cuda")


def select_device(setting: str = "auto") -> torch.device:
    """``auto``: CUDA when available else CPU; ``cpu``: CPU; ``cuda``: CUDA, or CPU with a warning.

    Raises :class:`NeuralError` only for a setting that is none of the three.
    """
    choice = setting.strip().lower()
    if choice not in DEVICE_SETTINGS:
        raise NeuralError(
            f"unknown device setting {setting!r}; use one of {', '.join(DEVICE_SETTINGS)}"
        )
    if choice == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if choice == "cuda":
        log.warning(
            "cuda_unavailable_falling_back_to_cpu",
            requested=setting,
            reason="torch.cuda.is_available() is False",
        )
    return torch.device("cpu")


__all__ = ["DEVICE_SETTINGS", "select_device"]
