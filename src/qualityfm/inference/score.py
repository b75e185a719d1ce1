"""Per-window quality of whole files: the signal-quality indices and the model's learned score."""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from qualityfm._numbers import is_int, shown
from qualityfm.inference.resume import RecordResults, rows_array, rows_of, run_settings
from qualityfm.inference.windows import (
    FileWindows,
    check_model_window,
    iter_file_windows,
    model_window,
)
from qualityfm.io import MODEL_CHANNELS, atomic_write, utf8_bytes
from qualityfm.io.atomic import check_name_room, remove_file_temporaries
from qualityfm.io.channels import ecg_leads
from qualityfm.io.folders import check_writable_folder, folder_kind
from qualityfm.quality import LEVEL_NAMES, RRRules
from qualityfm.signal import WindowConfig
from qualityfm.signal.nan import check_finite, present_mask, refuse_empty_rows
from qualityfm.signal.normalize import warn_unscaled

if TYPE_CHECKING:  # torch loads with a model only: the indices alone score without it
    from qualityfm.model import QualityFM, QualityFMConfig

#: Columns of ``embed``'s index (and of its Parquet table, before the embedding's ``e0``...).
INDEX_COLUMNS = ("row", "file", "record", "start_s", "sqi", "level_name", "has_ppg", "has_ecg")
#: Column names of ``predict``'s tables (``tasks.pipeline.predict_run``): the rows' file,
#: record and window start, each binary task's score and decision, the 4-class AF rhythm
#: model's probabilities (in RHYTHMS order) and decision, and abp's pressures.
PREDICTION_COLUMNS = {"vt-alarm": ("p_true_alarm", "true_alarm"), "af": ("p_af", "af")}
RHYTHM_COLUMNS = ("p_N", "p_A", "p_O", "p_noisy", "rhythm")
PREDICT_COLUMNS = ("file", "record", "start_s", *(c for pair in PREDICTION_COLUMNS.values()
                                                 for c in pair), *RHYTHM_COLUMNS, "sbp", "dbp")

#: Folders whose files verbs read back: no table is written into one.
READ_BACK_KINDS = ("prepared store", "pre-training run", "model folder")
#: What ``write_table`` writes: CSV, or Parquet (with pyarrow).
TABLE_SUFFIXES = (".csv", ".parquet")
SCORE_COLUMNS = (
    "file", "record", "start_s", "ecg_sqi", "ppg_sqi", "sqi", "level", "level_name",
    "learned_quality", "unusable",
)


_MODE_LOCK = threading.Lock()
_EVAL_USERS: dict[int, list] = {}  # id(model) -> [callers inside eval_mode, mode before]


@contextmanager
def eval_mode(model: QualityFM) -> Iterator[None]:
    """The model in eval mode inside, restored to its mode before once the last of the
    callers inside leaves (two threads embedding with one train-mode model had left it in
    eval mode, and the later one's windows had run with dropout once the first restored it)."""
    with _MODE_LOCK:  # (an entry is made by the first caller, removed by the last)
        users = _EVAL_USERS.setdefault(id(model), [0, model.training])
        users[0] += 1
        model.eval()
    try:
        yield
    finally:
        with _MODE_LOCK:
            users[0] -= 1
            if users[0] == 0:
                model.train(users[1])
                del _EVAL_USERS[id(model)]


