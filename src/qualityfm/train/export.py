"""Export a run's teacher as safetensors + config JSON + model card; load it back, checked."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from qualityfm._caller import warn_at_caller
from qualityfm.io.atomic import atomic_write_all, read_json
from qualityfm.io.folders import (
    check_writable_folder,
    folder_kind,
    held_there,
    refuse_file_for_folder,
    refuse_other_kind,
)
from qualityfm.model import QualityFM, QualityFMConfig, resolve_device
from qualityfm.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from qualityfm.train.engine import read_log

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
FORMAT = "qualityfm-model"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PRETRAINED = "pretrained"
DEFAULT_PRETRAINED = "base"


def weights_dir() -> Path:
    """The folder of the weights the package ships (``qualityfm/weights``)."""
    return Path(__file__).resolve().parents[1] / "weights"


def _file_names(name: str) -> tuple[str, str]:
    """(weights, config) file names of a model called ``name``: ``model`` keeps the folder
    layout ``model.safetensors`` + ``config.json``; any other ``name`` gives ``name.safetensors``
    + ``name.json`` (several models side by side, as in the shipped weights folder)."""
    if name == "model":
        return WEIGHTS_NAME, CONFIG_NAME
    return f"{name}.safetensors", f"{name}.json"


def _store_summary(store: str) -> dict[str, Any]:
    """Counts of the run's store, when it can still be opened."""
    try:
        from qualityfm.data import Store

        s = Store(store)
        return {"n_records": s.n_records, "n_windows": s.n_windows, "n_pairs": s.n_pairs}
    except (OSError, ValueError, KeyError):
        return {}


def _last_logged(run_dir: Path, up_to: int) -> dict[str, Any]:
    """The first line of the run's JSON-lines log and the last of step ``up_to`` or before
    (the checkpoint's: a run still training, or killed after its last checkpoint, has logged
    steps its weights have not seen)."""
    path = run_dir / "log.jsonl"
    if not path.exists():
        return {}
    try:
        records = read_log(path)
    except ValueError as err:  # the card's figures only: the weights export without them
        warn_at_caller(f"{err.args[0].partition('; ')[0]}: the model card gives no training "
                       "figures", RuntimeWarning)
        return {}
    lines = [r for r in records if int(r.get("step", 0)) <= up_to]
    return {"first": lines[0], "last": lines[-1]} if lines else {}


