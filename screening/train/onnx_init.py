"""Trainable torch weights from a shipped ONNX model, whose batch norms the exporter folded into its convs."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_onnx_weights"]


def load_onnx_weights(path: Path, model: Any, calib: tuple[Any, ...]) -> None:
    """Copy the weights of an exported ONNX file into ``model`` so that training can continue from them.

    The export (eval mode, constant folding) folds each batch norm into the conv before it, so the ONNX
    file holds ``W' = W * g / s`` and ``b' = beta - g * m / s``, not the batch-norm statistics. Any
    split gives the same function in eval mode; this one also keeps it in *train* mode, where a batch
    norm normalises by the batch's own statistics: each conv gets ``W'``, and its batch norm the mean
    ``m`` and variance ``v`` of its input measured on ``calib``, with weight ``sqrt(v + eps)`` and bias
    ``m + b'``. In eval mode that is exactly the ONNX model; in train mode on ``calib`` it is too, and on
    other batches of the same kind nearly so, so fine-tuning starts from the shipped detector instead of a
    scrambled one. (The original checkpoints are kept outside git; a site, or a later session, has the
    ONNX file.)

    Args:
        path: the ``.onnx`` file (written by :func:`screening.train.export.export_xray` or the like).
        model: a torch module of the architecture the file was exported from.
        calib: the model's inputs for one batch of the kind training will see (a tuple; the statistics
            come from it).

    Raises:
        ScreeningError: the file cannot be read, or its convolutions do not match ``model``'s.
    """
    import torch
    from torch import nn

    from screening.errors import ScreeningError

    convs = _onnx_convs(path)
    order: list[nn.Conv2d | nn.Conv3d] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Conv3d)
    ]
    model.eval()
    try:
        with torch.no_grad():
            model(*calib)
    finally:
        for h in hooks:
            h.remove()
    if len(order) != len(convs):
        raise ScreeningError(
            f"{path}: {len(convs)} convolutions in the ONNX graph, {len(order)} in the model; "
            "expected a file exported from this architecture and width"
        )
    following = _batch_norm_after(model)
    for k, (conv, (w, b)) in enumerate(zip(order, convs, strict=True)):
        if tuple(conv.weight.shape) != w.shape:
            raise ScreeningError(
                f"{path}: convolution {k} has weights {w.shape} in the ONNX graph, "
                f"{tuple(conv.weight.shape)} in the model; expected the same architecture and width"
            )
        bias = np.zeros(w.shape[0], np.float32) if b is None else b
        bn = following.get(conv)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w))
            if bn is None:
                if conv.bias is None:
                    if b is not None and np.any(b != 0):
                        raise ScreeningError(f"{path}: convolution {k} has a bias the model has no place for")
                else:
                    conv.bias.copy_(torch.from_numpy(bias))
                continue
            # identity first (exactly the ONNX function in eval mode), then the measured statistics
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(bias))
    _set_batch_stats(model, calib, following)


def _onnx_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``(weight, bias)`` of each Conv node of the graph, in the graph's (execution) order."""
    from onnx import numpy_helper

    from screening.errors import ScreeningError

    try:
        import onnx

        graph = onnx.load(str(path)).graph
    except Exception as exc:  # onnx raises DecodeError, OSError, ValueError...
        raise ScreeningError(f"{path}: cannot read this ONNX file: {exc}") from exc
    if any(n.op_type == "BatchNormalization" for n in graph.node):
        raise ScreeningError(f"{path}: has unfolded BatchNormalization nodes; expected an eval-mode export")
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if node.input[1] not in init:
            raise ScreeningError(
                f"{path}: conv node {node.name} takes its weights from the graph, not a constant"
            )
        bias = init.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        out.append(
            (init[node.input[1]].astype(np.float32), None if bias is None else bias.astype(np.float32))
        )
    return out


def _batch_norm_after(model: Any) -> dict[Any, Any]:
    """Each conv that a batch norm follows directly in the same ``nn.Sequential``, mapped to that norm."""
    from torch import nn

    found = {}
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            kids = list(seq.children())
            for a, b in itertools.pairwise(kids):
                if isinstance(a, nn.Conv2d | nn.Conv3d) and isinstance(b, nn.modules.batchnorm._BatchNorm):
                    found[a] = b
    return found


def _set_batch_stats(model: Any, calib: tuple[Any, ...], following: dict[Any, Any]) -> None:
    """Give each batch norm the mean/variance of its input on ``calib`` while keeping the eval function."""
    import torch

    stats: dict[Any, tuple[Any, Any]] = {}

    def record(mod: Any, inputs: tuple[Any, ...], _out: Any) -> None:
        x = inputs[0].transpose(0, 1).flatten(1)
        stats[mod] = (x.mean(1), x.var(1, unbiased=False))

    hooks = [bn.register_forward_hook(record) for bn in following.values()]
    try:
        with torch.no_grad():
            model(*calib)  # eval mode: every batch norm is still the identity-plus-bias set above
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for bn, (mean, var) in stats.items():
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.bias.add_(mean)  # beta = m + b'
            bn.weight.copy_(torch.sqrt(var + bn.eps))
