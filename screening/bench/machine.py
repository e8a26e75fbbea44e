"""Description of the machine a benchmark ran on: CPU model, cores, RAM, GPU, library versions, load."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "describe_machine", "gpu_description", "load_average"]

_LIBRARIES = ("numpy", "scipy", "pydicom", "torch", "torchvision", "onnxruntime", "onnx", "psutil")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The ``model name`` line of ``/proc/cpuinfo`` (falls back to ``platform.processor()``)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    """1/5/15-minute load averages (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return []


def gpu_description() -> list[dict[str, Any]]:
    """CUDA GPUs as ``nvidia-smi`` reports them (name, memory MiB, driver); empty without one."""
    try:
        res = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in res.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "memory_mib": float(parts[1]), "driver": parts[2]})
    return gpus


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        out["screening"] = metadata.version("screening")
    except metadata.PackageNotFoundError:
        out["screening"] = "not installed"
    return out


def describe_machine() -> dict[str, Any]:
    """Everything ``bench.json`` records about the machine (no torch import)."""
    import psutil

    return {
        "cpu_model": cpu_model(),
        "arch": platform.machine(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "gpus": gpu_description(),
        "versions": _versions(),
        "load_average": load_average(),
    }
