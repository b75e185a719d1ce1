"""Pre-training throughput (pairs/s) of a preset on this machine, vs the original, and MFU.

Ours: the engine's pieces (default recipe: windowed attention, dense at 30-s windows of 18 tokens
by the `auto` kernel choice; DINO head, feature read-out, fused
AdamW, one foreach EMA call), with data read from a store prepared from real records (built
here when no store is given). Reference, measured in the same run: the original's maths built
from stock torch.nn modules (Conv1d stem, dense-masked nn.TransformerEncoderLayer, fp32, paper
objective with the decoder run for the teacher too, unfused Adam, a Python loop over parameters
for the EMA) on random tensors.

On CUDA it also prints model FLOPs utilisation: the FLOPs of one training step (teacher
forward, student forward, loss, backward), counted by ``torch.utils.flop_counter``, times
steps/s, over the GPU's dense bf16 peak (``--peak-tflops``; 989 for H100/H200 SXM by default).
The reference is the original's ``base`` network, so it runs for ``--preset base`` only.

    .venv/bin/python benchmarks/pretrain_throughput.py [--store STORE] [--amp fp32|bf16|both]
    python benchmarks/pretrain_throughput.py --device cuda --preset large --batch-size 256
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from qualityfm.cli.argtypes import int_at_least, positive_int
from qualityfm.model import QualityFM, QualityFMConfig
from qualityfm.model.attention import window_mask
from qualityfm.model.layers import sinusoidal_positions
from qualityfm.train import PretrainConfig, ema_update
from qualityfm.train.ema import ema_tensors
from qualityfm.train.engine import (
    DistEnv,
    Objective,
    autocast,
    build_optimizer,
    check_store_pairs,
    loader_workers,
    make_dataset,
    make_loader,
    model_config,
    store_feature_targets,
    teacher_forward,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "physionet2015_icu"


def build_store(n_records: int) -> str:
    from qualityfm.data import prepare

    records = sorted(glob.glob(str(DATA / "*.hea")))[:n_records]
    if not records:
        raise SystemExit(f"no records under {DATA}; pass --store")
    out = Path(tempfile.mkdtemp(prefix="qfm_bench_store_"))
    prepare(records, out, progress=False)
    return str(out)


def _tick(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def ours(recipe: str, store: str, batch: int, steps: int, warm: int, amp: str, compile_: bool,
         workers: int, device: torch.device, preset: str = "base", stem: str = "conv"
         ) -> tuple[float, dict[str, float], float]:
    """Pairs/s, mean seconds per step by phase, and FLOPs of one step."""
    cfg = PretrainConfig.for_recipe(recipe, store=store, batch_size=batch, amp_dtype=amp,
                                    compile=compile_, workers=workers, preset=preset,
                                    stem=stem)
    env = DistEnv(0, 1, 0, device)
    targets = store_feature_targets(store, env) if cfg.feature_weight > 0 else None
    torch.manual_seed(0)
    mcfg = model_config(cfg, 0 if targets is None else targets.width)
    student = QualityFM(mcfg).to(device).train()
    teacher = QualityFM(mcfg).to(device).requires_grad_(False).eval()
    teacher.load_state_dict(student.state_dict())
    objective = Objective(cfg, mcfg).to(device)
    opt = build_optimizer(student, cfg, 1e-4)
    s_t, t_t = ema_tensors(student), ema_tensors(teacher)
    f_s = torch.compile(student) if compile_ else student
    f_t = torch.compile(teacher_forward) if compile_ else teacher_forward
    loader = make_loader(make_dataset(cfg, env, batch, targets), loader_workers(workers, device))
    it = iter(loader)
    phases: dict[str, float] = defaultdict(float)
    b = {k: v.to(device) for k, v in next(it).items()}
    with FlopCounterMode(display=False) as counter, autocast(cfg, device):
        with torch.no_grad():
            t_out = teacher_forward(teacher, b["hi"], b["hi_mask"])
        objective(student(b["lo"], b["lo_mask"]), t_out, b)["loss"].backward()
    opt.zero_grad(set_to_none=True)
    flops = float(counter.get_total_flops())
    t_start = 0.0
    for step in range(warm + steps):
        if step == warm:
            phases.clear()
            t_start = _tick(device)
        t0 = _tick(device)
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            b = next(it)
        b = {k: v.to(device) for k, v in b.items()}
        t1 = _tick(device)
        with autocast(cfg, device):
            with torch.no_grad():
                t_out = f_t(teacher, b["hi"], b["hi_mask"])
            t2 = _tick(device)
            s_out = f_s(b["lo"], b["lo_mask"])
            terms = objective(s_out, t_out, b)
        t3 = _tick(device)
        terms["loss"].backward()
        t4 = _tick(device)
        torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t5 = _tick(device)
        ema_update(t_t, s_t, 0.996)
        t6 = _tick(device)
        for name, a, z in (("data", t0, t1), ("teacher fwd", t1, t2),
                           ("student fwd + loss", t2, t3), ("backward", t3, t4),
                           ("optimizer", t4, t5), ("ema", t5, t6)):
            phases[name] += z - a
    total = _tick(device) - t_start
    return batch * steps / total, {k: v / steps for k, v in phases.items()}, flops


class _StockTrunk(nn.Module):
    """The original's network shape from stock ``torch.nn`` modules: Conv1d stem, dense-masked
    ``nn.TransformerEncoderLayer`` blocks (post-LN, MultiheadAttention with biases), Linear."""

    def __init__(self, c_in: int, cfg: QualityFMConfig) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        for c_out, k, s in zip(cfg.stem_widths, cfg.stem_kernels, cfg.stem_strides, strict=True):
            stages += [nn.Conv1d(c_in, c_out, k, s, k // 2), nn.GroupNorm(1, c_out), nn.GELU()]
            c_in = c_out
        self.stem = nn.Sequential(*stages)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                       activation="gelu", batch_first=True)
            for _ in range(cfg.n_layers)
        )
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x).permute(0, 2, 1)
        h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device)
        blocked = ~window_mask(h.shape[1], self.cfg.window, self.cfg.global_tokens, h.device)
        for block in self.blocks:
            h = block(h, src_mask=blocked)
        return self.out(h)


class _StockQualityFM(nn.Module):
    """Encoder + decoder + amplitude/phase heads as in the original (9,576,714 parameters)."""

    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        self.encoder = _StockTrunk(cfg.in_channels, cfg)
        self.decoder = _StockTrunk(cfg.n_tokens(cfg.n_samples), cfg)
        d = cfg.d_model
        self.amp, self.phase = (
            nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, cfg.n_bins)) for _ in range(2)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        tokens = self.encoder(x)
        h = self.decoder(tokens)
        return {"tokens": tokens, "amp": self.amp(h), "phase": self.phase(h)}


def reference(batch: int, steps: int, warm: int, device: torch.device) -> float:
    """The original's maths with stock torch.nn modules on random tensors: dense masked
    attention, fp32, the decoder run for the teacher too, unfused Adam, looped EMA."""
    cfg = PretrainConfig.for_recipe("paper", attention="dense", batch_size=batch)
    torch.manual_seed(0)
    mcfg = model_config(cfg)
    student = _StockQualityFM(mcfg).to(device).train()
    n_params = sum(p.numel() for p in student.parameters())
    if n_params != 9_576_714:
        raise SystemExit(f"reference model has {n_params:,} parameters, the original 9,576,714")
    teacher = _StockQualityFM(mcfg).to(device).requires_grad_(False)
    teacher.load_state_dict(student.state_dict())
    objective = Objective(cfg, mcfg).to(device)
    opt = torch.optim.Adam(student.parameters(), lr=1e-4, weight_decay=0.04, foreach=False)
    n = mcfg.n_samples
    t_start = 0.0
    for step in range(warm + steps):
        if step == warm:
            t_start = _tick(device)
        b = {"hi": torch.randn(batch, 2, n, device=device),
             "lo": torch.randn(batch, 2, n, device=device),
             "hi_mask": torch.ones(batch, 2, dtype=torch.bool, device=device),
             "lo_mask": torch.ones(batch, 2, dtype=torch.bool, device=device)}
        with torch.no_grad():
            t_out = teacher(b["hi"])
        s_out = student(b["lo"])
        objective(s_out, t_out, b)["loss"].backward()
        opt.step()
        opt.zero_grad()
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), student.parameters(), strict=True):
                pt.data.mul_(0.996).add_((1 - 0.996) * ps.data)
    return batch * steps / (_tick(device) - t_start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="prepared store (default: build one from real records)")
    ap.add_argument("--records", type=positive_int, default=8,
                    help="real records the built store holds (without --store; default 8)")
    ap.add_argument("--batch-size", type=positive_int, default=32,
                    help="pairs per step (default 32)")
    ap.add_argument("--steps", type=positive_int, default=10, help="timed steps (default 10)")
    ap.add_argument("--warmup", type=int_at_least(0), default=3,
                    help="untimed steps before them (default 3)")
    ap.add_argument("--amp", choices=("fp32", "bf16", "both"), default="both",
                    help="precision to measure (default both)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--recipes", nargs="+", choices=("paper", "default"),
                    default=["paper", "default"],
                    help="pair recipes to measure (default paper default)")
    ap.add_argument("--workers", type=int_at_least(-1), default=-1,
                    help="-1: the engine's auto choice")
    ap.add_argument("--threads", type=positive_int, default=min(2, os.cpu_count() or 1),
                    help="torch threads on CPU (default 2)")
    ap.add_argument("--preset", default="base", choices=("base", "middle", "large"),
                    help="model preset (default base)")
    ap.add_argument("--stems", nargs="+", choices=("conv", "residual"), default=["residual"],
                    help="tokenisers to measure (QualityFMConfig.stem; default: residual, "
                    "pretrain's; the table of session 2 measured conv)")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the device's dense bf16 peak for MFU (default: 989 on H100/H200)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    auto = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(auto if args.device == "auto" else args.device)
    store = args.store or build_store(args.records)
    try:
        run(args, store, device)
    finally:
        if not args.store:
            shutil.rmtree(store, ignore_errors=True)


def peak_flops(device: torch.device, given_tflops: float | None) -> float | None:
    """Dense bf16 peak FLOP/s of ``device``: given, or the H100/H200 SXM figure (989 TFLOP/s)."""
    if given_tflops is not None:
        return given_tflops * 1e12
    if device.type == "cuda" and any(n in torch.cuda.get_device_name(device)
                                     for n in ("H100", "H200")):
        return 989e12
    return None


def run(args: argparse.Namespace, store: str, device: torch.device) -> None:
    try:  # as pretrain does: a bare StopIteration had said it
        check_store_pairs(store, args.batch_size)
    except ValueError as exc:
        raise SystemExit(f"pretrain_throughput: {exc}") from None
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, preset {args.preset}, batch {args.batch_size}, "
          f"{args.steps} timed steps after {args.warmup}, loader workers "
          f"{loader_workers(args.workers, device)}, store {store}")
    ref = None
    if args.preset == "base":
        ref = reference(args.batch_size, args.steps, args.warmup, device)
        print(f"reference (original maths, random tensors): {ref:7.1f} pairs/s")
    peak = peak_flops(device, args.peak_tflops)
    runs = [(recipe, stem, amp) for recipe in args.recipes for stem in args.stems
            for amp in (("fp32", "bf16") if args.amp == "both" else (args.amp,))]
    for recipe, stem, amp in runs:
        rate, phases, flops = ours(recipe, store, args.batch_size, args.steps, args.warmup, amp,
                                   args.compile, args.workers, device, args.preset, stem)
        vs = f" = {rate / ref:.2f}x the reference" if ref else ""
        achieved = flops / args.batch_size * rate
        model_s = sum(v for k, v in phases.items() if k != "data")
        mfu = (f", MFU {100 * achieved / peak:.1f} % (model phases alone, data excluded: "
               f"{100 * flops / model_s / peak:.1f} %)") if peak else ""
        print(f"ours ({recipe} recipe, {stem} stem, {amp}{', compiled' if args.compile else ''}, "
              f"data from store): {rate:7.1f} pairs/s{vs}; {flops / 1e9:.1f} GFLOP per step, "
              f"{achieved / 1e12:.1f} TFLOP/s{mfu}")
        step_ms = sum(phases.values()) * 1e3
        for name, sec in phases.items():
            print(f"    {name:<20s} {sec * 1e3:8.1f} ms  {100 * sec * 1e3 / step_ms:5.1f} %")

if __name__ == "__main__":
    main()
