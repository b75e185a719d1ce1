"""``qualityfm pretrain``: self-distillation pre-training on a prepared store.

Every setting of ``PretrainConfig`` is a flag (``--teacher-temp 0.05``, ``--no-head``); flags
given override the recipe's values. Under ``torchrun`` each process runs this same command.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import shlex
import signal
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

from qualityfm.cli.argtypes import (
    UsageError,
    fraction_below_one,
    int_at_least,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed_int,
)
from qualityfm.io.atomic import read_json

_SPECIAL = {"store", "out", "recipe", "model_overrides", "betas", "command"}
#: Checked argparse types of the numeric settings by their lower bound (PretrainConfig checks
#: the upper ones); ``workers`` (-1: auto) stays a plain int.
_ARG_TYPES: dict[str, Callable[[str], int | float]] = {
    **dict.fromkeys(("window", "steps", "batch_size", "grad_accum", "log_every",
                     "diag_batch", "ckpt_every"), positive_int),
    "prototypes": int_at_least(2),  # a softmax over one output is constant: no distillation
    **dict.fromkeys(("warmup", "teacher_temp_warmup", "diag_every"), nonnegative_int),
    "seed": seed_int,
    **dict.fromkeys(("student_temp", "teacher_temp", "teacher_temp_end", "lr"),
                    positive_float),
    **dict.fromkeys(("aligned_fraction", "modality_drop", "min_lr", "weight_decay",
                     "weight_decay_end", "grad_clip", "momentum", "momentum_end",
                     "centre_momentum", "distill_weight", "amp_weight", "phase_weight",
                     "koleo_weight", "variance_weight", "feature_weight"), nonnegative_float),
}
#: What a flag does, where its name does not say it; "default: ..." is added to each.
_HELP = {
    "lr": "peak learning rate per 256 pairs: the rate used is LR x batch-size / 256",
    "min_lr": "final learning rate per 256 pairs: the rate used is MIN_LR x batch-size / 256",
    "workers": "DataLoader workers; -1: auto (CUDA: up to 8, CPU: none)",
    "aligned_fraction": "share of aligned (synthetic) pairs mixed with the natural ones",
    "modality_drop": "probability to hide one channel of the student's input where it "
                     "holds both (a one-channel window keeps its channel)",
    "augment": "augment each pair member on its own (noise, scale, per-channel offset, a "
               "zeroed span)",
    "stem": "tokeniser: residual or conv (the original's)",
    "preset": "model size: base, middle or large (qualityfm presets)",
    "attention": "attention kernel: auto, dense, local or flex",
    "window": "local attention window, in tokens",
    "batch_size": "pairs per optimizer step, over all ranks and micro-steps",
    "optimizer": "adamw (decoupled decay) or adam (the original's, L2 decay)",
    "grad_clip": "gradient norm clip; 0 disables it",
    "distill_mode": "token, pooled or mixed (pooled on natural pairs, token on aligned ones)",
    "head": "DINO projection head to PROTOTYPES outputs",
    "amplitude": "spectral amplitude target: magnitude or power",
    "phase": "spectral phase target: wrapped (cos/sin) or plain",
    "feature_weight": "weight of the classical-feature read-out from the student's embedding; "
                      "0 turns it off",
    "device": "auto, cpu or cuda",
    "amp_dtype": "auto (bf16 on GPU, fp32 on CPU), bf16 or fp32",
    "fsdp": "shard with FSDP instead of DDP (for the large preset)",
    "compile": "torch.compile the model",
    "progress": "progress bar on stderr",
    "tensorboard": "TensorBoard event files in OUT/tb",
}


def _default_text(name: str, default: object) -> str:
    """``default: X``, with each recipe's value where the recipes differ."""
    from qualityfm.train.config import RECIPES

    shown = {"default": default, **{r: v[name] for r, v in RECIPES.items() if name in v}}
    if all(v == default for v in shown.values()):
        return f"default: {default}"
    return "default: the recipe's (" + ", ".join(f"{r} {v}" for r, v in shown.items()) + ")"