def _card(ckpt: dict[str, Any], mcfg: QualityFMConfig, run_dir: Path, n_params: int,
          dtype: str = "float32", notes: str = "", head_params: int = 0,
          readout_params: int = 0) -> str:
    cfg = ckpt["config"]
    # the counts of the data the weights were trained on, kept in the checkpoint (the store
    # as it is now had been counted: remade since, or gone)
    store = ckpt.get("store_counts") or _store_summary(cfg["store"])
    logged = _last_logged(run_dir, int(ckpt["step"]))
    keys = ("loss", "distill", "amp", "phase", "koleo",
            *(("features",) if cfg.get("feature_weight", 0) > 0 else ()),
            "effective_rank", "mean_cosine", "argmax_dims", "pairs_per_s")

    def row(name: str, rec: dict[str, Any]) -> str:
        cells = " | ".join(f"{rec[k]:.4g}" if k in rec else "" for k in keys)
        return f"| {name} (step {rec.get('step', '?')}) | {cells} |"

    world = len(ckpt.get("data") or [None])  # each process's place in the data
    lines = [
        "# QualityFM pre-trained model", "",
        "Teacher network of a QualityFM self-distillation run (encoder, spectral decoder"
        f"{', DINO head' if mcfg.head != 'none' else ''}). Load with "
        "`qualityfm.load(path)`; `model.embed(x, mask)` gives one vector per "
        f"{mcfg.n_samples / mcfg.fs:g}-s window (channels `ppg`, `ecg_ii` at {mcfg.fs:g} Hz).",
        "",
        "## Training",
        f"- Command: `{cfg.get('command') or 'qualityfm.train.pretrain(PretrainConfig(...))'}`"
        + (f", on {world} processes (`torchrun --nproc-per-node {world}` or across nodes; "
           "the data split and KoLeo follow the number)" if world > 1 else ""),
        f"- Recipe: `{cfg['recipe']}`, preset `{cfg['preset']}`, {ckpt['step']} of "
        f"{cfg['steps']} steps, batch {cfg['batch_size']}, seed {cfg['seed']}",
        f"- Data: store `{cfg['store']}`"
        + (f" ({store['n_records']} records, {store['n_windows']} windows, "
           f"{store['n_pairs']} pairs)" if store else ""),
        f"- Parameters: {n_params:,} (encoder and decoder), stored as {dtype} (loaded as "
        "float32)",
        "- DINO projection head: "
        + (f"included ({head_params:,} parameters more)" if mcfg.head != "none"
           else "none (the run trained without one)" if not cfg.get("head", True)
           else "not shipped (only needed for pre-training)"),
        *([f"- Feature read-out ({mcfg.feature_targets} targets): included "
           f"({readout_params:,} parameters more)"]
          if mcfg.feature_targets else
          ["- Feature read-out: not shipped (only needed for pre-training)"]
          if cfg.get("feature_weight", 0) > 0 else []),
        "",
    ]
    if logged:
        lines += ["## Figures (from the run's log)", "",
                  "| point | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|",
                  row("first", logged["first"]), row("last", logged["last"]), ""]
    scaling = {"channel": "each channel min-max scaled into [-1, 1] on its own",
               "joint": "the channels scaled together (the original's pre-training)",
               "none": "unscaled, in physical units"}.get(getattr(mcfg, "normalization",
                                                                   "channel"), "")
    lines += ["## Input",
              f"- `x` [batch, {mcfg.in_channels}, {mcfg.n_samples}]: channels `ppg`, `ecg_ii` "
              f"at {mcfg.fs:g} Hz, {scaling} (`qualityfm.signal.normalize`, mode "
              f"`{getattr(mcfg, 'normalization', 'channel')}`); `qualityfm.signal."
              "make_windows(record, WindowConfig(fs="
              f"{mcfg.fs:g}, seconds={mcfg.n_samples / mcfg.fs:g}, normalization="
              f"'{getattr(mcfg, 'normalization', 'channel')}'))` cuts and resamples a "
              "record's windows so (its defaults are the shipped model's: 30 s at 300 Hz, each "
              "channel scaled alone), and their `normalized()` scales them.",
              f"- `mask` [batch, {mcfg.in_channels}] bool: False where a channel is absent "
              "(its values are "
              "ignored). A window with no channel present has no embedding: `model.embed` "
              "refuses it, and `encoder.onnx` returns one made of the absent-channel "
              "embeddings alone: discard it.",
              "- `qualityfm export RUN --out DIR --onnx` also writes `encoder.onnx` (x, mask "
              "-> embedding) and `encoder.examples.npz` (golden windows, masks and the "
              "embeddings the graph gives them) beside these weights.", ""]
    lines += ["## Intended use and limits",
              "Research use on ICU PPG/ECG windows. Not a medical device; not validated for "
              "clinical decisions.", ""]
    if notes:
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def export_model(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    name: str = "model",
    dtype: str = "float32",
    include_head: bool = True,
    card_name: str = CARD_NAME,
    notes: str = "",
    remove: tuple[str, ...] = (),
) -> Path:
    """Write ``run_dir``'s teacher to ``out_dir``: weights, config JSON and a model card.

    ``name`` "model" writes model.safetensors + config.json (a model folder); another name
    writes ``name``.safetensors + ``name``.json. ``dtype`` ("float32", "float16", "bfloat16")
    is the storage type of floating tensors (``load`` upcasts to float32). ``include_head=False``
    drops the DINO projection head and the feature read-out (pre-training devices) and records
    ``head="none"``, ``feature_targets=0`` in the config. ``notes`` (Markdown) is appended to
    the card ``card_name``; ``remove``: names of files in ``out_dir`` removed with the renames
    (an earlier export's ONNX graph, which these weights no longer match). Returns the folder
    as an absolute path (``./pretrained`` as a
    Path is ``pretrained``, which ``load`` reads as the shipped weights).
    """
    from safetensors.torch import save

    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r} is not one of {sorted(DTYPES)}")
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name={name!r} must be a plain file stem")
    named = str(out_dir)  # as given: "./pretrained" is a folder wherever a model is read
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    refuse_file_for_folder(run_dir, "a pre-training run")
    if names_shipped_weights(named):
        raise ValueError(f"--out {out_dir}: '{PRETRAINED}' names the shipped weights wherever a "
                         "model is read (load, --model, --init), so a folder of that name would "
                         "never be read; give the export another name")
    if out_dir.resolve() == run_dir.resolve():
        raise ValueError(f"--out {out_dir} is the run folder itself: its config.json would be "
                         "replaced by the model's; export to a folder of its own")
    check_writable_folder(out_dir, f"--out {out_dir}")
    refuse_other_kind(out_dir, ("model folder",))
    found = folder_kind(run_dir)
    if not (run_dir / CHECKPOINT_NAME).is_file() and found is None:  # (it had been told "no
        # checkpoint at DIR/last.pt", a folder of records or a stopped k-fold run alike)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"{run_dir}: no such folder (a pre-training run to export)")
        stopped = (run_dir / ".folds").is_dir()  # tasks.pipeline.FOLDS_DIR
        raise FileNotFoundError(
            f"{run_dir} is no pre-training run (no {CHECKPOINT_NAME})" + (
                ": it holds a stopped cross-validation run (finetune --kfold), which keeps no "
                "model" if stopped else ""))
    if not (run_dir / CHECKPOINT_NAME).is_file() and found is not None:
        raise FileNotFoundError(
            f"{run_dir} holds a pre-training run without a checkpoint yet (no "
            f"{CHECKPOINT_NAME}: it stopped before its first)" if found[0] == "pre-training run"
            else f"{run_dir} is no pre-training run (no {CHECKPOINT_NAME}){held_there(run_dir)}")
    ckpt = load_checkpoint(run_dir / CHECKPOINT_NAME, ("step", "teacher", "config", "model_config"))
    # the decoder's spectrum, from the run's settings where a checkpoint made before the
    # network recorded it holds none (a power run had exported as a magnitude one)
    mcfg = QualityFMConfig.from_dict({"amplitude": ckpt["config"].get("amplitude", "magnitude"),
                                      **ckpt["model_config"]})
    model = QualityFM(mcfg)
    model.load_state_dict(ckpt["teacher"])  # checks the checkpoint against its config
    mcfg = dataclasses.replace(mcfg, attention="auto")  # kernels are interchangeable
    if not include_head and (mcfg.head != "none" or mcfg.feature_targets):
        mcfg = dataclasses.replace(mcfg, head="none", feature_targets=0)
        headless = QualityFM(mcfg)
        headless.load_state_dict({k: v for k, v in model.state_dict().items()
                                  if not k.startswith(("head.", "feature_head."))})
        model = headless
    tensors = {
        k: (v.to(DTYPES[dtype]) if v.is_floating_point() else v).detach().contiguous().cpu()
        for k, v in model.state_dict().items()
    }
    for k, t in tensors.items():  # load() refuses such a file: say so now, not on another machine
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(
                f"{run_dir}: tensor {k!r} holds {int((~torch.isfinite(t)).sum())} NaN or "
                f"infinite values in {dtype}" + (f" (finite in the checkpoint: values beyond "
                f"{dtype}'s range; export as bfloat16 or float32)" if torch.isfinite(
                    model.state_dict()[k]).all() else ""))
    weights_name, config_name = _file_names(name)
    for target in (weights_name, config_name, card_name):  # before the work's writes
        _refuse_foreign(out_dir / target)
    config_json = json.dumps({"format": FORMAT, "model": mcfg.to_dict()}, indent=2) + "\n"
    readout = model.feature_head  # counted nowhere, though in the file (64,638 of 11.3 M)
    card = _card(ckpt, mcfg, run_dir, model.num_params(), dtype, notes,
                 model.num_params(head=True) - model.num_params(),
                 sum(p.numel() for p in readout.parameters()) if readout is not None else 0)
    weights = _sorted_header(save(tensors, metadata={
        "format": FORMAT, "config": json.dumps(mcfg.to_dict()), "dtype": dtype,
        "step": str(ckpt["step"]), "sha256": tensors_digest(tensors)}))
    atomic_write_all({out_dir / weights_name: lambda f: f.write(weights),
                      out_dir / config_name: lambda f: f.write(config_json.encode()),
                      out_dir / card_name: lambda f: f.write(card.encode())},
                     remove=[out_dir / r for r in remove])  # with the renames: a stop
    # between them and a later unlink had left an earlier export's graph beside these weights
    return out_dir.absolute()  # (export --onnx had graphed the shipped weights beside these)


