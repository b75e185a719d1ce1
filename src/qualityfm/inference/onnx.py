"""ONNX export of the encoder (pooled embedding) and, optionally, a task head on top of it."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from qualityfm.model import QualityFM, WindowedAttention


class EncoderGraph(nn.Module):
    """The graph exported: (x [B, C, T], mask [B, C]) -> embedding [B, d] (and head output)."""

    def __init__(self, model: QualityFM, head: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, x: Tensor, mask: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        emb = self.model.embed(x, mask)
        return emb if self.head is None else (emb, self.head(emb))


def _dense_copy(model: QualityFM) -> QualityFM:
    """A copy running the dense reference kernel, which ONNX expresses with standard ops.

    The kernels agree to 1e-5 (tested), so the exported graph computes the same function.
    """
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, WindowedAttention):
            module.kernel = "dense"
    return model


def export_onnx(
    model: QualityFM,
    out: str | Path,
    head: nn.Module | None = None,
    batch: int = 2,
    opset: int = 18,
) -> dict:
    """Write ``out`` (.onnx) and check it against PyTorch with ONNX Runtime when installed.

    Returns ``{"out", "max_abs_diff"}``; ``max_abs_diff`` is None without onnxruntime.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = EncoderGraph(_dense_copy(model), copy.deepcopy(head).eval() if head else None).eval()
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, cfg.in_channels, cfg.n_samples, generator=gen) * 2 - 1
    mask = torch.ones(batch, cfg.in_channels, dtype=torch.bool)
    mask[-1, 0] = False  # exercise the missing-modality path
    outputs = ["embedding"] if head is None else ["embedding", "head"]
    tmp = out.with_name(f".{out.name}.tmp")
    torch.onnx.export(
        graph, (x, mask), str(tmp), input_names=["x", "mask"], output_names=outputs,
        dynamic_axes={"x": {0: "batch"}, "mask": {0: "batch"},
                      **{name: {0: "batch"} for name in outputs}},
        opset_version=opset, dynamo=False,
    )
    os.replace(tmp, out)
    return {"out": str(out), "max_abs_diff": onnx_parity(graph, out, x, mask)}


def onnx_parity(graph: nn.Module, path: Path, x: Tensor, mask: Tensor) -> float | None:
    """Largest absolute difference between PyTorch and ONNX Runtime outputs, or None."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    with torch.inference_mode():
        ref = graph(x, mask)
    ref = [ref] if isinstance(ref, Tensor) else list(ref)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x.numpy(), "mask": mask.numpy()})
    return float(max(np.abs(r.numpy() - g).max() for r, g in zip(ref, got, strict=True)))