def register(sub: argparse._SubParsersAction) -> None:
    from qualityfm.train.config import CHOICES, RECIPES, PretrainConfig

    p = sub.add_parser("pretrain", help="pre-train a QualityFM model on a prepared store",
                       description=(__doc__ or "").replace("``", ""),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="store folder made by `qualityfm prepare`")
    p.add_argument("--out", required=True, help="run folder (checkpoints, log.jsonl, summary)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="`default` (anti-collapse) or `paper` (the original's settings)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue exactly from OUT/last.pt; with no checkpoint there yet, "
                       "start the run (so one command serves the first launch and every "
                       "relaunch)")
    again.add_argument("--overwrite", action="store_true",
                       help="start over in an OUT that holds a run (default: refuse)")
    p.add_argument("--stop-after", type=positive_int, default=None,
                   help="stop (with a checkpoint) after this many steps in total")
    p.add_argument("--model-override", action="append", default=[], metavar="KEY=VALUE",
                   help="model config field (a JSON or Python value), e.g. n_layers=1; "
                        "repeatable")
    p.add_argument("--betas", type=fraction_below_one, nargs=2, default=None,
                   help="Adam's two betas, each in [0, 1) (default: 0.9 0.999)")
    hints = typing.get_type_hints(PretrainConfig)
    for f in fields(PretrainConfig):
        if f.name in _SPECIAL:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        default = _default_text(f.name, f.default)
        help_text = f"{_HELP[f.name]} ({default})" if f.name in _HELP else default
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=help_text)
        else:  # a value outside a fixed set is a usage error (exit 2), as other verbs' are
            p.add_argument(flag, type=_ARG_TYPES.get(f.name, kind), default=None, help=help_text,
                           choices=CHOICES.get(f.name))
    p.set_defaults(func=run)


def _saved_config(path: Path) -> dict:
    """A run's saved settings (``config.json``), or an error naming the file."""
    return read_json(path, "settings of a qualityfm pre-training run",
                     "restore the file, or move it away (--resume then takes the settings "
                     "the run's checkpoint holds), or start the run again with --overwrite")


#: Network fields that run settings set (``engine.model_config``), by field: the setting.
_SET_BY_FLAGS = {"attention": "attention", "window": "window", "stem": "stem",
                 "head_prototypes": "prototypes"}


def _refuse_flag_and_override(given: dict, overrides: dict) -> None:
    """Refuse a flag given on the command line whose network field ``overrides`` also set:
    the override would win without a word, config.json keeping the flag's value."""
    for key, flag in _SET_BY_FLAGS.items():
        if key in overrides and flag in given:
            raise ValueError(f"--{flag.replace('_', '-')} {given[flag]} and --model-override "
                             f"{key}={json.dumps(overrides[key])} set the same network field; "
                             "give one")