def _refuse_foreign(path: Path) -> None:
    """Refuse (ValueError) to replace a file, not empty, that no export wrote (a user's
    ``README.md`` or ``config.json`` in the folder given had been replaced without a word):
    weights of this format, a config JSON of it, a card of ours."""
    if not path.is_file() or not path.stat().st_size:
        return
    try:
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError, safe_open

            try:
                with safe_open(str(path), "pt") as f:
                    ours = (f.metadata() or {}).get("format") == FORMAT
            except SafetensorError:
                ours = False
        elif path.suffix == ".json":
            ours = json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
        else:
            with path.open(encoding="utf-8", errors="replace") as f:
                ours = f.readline().startswith("# QualityFM pre-trained model")
    except (OSError, ValueError, AttributeError, RuntimeError):  # no JSON object, no weights
        ours = False
    if not ours:
        raise ValueError(f"--out {path.parent}: {path.name} exists and is no qualityfm "
                         "export's; export to a folder of its own, or move the file away")


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of tensors by name: each one's name, dtype, shape and bytes, in name order (a
    model folder keeps it in its weights' metadata, and :func:`load` checks it)."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _sorted_header(data: bytes) -> bytes:
    """A safetensors file with its JSON header's keys sorted: safetensors writes the metadata
    in an order that varies from process to process, and an export should be the same bytes
    each time. The tensors' offsets count from the data's start, so they stand."""
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":"))
    header += " " * (-len(header) % 8)  # the format pads its header to 8 bytes with spaces
    return len(header).to_bytes(8, "little") + header.encode() + data[8 + n:]


