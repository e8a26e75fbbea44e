"""Settings of one benchmark run (frozen; parsed from the CLI at the edge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MODALITIES", "BenchConfig"]

#: Modalities the benchmark knows, in run order for ``--modality both``.
MODALITIES: tuple[str, ...] = ("xray", "ct")


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and how.

    Attributes:
        modalities: ``("xray",)``, ``("ct",)`` or ``("xray", "ct")``; each is measured separately.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when present).
        bags: bags per modality in the measured set (the same seeded bags for our pipeline and the baseline).
        out: folder for ``bench.json``, ``bench.md`` and the PNG plots.
        seed: first simulator seed of the measured set (bag ``i`` uses ``seed + i``).
        workers: worker processes screening bags in parallel (``0``: one per CPU core).
        threads: intra-op threads per worker for torch/onnxruntime.
        batch: bags per detector call where the detectors support batching across lanes (GPU).
        quick: smoke-test mode: tiny bags, few of them, untrained baseline, no backend sweep.
        baseline: run the torchvision Faster R-CNN baseline on the same bags.
        train_baseline: train the baseline if no cached weights exist (else it runs untrained, flagged).
        sweep: also measure onnxruntime vs torch and thread/batch settings on the detector alone.
        ct_voxel_mm: CT voxel size asked of the simulator (the CT target is stated at 2 mm).
        cache_dir: where generated bags and trained baseline weights are cached (gitignored ``out/``).
        baseline_train_s: wall-clock budget for baseline training, seconds.
        png: the report stage writes the annotated PNG too (as ``screening scan`` does; the lane's default
            writes JSON + TDR only). Outputs after the JSON never count towards verdict latency.
        bag_source: test hook: ``callable(seed, modality) -> SimBag-like`` used instead of ``screening.sim``.
    """

    modalities: tuple[str, ...] = ("xray",)
    device: str = "cpu"
    bags: int = 50
    out: Path = Path("out/bench")
    seed: int = 10_000
    workers: int = 0
    threads: int = 1
    batch: int = 1
    quick: bool = False
    baseline: bool = True
    train_baseline: bool = True
    sweep: bool = True
    ct_voxel_mm: float = 2.0
    cache_dir: Path = Path("out/bench_cache")
    baseline_train_s: float = 300.0
    png: bool = True
    bag_source: object | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ValueError(
                f"modalities must be a non-empty subset of {MODALITIES}; got {self.modalities!r}. "
                "Use --modality xray, ct or both."
            )
        if self.device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {self.device!r}")
        if self.bags < 1:
            raise ValueError(f"bags must be >= 1; got {self.bags}. Use --bags 50 for a full run.")
        for name in ("workers", "threads", "batch"):
            if getattr(self, name) < (0 if name == "workers" else 1):
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")
