"""Window embeddings of whole files: the pooled encoder output, one row per window."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from qualityfm.inference.resume import RecordResults, rows_array, rows_of, run_settings
from qualityfm.inference.score import (
    INDEX_COLUMNS,
    batch_tensor,
    batches,
    check_output,
    checked_windows,
    eval_mode,
    table_writer,
    write_table,
)
from qualityfm.inference.windows import (
    FileWindows,
    check_model_window,
    iter_file_windows,
    model_window,
)
from qualityfm.io.atomic import atomic_write_all, remove_file_temporaries
from qualityfm.model import QualityFM, check_pool, pool_encoder, pooled_dim
from qualityfm.model.precision import check_precision, model_device, precision_autocast
from qualityfm.quality import LEVEL_NAMES
from qualityfm.signal import WindowConfig

#: What ``embed_files`` writes: the matrix (+ an index CSV), or one Parquet table.
EMBED_SUFFIXES = (".npy", ".parquet")


def embed_windows(model: QualityFM, x: np.ndarray, mask: np.ndarray | None,
                  batch_size: int = 256, precision: str = "fp32",
                  pool: str = "mean") -> np.ndarray:
    """Pooled embeddings float32 [N, dim] of normalised windows x [N, C, T] with mask [N, C]
    (None: a channel is present where it is not flat), checked as ``checked_windows`` checks
    them; the model runs in eval mode and is left in the mode it was in.

    ``pool``: one of ``model.POOLS`` (``model.pool_encoder``; "mean": dim = d_model).
    ``precision``: "fp32", or "bf16" (CPU or CUDA) / "fp16" (CUDA only) autocast on the
    model's device;
    the result is float32 either way.
    """
    device = model_device(model)
    check_precision(precision, device)
    x, mask = checked_windows(model, x, mask)
    out = np.empty((len(x), pooled_dim(model.encoder, pool)), dtype=np.float32)
    # (a context, not a decorator: warnings above point at the caller, not at torch)
    dtype = next(model.parameters()).dtype  # (a model cast by .double() had failed in torch)
    with eval_mode(model), torch.inference_mode():
        for sl in batches(len(x), batch_size):
            xb, mb = batch_tensor(x[sl], device).to(dtype), batch_tensor(mask[sl], device)
            with precision_autocast(precision, device):
                emb = pool_encoder(model.encoder, xb, mb, pool)
            out[sl] = emb.float().cpu().numpy()
    return out


def embed_files(
    inputs: Iterable[str | Path] | str | Path,
    out: str | Path,
    model: QualityFM,
    window: WindowConfig | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
    pool: str = "mean",
) -> dict:
    """Embed every window under ``inputs`` at ``precision``, pooled by ``pool`` (see
    `embed_windows`).

    ``out`` ending in .npy writes the matrix there and its index beside it (``*.index.csv``);
    ``out`` ending in .parquet writes one table with the index columns and ``e0..e{d-1}``.
    Windows with no usable channel have no embedding: the summary counts them
    (``n_unusable``; ``score`` lists them as bad windows), those of a record whose every window
    is so too (such a record is counted, not skipped, as ``score`` writes its rows, and named
    on stderr and under ``unusable`` with the reasons). Each record's part is kept beside
    ``out`` until the output is written: the same call after a stop reads the records it had
    embedded from it (``n_resumed``).
    """
    out = check_output(out, EMBED_SUFFIXES, "embed")
    if out.suffix == ".npy":  # its index beside it, checked now, not after the work
        check_output(out.with_suffix(".index.csv"), what="embed index")
    check_precision(precision, model_device(model))
    check_pool(pool)
    window = window or model_window(model.cfg)  # the windows the model was pre-trained on
    check_model_window(window, model.cfg)
    skipped: list[dict[str, str]] = []
    blocks: list[np.ndarray] = []
    rows: list[dict] = []
    n_records = n_unusable = 0
    passed: list[dict[str, str]] = []
    unusable: list[dict[str, str]] = []  # records of no usable window
    unscored = 0.0
    dim = pooled_dim(model.encoder, pool)
    results = RecordResults(out, run_settings("embed", window, model, precision=precision,
                                              pool=pool, batch_size=batch_size))
    for item in iter_file_windows(inputs, window, skipped, passed_over=passed,
                                  keep_unusable=True,
                                  outputs=[out, out.with_suffix(".index.csv")],
                                  done=results.get):
        if isinstance(item, FileWindows):
            path, item = item.path, _record_embedding(item, model, window, batch_size,
                                                      precision, pool, dim)
            results.put(path, item)
        n_records += 1
        n_unusable += int(item["n_unusable"])
        unscored += float(item["unscored_s"])
        if str(item["unusable"]):  # every window unusable: counted above, nothing to embed,
            unusable.append({"record": str(item["source"]), "reason": str(item["unusable"])})
            from tqdm import tqdm

            tqdm.write(f"qualityfm embed: no embedding of {item['source']}: {item['unusable']}",
                       file=sys.stderr)  # named, above the records' bar
            continue
        blocks.append(item["emb"])
        rows += [{"row": len(rows) + i, **row} for i, row in enumerate(rows_of(item["rows"]))]
    summary = {"out": str(out) if rows else None, "n_records": n_records,
               "n_windows": len(rows), "n_unusable": n_unusable,
               "unscored_s": round(unscored, 3), "dim": dim, "n_resumed": results.resumed,
               "unusable": unusable, "skipped": skipped, "passed_over": passed}
    if not rows:  # an earlier embedding at ``out`` stays as it was
        results.finish()
        return summary
    emb = np.concatenate(blocks)
    if out.suffix == ".npy":  # the matrix and its index are replaced together
        index = out.with_suffix(".index.csv")
        for path in (out, index):  # an earlier run's, killed mid-write
            remove_file_temporaries(path)
        atomic_write_all({out: lambda f: np.save(f, emb),
                          index: table_writer(rows, INDEX_COLUMNS, index)})
    else:
        write_table(rows, INDEX_COLUMNS, out,  # float32, as .npy
                    matrix=([f"e{j}" for j in range(dim)], emb))
    results.finish()
    return summary


def _record_embedding(item: FileWindows, model: QualityFM, window: WindowConfig,
                      batch_size: int, precision: str, pool: str, dim: int
                      ) -> dict[str, np.ndarray]:
    """One record's part of :func:`embed_files`' output, as :class:`RecordResults` keeps it:
    its embeddings and index rows, or why none (``unusable``: every window is so)."""
    part = {"source": np.array(str(item.path)),
            "n_unusable": np.array(len(item.rejected)),
            "unscored_s": np.array(item.unscored_s), "unusable": np.array(""),
            "emb": np.zeros((0, dim), np.float32), "rows": rows_array([])}
    if len(item.x) == 0:
        reason = "; ".join(sorted({why for _, why in item.rejected})) or "no window"
        part["unusable"] = np.array(f"no usable window: {reason}")
        return part
    part["emb"] = embed_windows(model, item.x, item.mask, batch_size, precision, pool)
    part["rows"] = rows_array([
        {"file": str(item.path), "record": item.record_id, "start_s": float(item.start[i]),
         "sqi": float(item.sqi[i]), "level_name": LEVEL_NAMES[int(item.level[i])],
         **{f"has_{m}": c in window.channels and bool(item.mask[i, window.channels.index(c)])
            for m, c in (("ppg", "ppg"), ("ecg", "ecg_ii"))}}
        for i in range(len(item.x))])
    return part
