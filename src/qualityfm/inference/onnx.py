"""ONNX export of the encoder (pooled embedding) and, optionally, a task head on top of it.

The graph outputs the embedding and the head's raw output (logits for classification tasks,
mmHg for BP); a fine-tuned run's calibration and threshold are applied after it, as the
deployment card written beside its graph (``model.json``) says. Its time axis is fixed:
the teacher's graph reads windows of the config's ``n_samples``, a fine-tuned run's those of
the windows it was fitted on (its ``window``), as the run itself refuses other lengths; the
batch axis is free, from one row (ONNX Runtime fails on an empty batch, inside the stem's
GroupNorm: run no graph for no windows).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor, nn

from qualityfm import __version__
from qualityfm._numbers import FILL_MAGNITUDE
from qualityfm.io import (
    ECG_PREFERENCE,
    Record,
    RecordError,
    atomic_write_all,
    json_safe,
    json_text,
    utf8_bytes,
)
from qualityfm.io.channels import ECG_LEADS, MODEL_CHANNELS, canonical_channel
from qualityfm.io.folders import check_writable_folder, refuse_other_kind
from qualityfm.io.wfdb_reader import ALARM_TIME
from qualityfm.model import WindowedAttention, mean_over_shifts, pool_encoder
from qualityfm.signal import (
    MAX_NAN_FRACTION,
    MODEL_FS,
    VT_ECG_FILTER,
    VT_PPG_FILTER,
    normalize,
    resample,
    synthesize,
)


class EncoderGraph(nn.Module):
    """The graph exported: (x [B, C, T], mask [B, C]) -> embedding [B, dim] pooled by ``pool``
    (and the head's output, averaged over ``shifts`` evenly spaced circular shifts of ``x`` as
    a fine-tuned model with ``test_shifts`` predicts)."""

    def __init__(self, encoder: nn.Module, head: nn.Module | None = None,
                 pool: str = "mean", shifts: int = 1) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.pool = pool
        self.shifts = shifts

    def forward(self, x: Tensor, mask: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        # [B, C] as x is [B, C, T]: a runtime does not enforce the shared batch axis, and a
        # mask of one row had been broadcast over a batch
        # (a concatenation along the channels needs the same rows; a reshape was folded away)
        mask = torch.cat([mask.to(torch.bool), torch.zeros_like(x[:, :, 0], dtype=torch.bool)],
                         dim=1)[:, : x.shape[1]]
        emb = pool_encoder(self.encoder, x, mask, self.pool)
        if self.head is None:
            return emb
        def head(xs: Tensor) -> Tensor:
            return self.head(pool_encoder(self.encoder, xs, mask, self.pool))

        out = mean_over_shifts(head, x, self.shifts, first=self.head(emb))
        # a window with no present channel has nothing to judge: NaN, no decision
        judged = mask.to(torch.bool).any(dim=1, keepdim=True)
        return emb, torch.where(judged, out, torch.full_like(out, float("nan")))


def _dense_copy(model: nn.Module) -> nn.Module:
    """A copy running the dense reference kernel, which ONNX expresses with standard ops.

    The kernels agree to 1e-5 (tested), so the exported graph computes the same function.
    """
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, WindowedAttention):
            module.kernel = "dense"
    return model


def example_windows(n: int, channels: int, samples: int, fs: float = MODEL_FS,
                    normalization: str = "channel") -> np.ndarray:
    """``n`` windows [n, channels, samples] like the models' inputs: simulated PPG and ECG II
    (sinus, VT and AF in turn; random walks for another channel count) scaled as
    :func:`qualityfm.signal.normalize` scales real windows (``normalization``: per channel
    into [-1, 1] by default, a model's ``cfg.normalization``)."""
    x = np.cumsum(np.random.default_rng(0).standard_normal((n, channels, samples)), axis=-1)
    if channels == len(MODEL_CHANNELS):
        for i in range(n):
            rec = synthesize(samples / fs, fs=fs, rhythm=("sinus", "vt", "af")[i % 3],
                             seed=i, channels=("ecg_ii", "ppg"))
            x[i] = np.stack([rec.signals[c][:samples] for c in MODEL_CHANNELS])
    return normalize(x, mode=normalization)


#: The golden examples' raw rates: ECG and PPG at rates of their own, as monitors record them,
#: so that an integration's resampling is checked with the rest.
EXAMPLE_RATES = {"ecg_ii": 250.0, "ppg": 125.0}
#: (rhythm, channels recorded) of each golden example: both modalities, then one absent.
EXAMPLE_CASES = (("sinus", ("ecg_ii", "ppg")), ("vt", ("ecg_ii", "ppg")),
                 ("af", ("ecg_ii", "ppg")), ("sinus", ("ecg_ii",)), ("vt", ("ppg",)))


def golden_inputs(task: str, settings: dict, fs: float,
                  window: tuple[int, int]) -> dict[str, np.ndarray]:
    """Inputs of the golden examples written beside a run's graph: for a run built from
    records (its ``settings`` give ``seconds``), simulated records of the task's span
    (``raw{row}_{channel}`` at :data:`EXAMPLE_RATES`) and the windows
    :func:`qualityfm.tasks.record_dataset` makes of them, for vt-alarm also a monitor's
    buffer 20 s longer than the span (its alarm between two samples, ``alarm{row}``; a gap in
    its ECG); for a run fitted from arrays, :func:`example_windows` with the cases' masks
    (all present for another channel count); last, a row of no channel present. ``case``
    names each row."""
    n_ch, samples = window
    if not settings.get("seconds"):
        return _no_channel_row(_array_examples(n_ch, samples, fs))
    from qualityfm.tasks.datasets import record_dataset  # the layering exception

    seconds = float(settings["seconds"])
    rows: dict[str, list] = {"case": [], "x": [], "mask": []}
    raw: dict[str, np.ndarray] = {}
    top = max(EXAMPLE_RATES.values())
    for i, case in enumerate(EXAMPLE_CASES):
        rhythm, channels = case
        sim = synthesize(seconds, fs=top, rhythm=rhythm, seed=i, channels=channels)
        rec = Record(f"example{i}", {ch: resample(sim.signals[ch], top, EXAMPLE_RATES[ch])
                                     for ch in channels},
                     {ch: EXAMPLE_RATES[ch] for ch in channels})
        try:
            ds = record_dataset(task, rec, seconds=seconds, fs=fs, pad_to=settings.get("pad_to"),
                                filters=settings.get("filters", True))
        except RecordError:  # the task reads no window of it (abp needs ECG and PPG)
            continue
        if ds.X.shape[1:] != (n_ch, samples):
            raise ValueError(f"example {_case_name(case)}: windows of shape {ds.X.shape[1:]}, "
                             f"and the graph reads {(n_ch, samples)}")
        for x, m in zip(ds.X, ds.mask, strict=True):
            raw.update({f"raw{len(rows['case'])}_{ch}": v.astype(np.float32)
                        for ch, v in rec.signals.items()})
            rows["case"].append(_case_name(case))
            rows["x"].append(x)
            rows["mask"].append(m)
    if not rows["case"]:  # no case fits the task's records: windows alone
        return _no_channel_row(_array_examples(n_ch, samples, fs))
    alarms: dict[str, np.float64] = {}
    if task == "vt-alarm":  # a monitor's buffer: longer than the span, the alarm off the
        # samples' grid, a gap in the ECG: the span, the grid shift and the gap's filling
        sim = synthesize(seconds + 20.0, fs=top, rhythm="vt", seed=7, channels=MODEL_CHANNELS)
        signals = {ch: resample(sim.signals[ch], top, EXAMPLE_RATES[ch])
                   for ch in MODEL_CHANNELS}
        alarm = seconds + 13.0037
        f = EXAMPLE_RATES["ecg_ii"]
        signals["ecg_ii"][int((alarm - 0.4 * seconds) * f):
                          int((alarm - 0.4 * seconds + 0.3) * f)] = np.nan
        rec = Record("buffer", signals, dict(EXAMPLE_RATES), events={"alarm": alarm})
        ds = record_dataset(task, rec, seconds=seconds, fs=fs, pad_to=settings.get("pad_to"),
                            filters=settings.get("filters", True))
        alarms[f"alarm{len(rows['case'])}"] = np.float64(alarm)
        raw.update({f"raw{len(rows['case'])}_{ch}": v.astype(np.float32)
                    for ch, v in signals.items()})
        rows["case"].append(f"vt, ecg_ii + ppg: a {seconds + 20.0:g}-s buffer, the alarm off "
                            "the samples' grid, a 0.3-s ECG gap")
        rows["x"].append(ds.X[0])
        rows["mask"].append(ds.mask[0])
    return _no_channel_row(
        {"case": np.array(rows["case"]), "x": np.stack(rows["x"]).astype(np.float32),
         "mask": np.stack(rows["mask"]), **raw, **alarms,
         **{f"fs_{ch}": np.float64(r) for ch, r in EXAMPLE_RATES.items()}})


def _no_channel_row(examples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``examples`` with a last row of no channel present (no record): the graph's head is
    NaN there, which a deployment must read as no output (vt-alarm: keep the alarm)."""
    n_ch, samples = examples["x"].shape[1:]
    return {**examples,
            "case": np.append(examples["case"], "no channel present (no record): no output"),
            "x": np.concatenate([examples["x"], np.zeros((1, n_ch, samples), np.float32)]),
            "mask": np.concatenate([examples["mask"], np.zeros((1, n_ch), bool)])}


def _array_examples(n_ch: int, samples: int, fs: float,
                    normalization: str = "channel") -> dict[str, np.ndarray]:
    """:func:`example_windows` with the cases' masks, an absent channel's values zero."""
    present = np.array([[ch in c or n_ch != len(MODEL_CHANNELS) for ch in
                         (MODEL_CHANNELS if n_ch == len(MODEL_CHANNELS) else range(n_ch))]
                        for _, c in EXAMPLE_CASES])
    x = example_windows(len(EXAMPLE_CASES), n_ch, samples, fs, "none")
    x = normalize(x, present, normalization)  # an absent channel sets no joint range
    return {"case": np.array([_case_name(c) for c in EXAMPLE_CASES]),
            "x": np.where(present[:, :, None], x, 0).astype(np.float32), "mask": present}


def _case_name(case: tuple[str, tuple[str, ...]]) -> str:
    return f"{case[0]}, {' + '.join(case[1])}"


def golden_outputs(est: object, outputs: list[np.ndarray],
                   mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What the graph gives on the golden inputs (``embedding``, ``head``) and what a
    deployment makes of it, as the card says: ``p`` (calibrated) and ``decision``, none (-1)
    for a row of NaN output or, given its ``mask``, one holding none of the channels present
    in every window the model was fitted on (which predict leaves empty: the examples had
    decided AF on a PPG-only window of an ECG model)."""
    from qualityfm.tasks.pipeline import blind_rows  # the layering exception

    emb, head = outputs
    res = {"embedding": emb, "head": head}
    blind = np.zeros(len(head), bool) if mask is None else blind_rows(est, mask)
    if est.kind == "binary":
        p = est.calibrator(head[:, 0])
        res.update(p=p, decision=np.where(np.isnan(p) | blind, -1,
                                          p >= est.threshold).astype(np.int64))
    elif est.kind == "multiclass":
        p = est.calibrator(head)
        res.update(p=p, decision=np.where(np.isnan(p).any(axis=1) | blind, -1,
                                          np.nan_to_num(p).argmax(axis=1)).astype(np.int64))
    return res


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def export_onnx(
    model: nn.Module,
    out: str | Path,
    head: nn.Module | None = None,
    shifts: int = 1,
    batch: int = 3,
    opset: int = 18,
    n_samples: int | None = None,
    fs: float | None = None,
    check: tuple[np.ndarray, np.ndarray] | None = None,
    beside: Callable[[dict, list[np.ndarray] | None], dict[Path, str | bytes]] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> dict:
    """Write ``out`` (.onnx) and check it against PyTorch with ONNX Runtime when installed.

    ``model`` is a QualityFM or any module with ``.encoder`` and ``.cfg`` (a fine-tuned
    backbone, whose ``pool`` the graph follows); ``shifts``: see :class:`EncoderGraph`.
    The graph reads x [batch, C, ``n_samples``] (default: the config's ``n_samples``), a
    fixed length (the roll of ``shifts`` and the positions are traced for it); the check runs
    at that length on :func:`example_windows` sampled at ``fs`` (default: the config's).
    Returns ``{"out", "max_abs_diff", "sha256", "opset", "input"}``: ``max_abs_diff`` is
    None without onnxruntime, ``sha256`` the graph file's digest; ``input`` gives the shape
    of x (``"batch"`` free), its ``fs`` and seconds.
    ``check``: more windows (x, mask) the parity is measured on; ``beside(result, outputs)``
    gives files (path: text or bytes) that belong with the graph (a card, examples), with
    ``outputs`` the PyTorch graph's outputs on ``check`` (None without it): the check runs on
    the graph in memory, then they and ``out`` are replaced together. ``metadata``: entries
    of the graph's ``metadata_props`` (ONNX Runtime: ``get_modelmeta().custom_metadata_map``).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder = _dense_copy(model.encoder)
    graph = EncoderGraph(encoder, copy.deepcopy(head).eval() if head else None,
                         getattr(model, "pool", "mean"), shifts).eval()
    cfg = model.cfg
    shape = graph_input(cfg, n_samples, fs)
    samples, fs = shape["x"][2], shape["fs"]
    x = torch.from_numpy(example_windows(batch, cfg.in_channels, samples, fs))
    mask = torch.ones(batch, cfg.in_channels, dtype=torch.bool)
    mask[-1, 0] = False  # exercise the missing-modality path
    outputs = ["embedding"] if head is None else ["embedding", "head"]
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the tracer's notes on shape-dependent Python code
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph, (x, mask), buf, input_names=["x", "mask"], output_names=outputs,
            dynamic_axes={"x": {0: "batch"}, "mask": {0: "batch"},
                          **{name: {0: "batch"} for name in outputs}},
            opset_version=opset, dynamo=False,
        )
    graph_bytes = buf.getvalue()
    if metadata:
        import onnx

        proto = onnx.load_from_string(graph_bytes)
        for key, value in metadata.items():
            proto.metadata_props.add(key=key, value=value)
        graph_bytes = proto.SerializeToString()
    runs = [(x, mask)]
    if check is not None:
        runs.append((torch.from_numpy(np.asarray(check[0], np.float32)),
                     torch.from_numpy(np.asarray(check[1], bool))))
    refs = [graph_outputs(graph, *run) for run in runs]
    outputs = refs[1] if check is not None else None
    res = {"out": str(out), "max_abs_diff": onnx_parity(graph_bytes, runs, refs),
           "sha256": hashlib.sha256(graph_bytes).hexdigest(), "opset": opset, "input": shape}
    files = {Path(p): utf8_bytes(c) if isinstance(c, str) else c
             for p, c in (beside(res, outputs) if beside else {}).items()}
    writes: dict[Path, Callable[[IO[bytes]], object]] = {
        out: lambda f: f.write(graph_bytes),
        **{p: (lambda f, b=b: f.write(b)) for p, b in files.items()}}
    atomic_write_all(writes)
    return res


def graph_input(cfg: Any, n_samples: int | None = None, fs: float | None = None) -> dict:
    """The shape of the x a graph of ``cfg`` reads (``"batch"`` free; ``n_samples`` default
    the config's), its rate ``fs`` (default the config's) and seconds."""
    samples = cfg.n_samples if n_samples is None else int(n_samples)
    fs = float(getattr(cfg, "fs", MODEL_FS)) if fs is None else float(fs)
    return {"x": ["batch", cfg.in_channels, samples], "fs": fs,
            "seconds": round(samples / fs, 6)}


def graph_outputs(graph: nn.Module, x: Tensor, mask: Tensor) -> list[np.ndarray]:
    """The PyTorch graph's outputs on (x, mask), as arrays."""
    with torch.inference_mode():
        out = graph(x, mask)
    return [t.numpy() for t in ((out,) if isinstance(out, Tensor) else out)]


def onnx_parity(onnx: Path | bytes, runs: list[tuple[Tensor, Tensor]],
                refs: list[list[np.ndarray]]) -> float | None:
    """Largest absolute difference between the PyTorch outputs ``refs`` of each input pair of
    ``runs`` and ONNX Runtime's (one session on the graph at a path or in memory), or None
    without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(onnx if isinstance(onnx, bytes) else str(onnx),
                                   providers=["CPUExecutionProvider"])
    diffs = [_nan_aware_diff(r, g)
             for (x, mask), ref in zip(runs, refs, strict=True)
             for r, g in zip(ref, session.run(None, {"x": x.numpy(), "mask": mask.numpy()}),
                             strict=True)]
    return float(max(diffs))


def _nan_aware_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b|, NaN in both counting 0 (a row of no channel), NaN in one infinite."""
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    d[np.isnan(a) & np.isnan(b)] = 0.0
    d[np.isnan(d)] = np.inf
    return float(d.max(initial=0.0))


def export_encoder_onnx(model: nn.Module, out: str | Path) -> dict:
    """:func:`export_onnx` of a model's encoder (x, mask -> embedding) to ``out``, with
    golden examples beside it (``out`` with suffix .examples.npz: ``case``, ``x``, ``mask``
    and the ``embedding`` the graph gives; one modality absent in two rows), written
    together with the graph, which says what it reads in its metadata
    (:data:`ENCODER_METADATA_KEY`)."""
    cfg = model.cfg
    golden = _array_examples(cfg.in_channels, cfg.n_samples, float(getattr(cfg, "fs", MODEL_FS)),
                             getattr(cfg, "normalization", "channel"))
    examples = Path(out).with_suffix(".examples.npz")
    said = {"input": {**graph_input(cfg), "channels": list(MODEL_CHANNELS),
                      "normalization": getattr(cfg, "normalization", "channel")},
            "config": dataclasses.asdict(cfg), "made_by": {"qualityfm": __version__}}
    res = export_onnx(model, out, check=(golden["x"], golden["mask"]),
                      beside=lambda r, outputs: {
                          examples: _npz_bytes({**golden, "embedding": outputs[0]})},
                      metadata={ENCODER_METADATA_KEY: json.dumps(json_safe(said))})
    res["examples"] = str(examples)
    return res


#: The encoder graph's metadata entry: what it reads (shape, rate, channels, scaling), the
#: model's config and the package that wrote it (a graph had said none of it).
ENCODER_METADATA_KEY = "qualityfm.encoder"


class _Unstandardised(nn.Module):
    """A regression head whose output is in the targets' units (mmHg): the head learns
    standardised targets, ``Finetuner.predict`` rescales them."""

    def __init__(self, head: nn.Module, scale: np.ndarray, shift: np.ndarray) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)))
        self.register_buffer("shift", torch.as_tensor(np.asarray(shift, np.float32)))

    def forward(self, z: Tensor) -> Tensor:
        return self.head(z) * self.scale + self.shift


