"""Export a run's teacher as safetensors + config JSON + model card; load it back, checked."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.train.checkpoint import CHECKPOINT_NAME, load_checkpoint

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
FORMAT = "qualityfm-model"


def _store_summary(store: str) -> dict[str, Any]:
    """Counts of the run's store, when it can still be opened."""
    try:
        from qualityfm.data import Store

        s = Store(store)
        return {"n_records": s.n_records, "n_windows": s.n_windows, "n_pairs": s.n_pairs}
    except (OSError, ValueError, KeyError):
        return {}


def _last_logged(run_dir: Path) -> dict[str, Any]:
    """The first and the last line of the run's JSON-lines log."""
    path = run_dir / "log.jsonl"
    if not path.exists():
        return {}
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    return {"first": lines[0], "last": lines[-1]} if lines else {}


def _card(ckpt: dict[str, Any], mcfg: QualityFMConfig, run_dir: Path, n_params: int) -> str:
    cfg = ckpt["config"]
    store = _store_summary(cfg["store"])
    logged = _last_logged(run_dir)
    keys = ("loss", "distill", "amp", "phase", "koleo", "effective_rank", "mean_cosine",
            "argmax_dims", "pairs_per_s")

    def row(name: str, rec: dict[str, Any]) -> str:
        cells = " | ".join(f"{rec[k]:.4g}" if k in rec else "" for k in keys)
        return f"| {name} (step {rec.get('step', '?')}) | {cells} |"

    lines = [
        "# QualityFM pre-trained model", "",
        "Teacher network of a QualityFM self-distillation run (encoder, spectral decoder"
        f"{', DINO head' if mcfg.head != 'none' else ''}). Load with "
        "`qualityfm.load(path)`; `model.embed(x, mask)` gives one vector per 30-s window "
        "(channels `ppg`, `ecg_ii` at 300 Hz).", "",
        "## Training",
        f"- Command: `{cfg.get('command') or 'qualityfm.train.pretrain(PretrainConfig(...))'}`",
        f"- Recipe: `{cfg['recipe']}`, preset `{cfg['preset']}`, {ckpt['step']} of "
        f"{cfg['steps']} steps, batch {cfg['batch_size']}, seed {cfg['seed']}",
        f"- Data: store `{cfg['store']}`"
        + (f" ({store['n_records']} records, {store['n_windows']} windows, "
           f"{store['n_pairs']} pairs)" if store else ""),
        f"- Parameters: {n_params:,}", "",
    ]
    if logged:
        lines += ["## Figures (from the run's log)", "",
                  "| point | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|",
                  row("first", logged["first"]), row("last", logged["last"]), ""]
    lines += ["## Intended use and limits",
              "Research use on ICU PPG/ECG windows. Not a medical device; not validated for "
              "clinical decisions.", ""]
    return "\n".join(lines)


def export_model(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write ``run_dir``'s teacher to ``out_dir`` (model.safetensors, config.json, README.md)."""
    from safetensors.torch import save_file

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    ckpt = load_checkpoint(run_dir / CHECKPOINT_NAME)
    mcfg = QualityFMConfig.from_dict(ckpt["model_config"])
    model = QualityFM(mcfg)
    model.load_state_dict(ckpt["teacher"])  # checks the checkpoint against its config
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    config_json = json.dumps({"format": FORMAT, "model": mcfg.to_dict()}, indent=2) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        save_file(tensors, str(tmp / WEIGHTS_NAME),
                  metadata={"format": FORMAT, "config": json.dumps(mcfg.to_dict())})
        (tmp / CONFIG_NAME).write_text(config_json)
        (tmp / CARD_NAME).write_text(_card(ckpt, mcfg, run_dir, model.num_params()))
        for name in (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME):  # each file lands atomically
            (tmp / name).replace(out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _read_config(path: Path) -> QualityFMConfig:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: unreadable model config ({err})") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT or "model" not in data:
        raise ValueError(f"{path}: not a qualityfm model config (format must be {FORMAT!r})")
    try:
        return QualityFMConfig.from_dict(data["model"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: invalid model config: {err}") from err


def load(path: str | Path, device: str | torch.device = "cpu") -> QualityFM:
    """Load an exported model folder (or its ``model.safetensors``) in eval mode, checked.

    Refuses, with a message naming the file and the field or tensor, a config whose fields
    disagree with the weights' embedded config, and missing, extra or mis-shaped tensors.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    folder = path.parent if path.suffix == ".safetensors" else path
    weights = path if path.suffix == ".safetensors" else folder / WEIGHTS_NAME
    cfg_path = folder / CONFIG_NAME
    for f in (weights, cfg_path):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: missing (expected an exported qualityfm model folder)")
    mcfg = _read_config(cfg_path)
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{weights}: corrupt or unreadable safetensors file ({err})") from err
    if meta.get("format") != FORMAT or "config" not in meta:
        raise ValueError(f"{weights}: not a qualityfm model (no {FORMAT!r} metadata)")
    embedded = json.loads(meta["config"])
    ours = json.loads(json.dumps(mcfg.to_dict()))
    for key in sorted(set(embedded) | set(ours)):
        if embedded.get(key) != ours.get(key):
            raise ValueError(
                f"{cfg_path}: field {key!r} = {ours.get(key)!r} does not match the weights in "
                f"{weights} ({embedded.get(key)!r})"
            )
    model = QualityFM(mcfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{weights}: tensors missing {missing[:5]} / unexpected {extra[:5]}")
    for name, t in tensors.items():
        if t.shape != expected[name].shape:
            raise ValueError(
                f"{weights}: tensor {name!r} has shape {tuple(t.shape)}, the config in "
                f"{cfg_path} needs {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors)
    return model.to(device).eval()
