"""``qualityfm export``: a run's teacher as safetensors + config JSON + model card (+ ONNX)."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a pre-training run as a model folder, or a "
                       "fine-tuned run as ONNX",
                       description="Export a pre-training run as a model folder (+ ONNX with "
                       "--onnx), or a fine-tuned run (folder with finetune.json) as ONNX of its "
                       "encoder and task head.")
    p.add_argument("run", help="run folder written by `qualityfm pretrain` or `qualityfm finetune`")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--onnx", action="store_true",
                   help="also write OUT/encoder.onnx (x, mask -> embedding) with golden "
                   "examples beside it (OUT/encoder.examples.npz) and print the "
                   "max abs difference to PyTorch (ONNX Runtime, when installed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qualityfm.train import export_model, load

    run_dir = Path(args.run)
    # a fine-tuned run: encoder + task head; a cross-validation run (cv.json, no model) is
    # refused there as evaluate and predict refuse it, not taken for a pre-training run
    if (run_dir / "finetune.json").exists() or (run_dir / "cv.json").exists():
        from qualityfm.inference import export_finetuned_onnx

        out = Path(args.out)
        with _onnx_errors():
            print(json.dumps(export_finetuned_onnx(args.run, out / "model.onnx")))
        return 0
    out = export_model(args.run, args.out)
    print(out)
    # an ONNX graph of an earlier export does not match these weights: gone before a new one
    # is made, so that a failed --onnx leaves none rather than the old one
    (out / "encoder.onnx").unlink(missing_ok=True)
    (out / "encoder.examples.npz").unlink(missing_ok=True)
    if args.onnx:
        from qualityfm.inference.onnx import export_encoder_onnx

        with _onnx_errors():
            print(json.dumps(export_encoder_onnx(load(out), out / "encoder.onnx")))
    return 0


@contextlib.contextmanager
def _onnx_errors() -> Iterator[None]:
    """torch's ONNX exporter fails with RuntimeErrors (a missing ``onnx`` package among them):
    one error line, not a traceback."""
    try:
        yield
    except RuntimeError as err:
        raise ValueError(f"ONNX export failed ({type(err).__name__}: {err})") from err