def require_onnx(why: str) -> None:
    """Refuse (ImportError) an ONNX export without the ``onnx`` package, naming the extra,
    before anything is written."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ImportError(f"{why}: that needs the onnx package, which is not installed: "
                          "pip install 'qualityfm[onnx]'")


#: The graph's metadata entry holding its deployment card (less ``graph`` and ``examples``):
#: a graph copied away from its card still says its input, calibration and threshold.
CARD_METADATA_KEY = "qualityfm.card"
CARD_METADATA_NOTE = ("the graph's metadata_props hold this card, less graph and examples, "
                      f"as JSON under {CARD_METADATA_KEY!r} (ONNX Runtime: "
                      "session.get_modelmeta().custom_metadata_map)")


def export_finetuned_onnx(run: str | Path, out: str | Path) -> dict:
    """ONNX of a fine-tuned QualityFM run (``qualityfm finetune``): encoder + task head,
    reading windows of the run's own length (its fitted ``window``; older runs without one:
    the config's ``n_samples``); a regression head's output in mmHg. Beside ``out`` (.onnx),
    ``out`` with suffix .json says all a deployment needs: the input (channels, rate, length,
    preprocessing), the calibration, the threshold and how a decision is made; ``out`` with
    suffix .examples.npz holds golden examples (:func:`golden_inputs`, :func:`golden_outputs`)
    an integration is checked against."""
    from qualityfm.tasks import Finetuner  # the layering exception
    from qualityfm.tasks.baselines import load_estimator

    # not into the run it reads, nor beside a pre-training export (another encoder's files)
    check_writable_folder(Path(out).parent, f"--out {Path(out).parent}")
    refuse_other_kind(Path(out).parent, ("fine-tuned ONNX export",))
    est = load_estimator(run)
    if est.task == "af4":  # its card would name no classes and no windows (an af run's part)
        raise ValueError(f"{run}: the 4-class rhythm model of an af run is not exported (its "
                         "card would name neither its classes nor its windows); export the af "
                         f"run itself ({Path(run).resolve().parent}), its binary AF model")
    net = est.net if isinstance(est, Finetuner) else None
    if net is None or not hasattr(net.backbone, "encoder"):
        raise ValueError(f"{run}: only fine-tuned QualityFM encoders can be exported to ONNX")
    if net.head.in_features != net.backbone.dim:
        raise ValueError(f"{run}: its head also reads classical features, which the ONNX graph "
                         "does not compute; fine-tune without them (finetune --no-features; "
                         "every clinical task reads them by default) to export it")
    require_onnx("a fine-tuned run is exported as ONNX")  # once the run is known to export
    samples = None if est.window is None else est.window[1]
    head = (_Unstandardised(net.head, est.y_std, est.y_mean) if est.kind == "regression"
            else net.head)
    card_path = Path(out).with_suffix(".json")
    examples_path = Path(out).with_suffix(".examples.npz")
    _refuse_foreign_card(card_path)
    if not (card_path.is_file() and card_path.stat().st_size):  # a graph or examples of no
        # export of ours (it writes all three): a user's had been replaced
        for path in (Path(out), examples_path):
            if path.is_file() and path.stat().st_size:
                raise ValueError(f"--out {path.parent}: {path.name} exists and is no qualityfm "
                                 f"export's (no deployment card {card_path.name} beside it); "
                                 "export to a folder of its own, or move the file away")
    settings = _run_settings(Path(run))
    golden = golden_inputs(est.task, settings, est.fs,
                           est.window or (net.backbone.cfg.in_channels,
                                          net.backbone.cfg.n_samples))

    card = deployment_card(est, Path(run), graph_input(net.backbone.cfg, samples, est.fs),
                           settings)

    def beside(r: dict, outputs: list[np.ndarray] | None) -> dict[Path, str | bytes]:
        full = {**card, "graph": {"file": Path(out).name, "sha256": r["sha256"],
                                  "opset": r["opset"], "metadata": CARD_METADATA_NOTE}}
        full["examples"] = _examples_text(examples_path.name, est.kind,
                                          any(k.startswith("raw") for k in golden),
                                          any(k.startswith("alarm") for k in golden))
        return {card_path: json_text(full),
                examples_path: _npz_bytes({**golden, **golden_outputs(est, outputs,
                                                                      golden["mask"])})}

    res = export_onnx(net.backbone, out, head=head, shifts=est.test_shifts, n_samples=samples,
                      fs=est.fs, check=(golden["x"], golden["mask"]),
                      beside=beside,  # the graph, its card and examples replaced together
                      metadata={CARD_METADATA_KEY: json.dumps(json_safe(card))})
    res.update(card=str(card_path), examples=str(examples_path))
    return res


def _examples_text(name: str, kind: str, raw: bool, alarms: bool = False) -> dict:
    """The card's description of the golden examples file."""
    keys = {"case": "[n] what each row is (rhythm, channels recorded)",
            "x": "[n, channels, samples] the graph's input", "mask": "[n, channels] its mask",
            "embedding": "[n, dim] the graph's output",
            "head": "[n, k] the graph's output (NaN in the row of no channel: no output)"}
    if raw:
        keys.update({"raw{i}_{channel}": "the simulated record row i was made from, at "
                                         "fs_{channel} Hz: the input of the preprocessing "
                                         "(none for the row of no channel present)",
                     "fs_{channel}": "its rate"})
    if alarms:
        keys["alarm{i}"] = ("row i's alarm time, s from its record's first sample (none: "
                            "the record ends at its alarm)")
    if kind == "binary":
        keys.update(p="[n] calibrated probability of the head (NaN: no output)",
                    decision="[n] 1 where p >= threshold, 0 below, -1 where there is no "
                             "decision: p NaN, or a row holding none of the channels of "
                             "fitted_on.present_in_every_window where it lists any (its p the "
                             "model's guess, which qualityfm predict leaves empty)")
    elif kind == "multiclass":
        keys.update(p="[n, classes] calibrated probabilities",
                    decision="[n] the class, -1 where there is no decision: p NaN, or a row "
                             "holding none of the channels of "
                             "fitted_on.present_in_every_window where it lists any")
    return {"file": name, "keys": keys,
            "use": "an integration reproduces head (and p, decision) from x and mask"
                   + (", and x and mask from the raw records" if raw else "")
                   + "; numpy.load reads it"}


