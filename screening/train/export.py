"""ONNX export of the torch models (opset >= 17) and the model cards that go with them."""

from __future__ import annotations

from pathlib import Path

import torch

from screening.detect.card import ModelCard, write_card

__all__ = ["OPSET", "export_ct", "export_xray"]

OPSET = 17


def export_xray(model: torch.nn.Module, path: str | Path, size: int, card: ModelCard) -> Path:
    """Export the X-ray CenterNet (input ``image (N, 3, size, size)``, output ``maps``) and write its card."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy = torch.rand(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["image"],
            output_names=["maps"],
            dynamic_axes={"image": {0: "n"}, "maps": {0: "n"}},
            opset_version=OPSET,
            dynamo=False,
        )
    write_card(card.replace(opset=OPSET), path)
    return path


def export_ct(
    model: torch.nn.Module, path: str | Path, crop: int, num_feats: int, card: ModelCard, context: int = 0
) -> Path:
    """Export the CT candidate classifier (inputs ``crop``, ``feats`` [, ``context``]; output ``logits``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    dummy: tuple[torch.Tensor, ...] = (torch.rand(2, 2, crop, crop, crop), torch.rand(2, num_feats))
    names = ["crop", "feats"]
    if context:
        dummy = (*dummy, torch.rand(2, 2, context, context, context))
        names.append("context")
    with torch.no_grad():
        torch.onnx.export(
            model,
            dummy,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{n: {0: "n"} for n in names}, "logits": {0: "n"}},
            opset_version=OPSET,
            dynamo=False,
        )
    write_card(card.replace(opset=OPSET), path)
    return path
