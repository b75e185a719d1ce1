"""``qualityfm export``: a run's teacher as safetensors + config JSON + model card (+ ONNX)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path


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
    from qualityfm.io.folders import refuse_records_there
    from qualityfm.train import export_model, load

    run_dir = Path(args.run)
    # a fine-tuned run: encoder + task head; a cross-validation run (cv.json, no model) is
    # refused there as evaluate and predict refuse it, not taken for a pre-training run
    refuse_records_there(args.out)  # its files would be read as records of that folder
    if (run_dir / "finetune.json").exists() or (run_dir / "cv.json").exists():
        from qualityfm.inference import export_finetuned_onnx

        out = Path(args.out)
        with _onnx_errors():
            res = export_finetuned_onnx(args.run, out / "model.onnx")
        _note_unchecked(res)
        print(json.dumps(res))
        return 0
    if args.onnx:  # before any file is written
        from qualityfm.inference.onnx import require_onnx

        require_onnx("--onnx")
    _refuse_graphs_of_no_export(Path(args.out))
    # an ONNX graph of an earlier export does not match these weights: gone with their
    # renames (Ctrl-C/SIGTERM held), so that a failed or stopped --onnx leaves none
    out = export_model(args.run, args.out, remove=("encoder.onnx", "encoder.examples.npz"))
    result: dict = {"out": str(args.out)}  # as given: "./pretrained" had printed "pretrained"
    if args.onnx:
        from qualityfm.inference.onnx import export_encoder_onnx

        with _onnx_errors():
            result["onnx"] = export_encoder_onnx(load(out), out / "encoder.onnx")
        _note_unchecked(result["onnx"])
    print(json.dumps(result))  # one JSON line, as every export prints
    return 0


def _refuse_graphs_of_no_export(out: Path) -> None:
    """Refuse (ValueError) a folder whose ``encoder.onnx`` or ``encoder.examples.npz`` no
    earlier export wrote (there are no weights of one beside them): a user's had been removed
    with an earlier export's, which no longer match the new weights."""
    from qualityfm.train.export import WEIGHTS_NAME

    if (out / WEIGHTS_NAME).is_file():
        return  # an export's (export_model refuses weights of no export)
    for name in ("encoder.onnx", "encoder.examples.npz"):
        if (out / name).is_file():
            raise ValueError(f"--out {out}: {name} exists and is no qualityfm export's (no "
                             f"{WEIGHTS_NAME} beside it); export to a folder of its own, or "
                             "move the file away")


def _note_unchecked(res: dict) -> None:
    """Say on stderr when the graph was not checked against torch (no onnxruntime)."""
    if res.get("max_abs_diff") is None:
        print("qualityfm export: note: onnxruntime is not installed, so the graph was not "
              "checked against torch (max_abs_diff null): pip install 'qualityfm[onnx]'",
              file=sys.stderr)


@contextlib.contextmanager
def _onnx_errors() -> Iterator[None]:
    """torch's ONNX exporter fails with RuntimeErrors (a missing ``onnx`` package among them):
    one error line, not a traceback."""
    try:
        yield
    except RuntimeError as err:
        raise ValueError(f"ONNX export failed ({type(err).__name__}: {err})") from err