#: Monitor labels the card maps to the package's channel names, as examples.
_LABEL_EXAMPLES = ("II", "ECG II", "MLII", "I", "III", "aVF", "V", "V5", "MCL1", "ECG",
                   "ECG1", "PLETH", "Pleth", "PPG", "PLETH HR", "ART", "ABP")


def _refuse_foreign_card(path: Path) -> None:
    """Refuse (ValueError) to replace a JSON file, not empty, that is no deployment card of
    ours (``made_by.qualityfm``, or an older card's task, kind and input): a user's
    ``model.json`` there had become the card."""
    if not path.is_file() or not path.stat().st_size:
        return
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
        ours = isinstance(card, dict) and ("qualityfm" in (card.get("made_by") or {})
                                           or {"task", "kind", "input"} <= set(card))
    except (OSError, ValueError, TypeError, AttributeError):
        ours = False
    if not ours:
        raise ValueError(f"--out {path.parent}: {path.name} exists and is no qualityfm "
                         "deployment card; export to a folder of its own, or move the file "
                         "away")


def _input_rules(task: str, settings: dict) -> dict:
    """The preprocessing rules of the task's windows (qualityfm.tasks.datasets), as data an
    integrator can implement without qualityfm."""
    from qualityfm.quality._common import MIN_FS
    from qualityfm.signal.nan import OFF_LEVELS
    from qualityfm.signal.resample import MAX_RATIO_ERROR, MAX_TERM
    from qualityfm.tasks.datasets import (  # the layering exception
        AF_CROP_MAX_SECONDS,
        FLAT_PEAK_TO_PEAK,
        MIN_CHANNEL_SECONDS,
    )

    seconds = settings.get("seconds")
    span = {
        "vt-alarm": f"the {seconds} s ending at the alarm (a PhysioNet Challenge 2015 "
                    "record, whose header names its alarm type or labels its alarm true or "
                    "false, or which an answer file beside it (alarms.csv, ALARMS) lists, "
                    f"alarms at {ALARM_TIME:g} s, its 'l' records running 30 s past it, "
                    "unless its header states another (a line 'event: alarm at N s'); a record "
                    "without an alarm time: "
                    "the latest end of its channels)"
                    + (f", left-padded with zeros to {settings['pad_to']} s"
                       if settings.get("pad_to") else ""),
        "af": f"the central {seconds} s of a recording of at most "
              f"{max(AF_CROP_MAX_SECONDS, seconds):g} s, a shorter one padded with zeros at "
              f"its end after scaling; a longer one is cut into consecutive {seconds}-s "
              "windows",
        "abp": f"consecutive {seconds}-s windows from the record's start, over the shorter "
               "of its ECG II and PPG (the seconds past a window's end at the record's end "
               "give none)",
    }.get(task, "as the windows it was fitted on") if seconds else (
        "unknown: fitted from arrays; windows cut as those it was fitted on were")
    rules = {
        "span": span,
        "span_samples": "of a channel at f Hz, samples round(t0 * f) up to round(t1 * f) "
                        "(excluded; Python's round, half to even) of its record, t1 the "
                        "span's end and t0 = t1 - seconds"
                        + (" (a recording shorter than the window: all of it)"
                           if task == "af" else "")
                        + ", as float32 (the readers' type) before any step",
        "order": "per channel at its own rate, on the span alone: missing samples (NaN, inf, "
                 f"values past {FILL_MAGNITUDE:g} in magnitude: fill values) "
                 "linearly interpolated, the filters, resampled to fs, shifted onto the "
                 "grid of t0 by s = round((round(t0 * f) / f - t0) * fs) samples (s > 0: its "
                 "first value held s times before it; s < 0: its first -s samples dropped), "
                 "cut at its end to the span's samples at fs or its last value held up to "
                 "them, min-max scaled"
                 + ("; a recording shorter than the window is then zero-filled at its end to "
                    "the graph's samples (after scaling)" if task == "af" else ""),
        "filter_mode": "one cascade of second-order sections per channel: a Butterworth "
                       "high-pass of the filter's order at highpass Hz, a Butterworth low-pass "
                       "of that order at lowpass Hz, then scipy.signal.iirnotch(notch, "
                       "notch_q), in that order, run forwards and backwards at once "
                       "(scipy.signal.sosfiltfilt, padlen min(3 * (2 * sections + 1), "
                       "samples - 1)) over the span; a low-pass or notch at or above Nyquist "
                       "is left out of the cascade",
        "resampler": "polyphase FIR (scipy.signal.resample_poly with window=h and "
                     "padtype='edge'; h scipy's default Kaiser design, beta 5, 10 zero "
                     "crossings a side, each of its up polyphase branches h[k::up] scaled to "
                     "sum to 1 / up, as resample_poly multiplies h by up: a DC gain of exactly "
                     "1 in every output phase) run on the span less its mean, which is added "
                     "back; "
                     "up / down = fractions.Fraction(fs / f).limit_denominator(max(1, "
                     f"int({MAX_TERM} / max(1.0, fs / f)))) (refused when it misses fs / f "
                     "by over "
                     f"{MAX_RATIO_ERROR:g} of it; up == down: not resampled)",
        "channel_names": {"rule": "a monitor's labels name the channels as "
                                  "qualityfm.io.canonical_channel names them (case, spaces "
                                  "and separators aside); these are examples, not every label "
                                  "it reads: an integration names its own monitor's channels "
                                  "by what they are, the ECG leads being exactly "
                                  + ", ".join(ECG_LEADS) + " (V7, V8 and other leads are no "
                                  "ECG here; a second channel of one lead is that lead's "
                                  "name + _2), e.g.",
                          **{label: canonical_channel(label) for label in _LABEL_EXAMPLES}},
        "slow_channel": f"a channel sampled under {MIN_FS:g} Hz is absent (not read)",
        "absent_channel": f"mask False when more than {MAX_NAN_FRACTION:g} of its samples "
                          f"in the span are missing (NaN, inf, values past {FILL_MAGNITUDE:g}, "
                          "and the part of the span past "
                          "the channel's last sample, e.g. an alarm stamped after it), when "
                          f"it is flat (peak-to-peak <= {FLAT_PEAK_TO_PEAK:g}), when its "
                          f"recorded samples take at most {OFF_LEVELS} distinct values (a "
                          "sensor off, an ADC toggling between neighbouring steps) or when under "
                          f"{MIN_CHANNEL_SECONDS:g} s of it are present; its values are then "
                          "ignored (the examples give it zeros); fewer missing samples are "
                          "filled as the preprocessing says, a run at the span's start or end "
                          "holding the nearest recorded value",
        "ecg_lead": "lead II when it is not absent in the span (absent_channel); else the "
                    "first of these that is not absent there stands in: "
                    + ", ".join(ECG_PREFERENCE[1:])
                    + "; a second channel of a named lead (two labelled II: ecg_ii_2) "
                      "right after the first; then any other ECG lead (a second unnamed lead, "
                      "ecg_2, among them), by name",
    }
    if task == "abp":
        rules["ecg_lead"] = ("lead II only (the first channel labelled II): no other lead, "
                             "nor a second channel labelled II, stands in")
        rules["no_window"] = ("a window whose ECG II or PPG is absent (absent_channel), or "
                              f"is flat for over {MAX_NAN_FRACTION:g} of the window (the share "
                              "of its 0.5-s blocks, round(0.5 * rate) samples each, whose "
                              "peak-to-peak is at most 0.01 x 4 standard deviations of the "
                              "window; on the channel's span as read, its missing samples "
                              "left out of both, and on its model input, the larger of the "
                              "two), gives no row and no prediction; the "
                              "arterial line is not read at prediction (fine-tuning left out "
                              "windows whose line gave no target)")
    if task == "vt-alarm" and seconds:
        rules["no_window"] = (f"no window, so no decision (keep the alarm), when the buffer "
                              f"holds less than {seconds} s before the alarm, when the alarm "
                              "lies more than min(1 s, "
                              f"{MAX_NAN_FRACTION:g} x {seconds} s) after the record's end, or "
                              "when neither channel is present")
    return rules


