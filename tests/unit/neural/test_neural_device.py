"""Device selection never fails on a machine without a GPU."""

from __future__ import annotations

import pytest
import torch
from structlog.testing import capture_logs

from neural_trader.errors import NeuralError
from neural_trader.neural.device import select_device


def test_cpu_is_always_cpu() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(" CPU ") == torch.device("cpu")


def test_auto_follows_cuda_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected


def test_cuda_without_a_gpu_falls_back_to_cpu_with_a_warning() -> None:
    with capture_logs() as logs:
        device = select_device("cuda")
    if torch.cuda.is_available():
        assert device.type == "cuda" and logs == []
    else:
        assert device == torch.device("cpu")
        assert [(e["event"], e["log_level"]) for e in logs] == [
            ("cuda_unavailable_falling_back_to_cpu", "warning")
        ]


def test_unknown_setting_is_a_clear_error() -> None:
    with pytest.raises(NeuralError, match="unknown device setting 'tpu'; use one of auto, cpu"):
        select_device("tpu")