def batches(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``size`` (>= 1) covering ``range(n)``."""
    if not is_int(size) or size < 1:  # (2.5 had failed in range())
        raise ValueError(f"batch size must be a whole number >= 1, got {shown(size)}")
    return (slice(lo, min(n, lo + size)) for lo in range(0, n, size))


def batch_tensor(a: np.ndarray, device: object) -> object:
    """A batch of ``a`` as a tensor on ``device``: sharing the array's memory where it can be
    written, copied where it cannot (a memory map: torch warns of sharing read-only memory)."""
    import torch

    return (torch.from_numpy(a) if a.flags.writeable else torch.tensor(a)).to(device)


def checked_windows(model: QualityFM, x: np.ndarray, mask: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(x, mask)`` as float32 windows [N, C, T] and a bool mask [N, C] (None: a channel is
    present where it is not flat, :func:`~qualityfm.signal.nan.present_mask`; a missing
    modality filled with zeros is absent), checked as ``QualityFM.embed`` checks them: the
    model's channel count (a channels-last array is named as such), a channel present in
    every row, no NaN or inf in a present channel, and a warning for values far outside
    [-1, 1]; and windows of 1 s at the model's rate or more (as ``Finetuner``)."""
    import torch

    from qualityfm.model.network import refuse_no_samples, refuse_short_windows

    x = np.asarray(x)
    if np.iscomplexobj(x) or x.dtype == bool:  # as QualityFM.embed refuses them, before the
        # cast to float32 that had dropped an imaginary part
        raise ValueError(f"input must hold real numbers (signal values), got {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if x.ndim != 3:  # checked below on x[:0], which would name a shape not given
        hint = "; one window is x[None]" if x.ndim == 2 else ""
        raise ValueError(f"input must be [batch, {model.cfg.in_channels}, samples], got shape "
                         f"{tuple(x.shape)}{hint}")
    # contiguous: a reversed view (x[:, ::-1], channels swapped) had failed in torch.from_numpy
    x = np.ascontiguousarray(x)
    c = model.cfg.in_channels
    if x.shape[1] != c:  # named as given (a check of x[:0] had named 0 rows)
        hint = " (channels last? pass x.transpose(0, 2, 1))" if x.shape[2] == c else ""
        raise ValueError(f"input must be [batch, {c}, samples], got shape {tuple(x.shape)}"
                         f"{hint}")
    refuse_no_samples(x.shape)  # as encode refuses them
    refuse_short_windows(x.shape[2], float(getattr(model.cfg, "fs", 300.0)))  # as embed
    given = mask is not None
    mask = np.asarray(mask) if given else present_mask(x)
    if mask.ndim == 0 or len(mask) != len(x):
        raise ValueError(f"mask has {len(mask) if mask.ndim else 'no'} rows, the windows "
                         f"{len(x)}")
    if mask.shape != x.shape[:2]:  # (checked below it had named the windows [N, C, 0])
        raise ValueError(f"mask must be [batch, {x.shape[1]}] matching the input "
                         f"{tuple(x.shape)}, got {tuple(mask.shape)}")
    # the mask's values, beside windows of no samples (nothing of x is copied)
    mask = np.ascontiguousarray(mask)
    model._inputs(torch.empty(x.shape[:2] + (0,)), torch.as_tensor(np.array(mask)))
    mask = mask.astype(bool)
    refuse_empty_rows(mask, given)
    names = MODEL_CHANNELS if x.shape[1] == len(MODEL_CHANNELS) else None
    check_finite(x, mask, names)
    warn_unscaled(x, mask, names, getattr(model.cfg, "normalization", "channel"))
    return x, mask


def check_output(out: str | Path, suffixes: Sequence[str] = TABLE_SUFFIXES,
                 what: str = "table", foreign: bool = True,
                 of: Collection[str] | None = None, beside: Sequence[str] = ()) -> Path:
    """``out`` as a Path, checked before the work rather than at the write after it: a
    ValueError naming it unless it ends in one of ``suffixes``, when it is a folder, when its
    folder is a file or cannot be written in, or lies in a folder whose files other verbs
    read back (a prepared store, a pre-training run, a model folder: a table named
    ``pairs.npy`` had replaced a store's pairs); with ``foreign``, when it is an existing
    file that is no output of the verbs ``of`` (default: the verb that ``what`` names, else
    any of :data:`OUTPUT_VERBS`; :func:`refuse_foreign_output`); when its name, or one of
    the files ``beside`` it (names), is too long to be written (:func:`check_name_room`)."""
    out = Path(out)
    if out.name in suffixes:  # ".json" has no suffix to Python: a name, hidden
        raise ValueError(f"{what} output {out} needs a name before its {out.name}")
    if out.suffix not in suffixes:
        raise ValueError(f"{what} output {out} must end in {' or '.join(suffixes)}")
    for path in (out, *(out.parent / name for name in beside)):
        check_name_room(path, f"{what} output")
    if out.is_dir():
        raise ValueError(f"{what} output {out} is a folder; give a file name")
    if out.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        other = " or ".join(s for s in suffixes if s != ".parquet")  # (embed's is .npy: it
        raise ValueError(f"{what} output {out}: Parquet needs pyarrow (pip install "  # had
                         f"'qualityfm[parquet]'); or write {other}")  # said .csv)
    found = folder_kind(out.parent)
    if found is not None and found[0] in READ_BACK_KINDS:
        raise ValueError(f"{what} output {out}: {out.parent} holds a {found[0]} "
                         f"({found[1]}); write outside it")
    if foreign:
        refuse_foreign_output(out, what, of)
    check_writable_folder(out.parent, f"{what} output {out}")
    return out


#: The verbs whose outputs a re-run replaces, and what each writes.
OUTPUT_VERBS = {"score": "a table of window scores", "predict": "a table of predictions",
                "embed": "an embedding or its index", "evaluate": "a report"}


def refuse_foreign_output(out: Path, what: str, of: Collection[str] | None = None) -> None:
    """Refuse (ValueError) to write over an existing file, not empty, that is no output of
    the verbs ``of`` (default: the verb that ``what`` names, else any; :func:`written_here`):
    a recording beside the input (``bidmc_26_Signals.csv``) had become a table of scores,
    and ``score`` had replaced ``predict``'s alarm decisions without a word."""
    if of is None:
        of = [what.split()[0]] if what.split()[0] in OUTPUT_VERBS else list(OUTPUT_VERBS)
    if out.is_file() and out.stat().st_size and not written_here(out, of):
        whose = " or ".join(f"{v}'s" for v in of) if len(of) < len(OUTPUT_VERBS) \
            else "qualityfm's"
        kinds = ", ".join(OUTPUT_VERBS[v] for v in of)
        raise ValueError(f"{what} output {out} exists and is no output of {whose} ({kinds}): "
                         "give another name, or move the file away first")


#: An embedding's value column in ``embed``'s Parquet table: e0, e1, ...
_EMBEDDING_COLUMN = re.compile(r"e\d+")


def table_verbs(names: Collection[str]) -> set[str]:
    """The verbs that write a table of these column names: ``record``, no column but the
    verb's (one of another verb's or a user's own makes it none of theirs), and those that
    the verb always writes and a user's table hardly holds (a user's ``record,true_alarm``
    labels, ``record,start_s,level`` annotations or ``file,record,sbp,dbp`` cuff readings,
    all of them names a verb writes, had been replaced): both channels' quality scores for
    ``score``, a probability or ``start_s`` beside the pressures for ``predict``, an
    embedding column or ``row`` (its index) for ``embed``."""
    if "record" not in names:
        return set()
    rules: dict[str, tuple[Callable[[str], bool], bool]] = {
        "score": (SCORE_COLUMNS.__contains__, {"ecg_sqi", "ppg_sqi"} <= set(names)),
        "predict": (PREDICT_COLUMNS.__contains__,
                    any(n.startswith("p_") for n in names)
                    # file too: a user's record,start_s,sbp,dbp reference had been replaced
                    or {"file", "start_s", "sbp", "dbp"} <= set(names)),
        "embed": (lambda n: n in INDEX_COLUMNS or bool(_EMBEDDING_COLUMN.fullmatch(n)),
                  any(n == "row" or _EMBEDDING_COLUMN.fullmatch(n) for n in names))}
    return {verb for verb, (ours, marked) in rules.items()
            if marked and all(ours(n) for n in names)}


def written_here(path: Path, of: Collection[str] = tuple(OUTPUT_VERBS)) -> bool:
    """Whether an existing file reads as an output of one of the verbs ``of`` (which a
    re-run replaces): a table of ``record`` and of no column but those such a verb writes
    (:func:`table_verbs`; a user's table of windows with a column of their own is none),
    ``embed``'s 2-D float matrix with its index beside it (``*.index.csv``),
    or ``evaluate``'s report (JSON naming its task and model, or its markdown table of
    models, and its predictions). A Parquet file needs pyarrow to be told, which
    :func:`check_output` asks for first."""
    if path.suffix in (".npy", ".json", ".md"):
        verb = "embed" if path.suffix == ".npy" else "evaluate"
        if verb not in of:
            return False
    try:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
                names = next(csv.reader(f), [])
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq  # (check_output refused .parquet without it)

            names = pq.read_schema(path).names
        elif path.suffix == ".npy":
            index = path.with_suffix(".index.csv")
            if not written_here(index, ("embed",)):
                return False
            matrix = np.load(path, mmap_mode="r", allow_pickle=False)  # its header alone
            # (rows not matched to the index's: a run killed between the two renames leaves
            # one new and one old, and had been refused by every re-run)
            return matrix.ndim == 2 and matrix.dtype.kind == "f"
        elif path.suffix == ".json":
            import json

            report = json.loads(path.read_text(encoding="utf-8"))
            return isinstance(report, dict) and {"task", "model", "predictions"} <= set(report)
        elif path.suffix == ".md":  # a report's table (tasks.report.markdown_table)
            with path.open(encoding="utf-8", errors="replace") as f:
                return f.readline().startswith("| model |")
        else:
            return False
    except (OSError, ValueError, csv.Error):  # unreadable, no NumPy file, no JSON, a header
        return False  # cell past csv's field limit: not ours
    return bool(table_verbs(names) & set(of))


def _check_decoder_length(samples: int, cfg: QualityFMConfig) -> None:
    """Refuse windows of another length than the model's ``n_samples``: the decoder predicts
    the spectrum of such a window (8705 samples, 18 tokens as 9000 give, had passed, its
    spectrum compared with one of other frequencies)."""
    if samples != cfg.n_samples:
        raise ValueError(f"learned quality compares the decoder's spectrum of a window of "
                         f"{cfg.n_samples} samples ({cfg.n_samples / cfg.fs:g} s at "
                         f"{cfg.fs:g} Hz); got windows of {samples} samples")


def learned_quality(model: QualityFM, x: np.ndarray, mask: np.ndarray | None,
                    batch_size: int = 256, precision: str = "fp32") -> np.ndarray:
    """How much a window already looks like the clean signal the model expects, in [-1, 1].

    The decoder was trained to predict the amplitude spectrum of a high-quality window from a
    low-quality one. For each present channel this is the correlation between that prediction
    and the window's own (z-scored) amplitude spectrum (|X|, or |X|^2 for a model whose
    ``cfg.amplitude`` is "power"); the score is the mean over channels.
    The idea: clean windows agree with their reconstruction, corrupted ones do not. Measured
    with the shipped weights it follows the SQIs only weakly (physionet2015_vt's 2,162
    windows: Spearman 0.23 with ``sqi``, 0.26 with the ECG's, 0.01 with the PPG's; median
    0.67 for bad windows, 0.78 for excellent ones) and depends on the channels present (ECG
    alone: median 0.93, both: 0.76): read it beside the SQIs, not as a quality score.

    ``precision``: "fp32", or "bf16" (CPU or CUDA) / "fp16" (CUDA only) autocast of the
    model's forward
    pass on the model's device; the spectra and the correlation are computed in float32.
    ``x`` [N, C, T] holds windows as ``embed`` reads them (at the model's ``cfg.fs``, each
    channel scaled into [-1, 1] by ``signal.normalize``: raw values warn, NaN or inf in a
    present channel is refused) with ``mask`` [N, C] (None: a channel is present where it is
    not flat); the model runs in eval mode and is left in the mode it was in.
    """
    import torch

    from qualityfm.losses import SpectralLoss
    from qualityfm.model.precision import check_precision, model_device, precision_autocast

    device = model_device(model)
    check_precision(precision, device)
    x, mask = checked_windows(model, x, mask)
    _check_decoder_length(x.shape[-1], model.cfg)
    # the spectrum the decoder learnt: |X|, or |X|^2 for a model pre-trained with --amplitude
    # power (whose prediction had been compared with |X|)
    spectral = SpectralLoss(n_bins=model.cfg.n_bins, amplitude=model.cfg.amplitude)
    out = np.empty(len(x), dtype=np.float32)
    dtype = next(model.parameters()).dtype  # (a model cast by .double() had failed in torch)
    with eval_mode(model), torch.inference_mode():
        for sl in batches(len(x), batch_size):
            xb, mb = batch_tensor(x[sl], device).to(dtype), batch_tensor(mask[sl], device)
            with precision_autocast(precision, device):
                pred = model(xb, mb)["amp"]
            pred = pred.float()
            target, _ = spectral.targets(torch.where(mb[..., None], xb, 0))  # absent: any value
            pred = (pred - pred.mean(-1, keepdim=True)) / (pred.std(-1, keepdim=True) + 1e-6)
            # both z-scored with the n - 1 SD: Pearson's correlation per channel
            corr = (pred * target).sum(-1) / max(pred.shape[-1] - 1, 1)
            corr = torch.where(mb, corr, 0)
            out[sl] = (corr.sum(-1) / mb.sum(-1).clamp_min(1)).cpu().numpy()
    return out


def score_rows(item: FileWindows, model: QualityFM | None, batch_size: int,
               precision: str = "fp32") -> list[dict]:
    """One row per window of one file, in time order: the windows without a usable channel
    too (sqi 0, bad; learned quality -1 when a recorded channel is off there, else none),
    with ``unusable`` saying which channel is off and why ("ppg: flat"; "" for a window whose
    recorded channels are all usable). A recorded channel off in a window counts as the worst
    score in its learned quality (-1), as in its sqi (0): a sensor off is a bad signal, not an
    absent one."""
    learned = (learned_quality(model, item.x, item.mask, batch_size, precision)
               if model is not None
               else np.full(len(item.x), np.nan, dtype=np.float32))
    if item.recorded is not None and len(item.x):
        present = item.mask.sum(axis=1)
        off = (item.recorded & ~item.mask).sum(axis=1)
        learned = (learned * present - off) / np.maximum(present + off, 1)
    notes = item.notes or [""] * len(item.x)
    rows = [
        {
            "file": str(item.path), "record": item.record_id, "start_s": float(item.start[i]),
            "ecg_sqi": float(item.ecg_sqi[i]), "ppg_sqi": float(item.ppg_sqi[i]),
            "sqi": float(item.sqi[i]), "level": int(item.level[i]),
            "level_name": LEVEL_NAMES[int(item.level[i])], "learned_quality": float(learned[i]),
            "unusable": notes[i],
        }
        for i in range(len(item.x))
    ]
    # A window without a usable channel: 0 for each recorded channel off there, NaN for the
    # others (absent, or usable beside an off one under require="all"); its learned quality
    # (with a model) -1 when a recorded channel is off, as beside a usable one.
    off = (item.rejected_off if item.rejected_off is not None
           else np.zeros((len(item.rejected), item.mask.shape[1]), bool))
    ecg = next(iter(ecg_leads(item.channels)), None)  # the lead score_windows scores
    index = {m: item.channels.index(c) if c in item.channels else None
             for m, c in (("ecg", ecg), ("ppg", "ppg"))}
    rows += [
        {
            "file": str(item.path), "record": item.record_id, "start_s": start,
            **{f"{m}_sqi": 0.0 if ci is not None and off[j, ci] else float("nan")
               for m, ci in index.items()},
            "sqi": 0.0, "level": 0, "level_name": LEVEL_NAMES[0],
            "learned_quality": -1.0 if model is not None and off[j].any() else float("nan"),
            "unusable": why,
        }
        for j, (start, why) in enumerate(item.rejected)
    ]
    return sorted(rows, key=lambda r: r["start_s"])


def score_files(
    inputs: Iterable[str | Path] | str | Path,
    out: str | Path,
    model: QualityFM | None = None,
    window: WindowConfig | None = None,
    batch_size: int = 256,
    precision: str = "fp32",
    ecg_rules: RRRules | None = None,
) -> dict:
    """Score every window of every record under ``inputs`` into ``out`` (.csv or .parquet).

    ``precision`` ("fp32", "bf16", "fp16" on CUDA) is that of the model's learned quality
    (see `learned_quality`); it is checked before any file is read. ``window`` None: the
    model's windows (its ``n_samples`` at its ``fs``; 30 s at 300 Hz without a model).
    ``ecg_rules``: the ECG quality's rrSQI rules (default: QualityFM's 40-120 bpm).
    Returns a summary: windows and records written (``n_unusable`` of the windows had no
    usable channel: bad rows, their reason under ``unusable``), ``unscored_s``, the seconds
    at the records' ends after their last window (each shorter than a window), the records
    skipped with the
    reason, and the files of the folders that are no record here (``passed_over``).
    Each record's rows are kept beside ``out`` (:class:`~qualityfm.inference.resume.
    RecordResults`) until the table is written: the same call after a stop reads the records
    it had scored from them (``n_resumed``).
    """
    out = check_output(out, what="score")
    if model is not None or precision != "fp32":  # torch loads for a model only
        from qualityfm.model.precision import check_precision, model_device

        check_precision(precision, model_device(model) if model is not None else None)
    if window is None and model is not None:  # the windows the model was pre-trained on
        window = model_window(model.cfg)
    if model is not None:
        check_model_window(window, model.cfg)
        _check_decoder_length(window.samples, model.cfg)  # before any record is read
    window = window or WindowConfig()
    skipped: list[dict[str, str]] = []
    passed: list[dict[str, str]] = []
    rows: list[dict] = []
    n_records = n_unusable = 0
    unscored = 0.0
    results = RecordResults(out, run_settings(
        "score", window, model, ecg_rules=ecg_rules, precision=precision,
        batch_size=batch_size if model is not None else None))
    for item in iter_file_windows(inputs, window, skipped, ecg_rules, passed,
                                  keep_unusable=True, outputs=[out], done=results.get):
        if isinstance(item, FileWindows):
            saved = {"rows": rows_array(score_rows(item, model, batch_size, precision)),
                     "n_unusable": np.array(len(item.rejected)),
                     "unscored_s": np.array(item.unscored_s)}
            results.put(item.path, saved)
            item = saved
        rows.extend(rows_of(item["rows"]))
        n_records += 1
        n_unusable += int(item["n_unusable"])
        unscored += float(item["unscored_s"])
    if rows:  # none: an earlier table at ``out`` stays as it was
        write_table(rows, SCORE_COLUMNS, out)
    results.finish()
    return {"out": str(out) if rows else None, "n_records": n_records, "n_windows": len(rows),
            "n_unusable": n_unusable, "unscored_s": round(unscored, 3),
            "n_resumed": results.resumed, "skipped": skipped, "passed_over": passed}


def table_writer(rows: list[dict], columns: Iterable[str], out: Path,
                 dtypes: Mapping[str, str] | None = None,
                 matrix: tuple[list[str], np.ndarray] | None = None,
                 ) -> Callable[[IO[bytes]], object]:
    """What writes rows as CSV (``out`` ending in .csv) or Parquet (.parquet) into a binary
    file, for :func:`~qualityfm.io.atomic_write`; another suffix, or Parquet without pyarrow,
    raises ValueError before anything is written. ``dtypes``: pandas dtypes of columns that
    may hold None (``"Int64"``, ``"string"``), so that a Parquet column's type does not
    follow the rows (int, double or null). ``matrix``: (names, array [rows, k]) of numeric
    columns after ``columns`` (an embedding), taken whole into Parquet (a value a Python
    object had cost 35 times the array's memory)."""
    columns = list(columns)
    out = check_output(out, of=table_verbs([*columns, *(matrix[0] if matrix else [])]) or None)
    # a file name's bytes that are not UTF-8 become \xNN escapes: a valid table either way
    rows = [{k: utf8_bytes(v).decode() if isinstance(v, str) else v for k, v in r.items()}
            for r in rows]
    if out.suffix == ".parquet":  # (pyarrow there: check_output asked)
        import pandas as pd

        frame = pd.DataFrame(rows, columns=columns)
        if dtypes:
            frame = frame.astype({c: t for c, t in dtypes.items() if c in frame.columns})
        if matrix is not None:
            frame = pd.concat([frame, pd.DataFrame(matrix[1], columns=matrix[0])], axis=1)
        return lambda f: frame.to_parquet(f, index=False)
    if matrix is not None:
        for row, vec in zip(rows, matrix[1], strict=True):
            row.update(zip(matrix[0], vec, strict=True))
        columns += matrix[0]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    return lambda f: f.write(data)


def write_table(rows: list[dict], columns: Iterable[str], out: Path,
                dtypes: Mapping[str, str] | None = None,
                matrix: tuple[list[str], np.ndarray] | None = None) -> None:
    """Write rows atomically as CSV or Parquet (see :func:`table_writer`); the temporaries
    of ``out`` an earlier run killed mid-write left beside it are removed first."""
    writer = table_writer(rows, columns, out, dtypes, matrix)
    remove_file_temporaries(out)
    atomic_write(out, writer)