def _run_settings(run: Path) -> dict:
    """The window settings in a run's ``summary.json`` ({}: a run fitted from arrays), checked
    as evaluate reads them (a damaged one had been a traceback here)."""
    from qualityfm.tasks.pipeline import run_summary  # the layering exception

    return run_summary(run).get("settings", {})


def deployment_card(est: object, run: Path, graph_input: dict, settings: dict) -> dict:
    """What a fine-tuned run's ONNX graph reads and how its output becomes a decision
    (``settings``: the run's window settings, :func:`_run_settings`)."""
    filters = settings.get("filters")  # None: a run fitted from arrays, its windows unknown
    card: dict = {
        "task": est.task, "kind": est.kind,
        "input": {**graph_input, "channels": list(MODEL_CHANNELS),
                  "mask": "[batch, channels] bool, False where a channel is absent; the "
                          "rows of x (the graph refuses another number); a batch of one row "
                          "or more (ONNX Runtime fails on none)",
                  "preprocessing": (
                      "per channel, at its own rate: NaN gaps (and fill values past "
                      f"{FILL_MAGNITUDE:g}) interpolated, the filters "
                      "below (when not null), resampled to fs, then min-max scaled into "
                      "[-1, 1] (qualityfm.signal.normalize, 'channel'); "
                      "qualityfm.tasks.record_dataset(..., "
                      + (f"seconds={settings['seconds']:g}, " if settings.get("seconds") else "")
                      + f"fs={est.fs:g}) does all of it"),
                  "filters": ({"ecg": dataclasses.asdict(VT_ECG_FILTER),
                               "ppg": dataclasses.asdict(VT_PPG_FILTER)} if filters
                              else None if filters is not None else "unknown: fitted from "
                              "arrays; filter as the arrays it was fitted on were"),
                  "rules": _input_rules(est.task, settings)},
        "output": "head",
        "made_by": {"qualityfm": __version__},
    }
    if getattr(est, "always_present", None) is not None and est.task != "abp":
        card["fitted_on"] = {
            "present_in_every_window": [c for c, on in zip(MODEL_CHANNELS, est.always_present,
                                                           strict=False) if on],
            "note": "a window lacking one of these is outside what the model learnt "
                    "(qualityfm predict warns); its decision is the model's guess, and "
                    "where it holds none of them qualityfm predict gives no output (the "
                    "graph still gives one)"}
        counts, fitted = getattr(est, "present_counts", None), getattr(est, "fitted_rows", None)
        if counts is not None and fitted:  # (a channel 2 of 206 windows lacked: unsaid)
            card["fitted_on"]["windows_holding"] = {
                "of": fitted, **dict(zip(MODEL_CHANNELS, counts, strict=False)),
                "note": "a window lacking (or holding) a channel that only a rare few of "
                        "these did rests on those few (qualityfm predict warns)"}
    if (run / "rhythm").is_dir():
        card["not_exported"] = ("the run's 4-class rhythm model (rhythm/: predict's rhythm and "
                                "p_N, p_A, p_O, p_noisy columns); this graph is the binary AF "
                                "model alone")
    cal = est.calibrator
    if est.kind == "binary":
        card.update(calibration={"method": cal.method, "a": cal.a, "b": cal.b},
                    threshold=est.threshold, threshold_rule=est.threshold_rule,
                    **({"target_tpr": est.target_tpr} if est.threshold_rule == "tpr" else {}),
                    decision=("p = 1 / (1 + exp(-(a * head + b))); decision 1 when "
                              "p >= threshold" + (" (1 keeps the alarm)"
                                                  if est.task == "vt-alarm" else "")
                              + "; a window with NaN input or with no present channel (mask "
                                "all False; head is NaN), or, where "
                                "fitted_on.present_in_every_window lists channels, holding "
                                "none of them (qualityfm predict leaves it empty), has no "
                                "decision (the examples' decision: -1)"
                              + (": keep the alarm" if est.task == "vt-alarm" else "")))
    elif est.kind == "multiclass":
        # a multiclass calibrator fits a temperature (its method named "platt" had said so)
        card.update(calibration={"method": "none" if cal.method == "none" else "temperature",
                                 "a": cal.a},
                    decision="p = softmax(a * head); the class of highest p; a window with "
                             "NaN input or with no present channel (head is NaN), or, where "
                             "fitted_on.present_in_every_window lists channels, holding none "
                             "of them, has no decision (the examples' decision: -1)")
    else:
        card.update(decision=("head is (SBP, DBP) in mmHg" if est.task == "abp"
                              else "head is the prediction, in the targets' units")
                    + "; NaN (no prediction) for a window with NaN input or with no present "
                      "channel" + ("; a window of no_window gives none either (the graph "
                                   "still gives one, e.g. with the PPG's mask False)"
                                   if est.task == "abp" else ""))
    return card
