"""BenchConfig validation, device selection and the machine description."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from screening.bench.config import BenchConfig
from screening.bench.machine import cpu_model, describe_machine
from screening.bench.runner import _pick_best, resolve_device, setting_grid
from screening.errors import BackendUnavailableError


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"modalities": ("mri",)}, "modalities"),
        ({"modalities": ()}, "modalities"),
        ({"device": "tpu"}, "device"),
        ({"bags": 0}, "bags"),
        ({"threads": 0}, "threads"),
        ({"workers": -1}, "workers"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BenchConfig(**kwargs)


def _fake_backends(monkeypatch: pytest.MonkeyPatch, ort_cuda: bool, torch_cuda: bool) -> None:
    ort = types.SimpleNamespace(
        get_available_providers=lambda: (
            ["CPUExecutionProvider"] + (["CUDAExecutionProvider"] if ort_cuda else [])
        )
    )
    torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: torch_cuda))
    monkeypatch.setitem(sys.modules, "onnxruntime", ort)
    monkeypatch.setitem(sys.modules, "torch", torch)


def test_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu")[0] == "cpu"
    _fake_backends(monkeypatch, ort_cuda=False, torch_cuda=False)
    assert resolve_device("auto") == ("cpu", "auto: no CUDA found, using cpu")
    with pytest.raises(BackendUnavailableError, match="--device cpu"):
        resolve_device("cuda")
    _fake_backends(monkeypatch, ort_cuda=True, torch_cuda=False)
    device, note = resolve_device("cuda")
    assert device == "cuda" and "CUDAExecutionProvider" in note
    _fake_backends(monkeypatch, ort_cuda=False, torch_cuda=True)
    device, note = resolve_device("auto")
    assert device == "cuda" and "torch" in note


def test_setting_grid() -> None:
    assert setting_grid(2, "cpu", 1, quick=True) == [(1, 1, 1, True)]
    assert setting_grid(2, "cpu", 1, quick=False) == [
        (2, 1, 1, True),
        (1, 2, 1, True),
        (1, 1, 1, True),
        (2, 1, 1, False),
    ]
    assert setting_grid(1, "cpu", 1, quick=False, png=False) == [(1, 1, 1, False)]
    # a GPU box still needs one worker per core for ingest and reports (and for the network without
    # onnxruntime's CUDA provider); batching across lanes in one process is measured beside it
    assert setting_grid(16, "cuda", 8, quick=False) == [
        (16, 1, 1, True),
        (1, 1, 8, True),
        (1, 1, 1, True),
        (16, 1, 1, False),
    ]


def _summary(bps: float, p99: float, errors: list[str] | None = None) -> dict:
    return {"bags_per_s": bps, "latency_s": {"p99": p99}, "errors": errors or []}


def test_pick_best_keeps_the_deadline() -> None:
    batched = _summary(4.4, 12.3)  # more bags/s only because bags wait past the 10-s budget
    single = _summary(4.1, 0.2)
    broken = _summary(9.0, 0.1, ["worker died"])
    assert _pick_best([batched, single, broken], 10.0) is single
    assert _pick_best([batched, _summary(3.0, 11.0)], 10.0) is batched  # none in time: the fastest
    assert _pick_best([_summary(1.0, float("nan")), single], 10.0) is single
    assert _pick_best([broken], 10.0) is broken  # nothing ran cleanly: reported as it is


def test_cpu_model_and_machine(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Fake CPU 3000\n")
    assert cpu_model(info) == "Fake CPU 3000"
    assert cpu_model(tmp_path / "missing")  # falls back, never raises
    m = describe_machine()
    assert m["cores_logical"] >= 1 and m["ram_gb"] > 0
    assert "torch" in m["versions"] and isinstance(m["gpus"], list)
