"""Numeric precision of a forward pass: float32, or bf16 / fp16 autocast on a device."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from qualityfm._caller import warn_at_caller
from qualityfm._numbers import shown

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless module); TypeError
    naming ``qualityfm.load`` for what is no module (a name such as "pretrained" or None had
    raised a raw AttributeError)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a loaded model, got {shown(model, 60)}: load it "
                        "first, e.g. qualityfm.load('pretrained') or qualityfm.load(FOLDER)")
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def resolve_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device``, checked: ValueError for a malformed name or for a
    CUDA device this machine does not have."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: expected e.g. 'cpu', 'cuda' or 'cuda:1'"
                         ) from err
    if dev.type not in ("cpu", "cuda"):  # mps, xpu, meta...: they had failed later, in .to()
        raise ValueError(f"device {str(device)!r}: qualityfm runs on 'cpu' or 'cuda' (e.g. "
                         "'cuda:1')")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} needs a CUDA GPU; none is available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return dev


def check_precision(precision: str, device: torch.device | str | None = None) -> None:
    """Raise ValueError for an unknown precision name, or one ``device`` cannot run.

    fp16 autocast is for CUDA only (CPU autocast runs fp16 slowly and loses range);
    bf16 on CUDA needs a GPU that supports it.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if device is None:
        return
    device = torch.device(device)
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(f"precision 'fp16' needs a CUDA device, the model is on {device}; "
                         "use 'bf16' or 'fp32'")
    if (precision == "bf16" and device.type == "cuda"
            and not torch.cuda.is_bf16_supported()):
        raise ValueError(f"precision 'bf16' is not supported by {device}; use 'fp16' or 'fp32'")
    if (precision == "bf16" and device.type == "cpu" and cpu_bf16_flags() == ()
            and not _onednn_bf16()):
        warn_at_caller("precision 'bf16' on this CPU, which has no bf16 instructions (none of "
                       f"{', '.join(NATIVE_BF16_FLAGS)} in /proc/cpuinfo): emulated, it runs "
                       "about 10 times slower than 'fp32' (docs/benchmarks.md, session 57); "
                       "use fp32 where the run allows (pretrain: --amp-dtype when a run starts)",
                       RuntimeWarning)


def _onednn_bf16() -> bool:
    """Whether torch's oneDNN takes this CPU for one with bf16 kernels (AVX-512 CPUs without
    the bf16 flags among them, whose speed in bf16 is not measured here: not warned of)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # (a torch without the op: the flags decide)
        return False


#: CPU flags of /proc/cpuinfo that compute in bf16 (x86's AVX-512 BF16 and AMX, Arm's BF16).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.cache
def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, ...] | None:
    """The :data:`NATIVE_BF16_FLAGS` the CPU has by ``cpuinfo``: () for none (bf16 autocast
    is then emulated: about 0.1x fp32's rate on an AVX2 EPYC), None where the file cannot be
    read (not Linux: unknown)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    flags = set(re.findall(r"[\w.]+", " ".join(
        line.partition(":")[2] for line in text.splitlines()
        if line.split(":")[0].strip() in ("flags", "Features"))))
    return tuple(f for f in NATIVE_BF16_FLAGS if f in flags)


@contextlib.contextmanager
def float32_default() -> Iterator[None]:
    """Run with float32 as torch's default dtype, the caller's restored after: networks are
    built, and their inputs made, in float32 even where a caller set float64 (their layers had
    been built in float64 and refused the float32 windows). Usable as a decorator."""
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def precision_autocast(precision: str,
                       device: torch.device | str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device`` for "bf16" / "fp16", a no-op for "fp32" (checked)."""
    check_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=_DTYPES[precision])