def _read_config(path: Path) -> QualityFMConfig:
    data = read_json(path, "model config")
    if data.get("format") != FORMAT or "model" not in data:
        raise ValueError(f"{path}: not a qualityfm model config (format must be {FORMAT!r})")
    try:
        return QualityFMConfig.from_dict(data["model"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: invalid model config: {err}") from err


def pretrained_config(name: str = DEFAULT_PRETRAINED) -> QualityFMConfig:
    """The architecture of the shipped weights ``name`` (FileNotFoundError when none ship)."""
    return saved_config(f"{PRETRAINED}:{name}")


def saved_config(path: str | Path) -> QualityFMConfig:
    """The config of the exported model ``path`` (as :func:`load` names it), without loading
    its weights; refused as :func:`load` refuses a folder that holds no model."""
    return _read_config(_checked_files(path)[1])


def _checked_files(path: str | Path) -> tuple[Path, Path]:
    """:func:`model_files` of ``path``, both present: a pre-training run (not exported) or a
    folder without a model is a FileNotFoundError that says so."""
    weights, cfg_path = model_files(path)
    if not weights.parent.exists():  # a typo: "pretrianed/model.safetensors: missing" had
        # said neither that the folder is not there nor what names the shipped weights
        raise FileNotFoundError(f"{path}: no such model folder (an exported model folder, or "
                                f"{PRETRAINED} for the shipped weights)")
    if (weights.parent / CHECKPOINT_NAME).is_file() and not weights.is_file():
        raise FileNotFoundError(f"{weights.parent} is a pre-training run, not a model: export it "
                                f"first (qualityfm export {weights.parent} --out MODEL)")
    if (weights.parent / "finetune.json").is_file() and not weights.is_file():
        raise FileNotFoundError(f"{weights.parent} is a fine-tuned task model, not an encoder: "
                                "qualityfm evaluate and predict read it (in Python, "
                                "qualityfm.tasks.load_estimator)")
    for f in (weights, cfg_path):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: missing (expected an exported qualityfm model "
                                    f"folder{held_there(f.parent)})")
    return weights, cfg_path


def names_shipped_weights(text: str) -> bool:
    """Whether ``text`` names the weights shipped with qualityfm: "pretrained" or
    "pretrained:NAME" (never a folder of that name; "./pretrained" is one, but
    ``str(Path("./pretrained"))`` is "pretrained")."""
    return text == PRETRAINED or text.startswith(PRETRAINED + ":")


def model_files(path: str | Path) -> tuple[Path, Path]:
    """(weights file, config file) of ``path``: "pretrained" / "pretrained:NAME", a
    ``.safetensors`` file, or a folder holding model.safetensors or a single NAME.safetensors
    (TypeError for what is no path: None had raised pathlib's own)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"a model is a folder or file path, or 'pretrained', got "
                        f"{type(path).__name__}")
    text = str(path)
    if names_shipped_weights(text):
        if Path(text).exists():
            warn_at_caller(f"{text!r} means the weights shipped with qualityfm, not the "
                           f"{Path(text).resolve()} here; give './{text}' for that one (a "
                           f"str: Path('./{text}') is '{text}' too) or its whole path",
                           UserWarning)
        name = text.partition(":")[2] or DEFAULT_PRETRAINED
        folder = weights_dir()
        weights = folder / _file_names(name)[0]
        if not weights.is_file():
            shipped = sorted(p.stem for p in folder.glob("*.safetensors"))
            raise FileNotFoundError(
                f"{weights}: no pretrained weights {name!r} shipped with this installation "
                f"(shipped: {shipped or 'none'}); pre-train and export a model "
                "(qualityfm pretrain, qualityfm export) and load its folder instead"
            )
        return weights, folder / _file_names(name)[1]
    path = Path(path)
    if path.suffix == ".safetensors":
        return path, path.parent / _file_names(path.stem)[1]
    refuse_file_for_folder(path, "a model (or its .safetensors file)")
    if not (path / WEIGHTS_NAME).exists():
        found = sorted(path.glob("*.safetensors")) if path.is_dir() else []
        if len(found) > 1:
            raise ValueError(
                f"{path}: holds several models {[p.name for p in found]}; pass one file"
            )
        if found:
            return found[0], path / _file_names(found[0].stem)[1]
    return path / WEIGHTS_NAME, path / CONFIG_NAME


def load(path: str | Path, device: str | torch.device = "cpu") -> QualityFM:
    """Load an exported model in float32 and eval mode, checked.

    ``path``: "pretrained" (the shipped ``base`` weights) or "pretrained:NAME", a model folder
    (model.safetensors + config.json, or one NAME.safetensors + NAME.json), or a
    ``.safetensors`` file (its config beside it). Tensors stored in float16/bfloat16 are
    upcast to float32. Refuses, with a message naming the file and the field or tensor, a
    config whose fields disagree with the weights' embedded config, and missing, extra,
    mis-shaped or non-finite tensors, tensors of another kind of dtype, and tensors that do
    not match the digest an export wrote beside them. The attention kernel is not checked:
    kernels are interchangeable.
    """
    from safetensors import SafetensorError, safe_open

    weights, cfg_path = _checked_files(path)
    mcfg = _read_config(cfg_path)
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights}: corrupt or unreadable safetensors file ({err})") from err
    if meta.get("format") != FORMAT or "config" not in meta:
        raise ValueError(f"{weights}: not a qualityfm model (no {FORMAT!r} metadata)")
    try:
        saved = json.loads(meta["config"])
    except json.JSONDecodeError as err:
        raise ValueError(f"{weights}: corrupt config in its safetensors header ({err})") from err
    if not isinstance(saved, dict):
        raise ValueError(f"{weights}: corrupt config in its safetensors header (not an object)")
    # a field the file predates takes its default (a new field's default keeps the old maths)
    embedded = json.loads(json.dumps({**QualityFMConfig().to_dict(), **saved}))
    ours = json.loads(json.dumps(mcfg.to_dict()))
    for key in sorted((set(embedded) | set(ours)) - {"attention"}):
        if embedded.get(key) != ours.get(key):
            raise ValueError(
                f"{cfg_path}: field {key!r} = {ours.get(key)!r} does not match the weights in "
                f"{weights} ({embedded.get(key)!r})"
            )
    model = QualityFM(mcfg)
    expected = model.state_dict()
    # weights saved before the decoder's mix existed: its load hook gives them the copy they had
    older = ({"decoder.mix.weight", "decoder.mix.bias"} if "decoder.amp.0.weight" in tensors
             else set())
    missing = sorted(set(expected) - set(tensors) - older)
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{weights}: tensors missing {missing[:5]} / unexpected {extra[:5]}")
    if "sha256" in meta and tensors_digest(tensors) != meta["sha256"]:  # (exports before
        # session 41 and the shipped weights keep none) a flipped bit had loaded silently
        raise ValueError(f"{weights}: its tensors do not match the digest written with them "
                         "(the file is damaged): export the model again")
    for name, t in tensors.items():
        if t.is_floating_point() != expected[name].is_floating_point():  # a damaged header's
            # dtype: float bits had been read as integers, a weight of 1e9
            raise ValueError(f"{weights}: tensor {name!r} is stored as {t.dtype}, the model's "
                             f"is {expected[name].dtype}: the file is damaged")
        if t.shape != expected[name].shape:
            raise ValueError(
                f"{weights}: tensor {name!r} has shape {tuple(t.shape)}, the config in "
                f"{cfg_path} needs {tuple(expected[name].shape)}"
            )
        if t.is_floating_point() and not torch.isfinite(t).all():  # every output NaN else
            raise ValueError(f"{weights}: tensor {name!r} holds "
                             f"{int((~torch.isfinite(t)).sum())} NaN or infinite values")
    model.load_state_dict(
        {k: t.float() if t.is_floating_point() else t for k, t in tensors.items()}
    )
    return model.to(resolve_device(device)).eval()