def _parse_override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--model-override {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        pass
    try:  # Python's spelling (False, None, (0, 1)): had been kept as text, then refused as
        # text by the field's check ("must be true or false, got 'False'"); only what JSON
        # holds (a set or 1j would fail where the run's command is written)
        parsed = ast.literal_eval(value)
        json.dumps(parsed)
        return key, parsed
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return key, value


def run(args: argparse.Namespace) -> int:
    from qualityfm.io.folders import refuse_other_kind
    from qualityfm.train import PretrainConfig, pretrain
    from qualityfm.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
    from qualityfm.train.engine import CONFIG_NAME

    given = {f.name: getattr(args, f.name) for f in fields(PretrainConfig)
             if f.name not in _SPECIAL and getattr(args, f.name) is not None}
    if args.betas is not None:
        given["betas"] = tuple(args.betas)
    if args.model_override:
        given["model_overrides"] = dict(_parse_override(o) for o in args.model_override)
    _refuse_flag_and_override(given, given.get("model_overrides", {}))
    if args.store:
        given["store"] = args.store
    given["out"] = args.out
    refuse_other_kind(args.out, ("pre-training run",))  # before its config.json is read
    saved = Path(args.out) / CONFIG_NAME
    resume = args.resume and (Path(args.out) / CHECKPOINT_NAME).is_file()
    if args.resume and not resume and (Path(args.out) / "summary.json").is_file():
        # a summary is written after a checkpoint: that checkpoint is lost (it had started the
        # run over, its log and summary removed)
        raise ValueError(f"{args.out}: its summary.json records a run, but its checkpoint "
                         f"{CHECKPOINT_NAME} is not there: put it back to resume, or start "
                         "the run over with --overwrite")
    if args.resume and not resume and _rank() == 0 and (args.store or saved.is_file()):
        # (with no store to start from it is refused below: "starting the run" had been
        # said first)
        print(f"qualityfm pretrain: no checkpoint in {args.out} yet: starting the run",
              file=sys.stderr)
    if args.resume and (saved.is_file() or resume):  # resume; or restart a launch killed
        # before its first checkpoint, with its settings (a checkpoint copied alone: its own)
        source = saved if saved.is_file() else Path(args.out) / CHECKPOINT_NAME
        base = _saved_config(saved) if saved.is_file() else load_checkpoint(
            source, ("config",))["config"]
        try:  # first: a field of another type had been a traceback below
            saved_cfg = PretrainConfig.from_dict(base)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: not the settings of a qualityfm pre-training run "
                             f"({err})") from None
        if not args.store and not saved_cfg.store:
            raise ValueError(f"{source}: records no store; resume with --store PATH")
        if not args.store and not Path(saved_cfg.store).is_dir():
            raise ValueError(f"{source}: the run's store {saved_cfg.store} is not there; if "
                             "it moved, resume with --store NEWPATH")
        if args.recipe and args.recipe != saved_cfg.recipe:
            raise ValueError(f"{source}: run used recipe {saved_cfg.recipe!r}, not "
                             f"{args.recipe!r}")
        now = {**given, **({"store": str(Path(args.store).resolve())} if args.store else {})}
        changed = [k for k, v in now.items() if k not in ("out", "command")
                   and json.loads(json.dumps(v)) != base.get(k)]
        if changed and base.get("command"):  # the record shows how the run got here
            given["command"] = f"{base['command']} && {_command(args, given)} --resume"
        saved_overrides = base.get("model_overrides") or {}
        if "attention" in given and "attention" in saved_overrides:
            # the kernel may change on resume: --attention replaces the run's override of it
            # (a run started with --model-override attention=... had refused both ways out)
            saved_overrides = {k: v for k, v in saved_overrides.items() if k != "attention"}
            base = {**base, "model_overrides": saved_overrides}
        if "model_overrides" in given:  # added to the run's (they had replaced them all)
            given["model_overrides"] = {**saved_overrides, **given["model_overrides"]}
        # a flag given now against the run's own overrides (an override given now that
        # differs from the run's is refused by pretrain: another network)
        _refuse_flag_and_override(given, {**(base.get("model_overrides") or {}),
                                          **given.get("model_overrides", {})})
        with _flag_errors(given):  # an error here is a flag's
            cfg = PretrainConfig.from_dict({**base, **given})
    else:
        if not args.store:
            raise UsageError(f"{args.out}: no checkpoint to resume, and no --store to start the "
                             "run" if args.resume else
                             "--store is required (a folder made by `qualityfm prepare`)")
        given["command"] = _command(args, given)
        with _flag_errors(given):
            cfg = PretrainConfig.for_recipe(args.recipe or "default", **given)
    summary = pretrain(cfg, resume=resume, stop_after=args.stop_after,
                       overwrite=args.overwrite or args.resume)
    stopped = summary.get("stopped_by")  # checkpoint written; the shell's code for the signal
    if summary["world_size"] == 1 or _rank() == 0:
        print(json.dumps({k: v for k, v in summary.items() if k != "losses"}))
        if stopped and summary["done"]:  # the signal came as its last step ran: no work lost
            print(f"qualityfm pretrain: {stopped} came during the last step "
                  f"({summary['step']}); the run is complete", file=sys.stderr)
        elif stopped:  # said as the other verbs say it
            print(f"qualityfm pretrain: interrupted ({stopped}) after step {summary['step']}, "
                  f"its checkpoint written: --resume continues", file=sys.stderr)
    # a finished run succeeds (a scheduler had requeued it as preempted)
    return 128 + int(getattr(signal.Signals, stopped)) if stopped and not summary["done"] else 0


@contextlib.contextmanager
def _flag_errors(given: dict) -> Iterator[None]:
    """A setting's refusal by PretrainConfig ("momentum must be in [0, 1], got 1.5") said of
    the flag given for it, a usage error (exit 2, as argparse's: it had named the field)."""
    try:
        yield
    except ValueError as err:
        text = str(err)
        name = next((k for k in sorted(given, key=len, reverse=True)
                     if text.startswith(f"{k} ")), None)
        if name is None or isinstance(err, UsageError):
            raise
        raise UsageError(f"argument --{name.replace('_', '-')}: {text[len(name) + 1:]}"
                         ) from None


def _command(args: argparse.Namespace, given: dict) -> str:
    """The command line equivalent to this run's flags (for the run's record and model card)."""
    words = ["qualityfm", "pretrain"]
    if args.recipe:
        words += ["--recipe", args.recipe]
    first = {k: given[k] for k in ("store", "out") if k in given}
    for key, value in {**first, **given}.items():
        if key == "model_overrides":
            for k, v in value.items():
                words += ["--model-override", f"{k}={json.dumps(v)}"]
        elif key == "betas":
            words += ["--betas", *map(str, value)]
        elif isinstance(value, bool):
            words.append(("--" if value else "--no-") + key.replace("_", "-"))
        else:
            words += ["--" + key.replace("_", "-"), str(value)]
    return shlex.join(words)


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0"))
