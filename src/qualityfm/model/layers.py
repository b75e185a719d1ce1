"""Building blocks: conv tokeniser, sinusoidal positions, post-LN block, trunk, heads."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qualityfm.model.attention import WindowedAttention
from qualityfm.model.config import (
    RESIDUAL_BLOCK,
    RESIDUAL_ENTRY,
    RESIDUAL_EXIT,
    QualityFMConfig,
)


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> Tensor:
    """Fixed sine/cosine positional encoding [length, dim] (Vaswani et al.)."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim)
    )
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class StridedConv1d(nn.Conv1d):
    """``nn.Conv1d`` (same parameters) computed by one of two exact rewrites, faster on CPU.

    Wide-output stages (``out_channels >= 128``) unfold the input and run one GEMM; narrow
    ones use the polyphase form: the stride-``s`` kernel of length ``k`` becomes a stride-1
    kernel of length ``ceil(k / s)`` over ``C_in * s`` phase channels. Forward and backward of
    the six stem stages of ``base`` take 1.4x less time in bf16 (up to 5x for one stage;
    benchmarks/tokeniser_conv.py). ONNX export traces the plain convolution.
    """

    gemm_min_out: int = 128

    def forward(self, x: Tensor) -> Tensor:
        plain = self.dilation[0] != 1 or self.groups != 1 or self.padding_mode != "zeros"
        if plain or torch.onnx.is_in_onnx_export():  # ONNX runtimes bring their own conv
            return super().forward(x)
        if self.out_channels >= self.gemm_min_out:
            return self._gemm(x)
        return self._polyphase(x)

    def _gemm(self, x: Tensor) -> Tensor:
        (k,), (s,), (p,) = self.kernel_size, self.stride, self.padding
        cols = F.pad(x, (p, p)).unfold(2, k, s)  # [B, C_in, L, k]
        bsz, _, length, _ = cols.shape
        cols = cols.transpose(1, 2).reshape(bsz * length, -1)
        y = F.linear(cols, self.weight.flatten(1), self.bias)
        return y.view(bsz, length, self.out_channels).transpose(1, 2)

    def _polyphase(self, x: Tensor) -> Tensor:
        (k,), (s,), (p,) = self.kernel_size, self.stride, self.padding
        if s == 1:
            return super().forward(x)
        bsz, c_in, t = x.shape
        taps = -(-k // s)  # ceil(k / s)
        length = (t + 2 * p - k) // s + 1
        total = (length - 1 + taps) * s  # padded input length the phases need
        xp = F.pad(x, (p, total - t - p))
        phases = xp.view(bsz, c_in, total // s, s).transpose(2, 3).reshape(bsz, c_in * s, -1)
        w = F.pad(self.weight, (0, taps * s - k))
        w = w.view(self.out_channels, c_in, taps, s).transpose(2, 3).reshape(
            self.out_channels, c_in * s, taps
        )
        return F.conv1d(phases, w, self.bias)


class ConvStem(nn.Sequential):
    """Conv1d -> GroupNorm(1 group) -> GELU stages: [B, C_in, T] -> [B, d, L]."""

    def __init__(self, in_channels: int, cfg: QualityFMConfig) -> None:
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out, k, s in zip(cfg.stem_widths, cfg.stem_kernels, cfg.stem_strides, strict=True):
            layers += [
                StridedConv1d(c_in, c_out, k, stride=s, padding=k // 2, bias=cfg.bias),
                group_norm(c_out),
                nn.GELU(),
            ]
            c_in = c_out
        super().__init__(*layers)


def group_norm(channels: int) -> nn.Module:
    """GroupNorm with one group: normalises each sample over channels and time."""
    return nn.GroupNorm(1, channels)


class ResidualBlock(nn.Module):
    """Two ``kernel``-wide convs (the first strided) with norms, plus a 1x1 shortcut where the
    shape changes; ReLU after the sum. ``norm(channels)`` makes each norm layer."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int = 7,
                 norm: Callable[[int], nn.Module] = group_norm) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, stride, pad, bias=False), norm(c_out), nn.ReLU(),
            nn.Conv1d(c_out, c_out, kernel, 1, pad, bias=False), norm(c_out),
        )
        self.skip = (
            nn.Identity() if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), norm(c_out))
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.body(x) + self.skip(x)).relu()


def entry_conv(c_in: int, c_out: int, norm: Callable[[int], nn.Module] = group_norm
               ) -> list[nn.Module]:
    """The entry of a residual tokeniser: a wide strided conv (``RESIDUAL_ENTRY``), a norm,
    ReLU."""
    k, s = RESIDUAL_ENTRY
    return [nn.Conv1d(c_in, c_out, k, s, k // 2, bias=False), norm(c_out), nn.ReLU()]


class ResidualStem(nn.Sequential):
    """A small 1-D ResNet tokeniser with GroupNorm: entry conv (stride 4) -> residual blocks
    (stride 2 each) -> conv (stride 8) -> GroupNorm -> GELU: [B, C_in, T] -> [B, d, L].

    Its fine early stages see single beats at 75-37 Hz before the tokens are cut; from
    scratch on AF it ranked better than the conv stem (docs/results.md, session 6)."""

    def __init__(self, in_channels: int, cfg: QualityFMConfig) -> None:
        widths = cfg.residual_widths
        (kb, sb), (k1, s1) = RESIDUAL_BLOCK, RESIDUAL_EXIT
        layers = entry_conv(in_channels, widths[0])
        pairs = zip(widths[:-1], widths[1:], strict=True)
        layers += [ResidualBlock(c_in, c_out, sb, kb) for c_in, c_out in pairs]
        layers += [
            StridedConv1d(widths[-1], cfg.d_model, k1, stride=s1, padding=k1 // 2, bias=cfg.bias),
            group_norm(cfg.d_model),
            nn.GELU(),
        ]
        super().__init__(*layers)


class Block(nn.Module):
    """Post-LN transformer block: x = LN(x + Drop(Attn(x))); x = LN(x + Drop(FFN(x)))."""

    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.attn = WindowedAttention(
            d, cfg.n_heads, cfg.window, cfg.global_tokens, cfg.attention, bias=cfg.bias
        )
        self.ln1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(
            nn.Linear(d, cfg.d_ff, bias=cfg.bias), nn.GELU(), nn.Linear(cfg.d_ff, d, bias=cfg.bias)
        )
        self.ln2 = nn.LayerNorm(d)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.ln1(x + self.drop(self.attn(x)))
        return self.ln2(x + self.drop(self.ffn(x)))


class Trunk(nn.Module):
    """Stem -> + sinusoidal positions (+ optional per-sample offset) -> blocks -> Linear(d, d).

    ``stem`` overrides ``cfg.stem`` (the decoder reads tokens with the conv stem always)."""

    def __init__(self, in_channels: int, cfg: QualityFMConfig, stem: str | None = None) -> None:
        super().__init__()
        make = ResidualStem if (stem or cfg.stem) == "residual" else ConvStem
        self.stem = make(in_channels, cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)

    #: Both stems end in token conv, norm, activation: these layers turn its maps into tokens.
    TOKEN_LAYERS = 3

    @property
    def map_channels(self) -> int:
        """Channels of the stem's last feature maps (the input of its token conv)."""
        return int(self.stem[-self.TOKEN_LAYERS].in_channels)

    @property
    def token_span(self) -> int:
        """Frames of those maps per token (the token conv's stride)."""
        return int(self.stem[-self.TOKEN_LAYERS].stride[0])

    def forward(self, x: Tensor, offset: Tensor | None = None,
                stem_maps: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """x: [B, C_in, T] -> [B, L, d]; ``offset`` [B, d] is added to every token.
        ``stem_maps``: also return the stem's feature maps before its :attr:`TOKEN_LAYERS`
        [B, map_channels, T']."""
        maps = h = x
        for i, layer in enumerate(self.stem):  # the stem, keeping the maps its token layers read
            if i == len(self.stem) - self.TOKEN_LAYERS:
                maps = h
            h = layer(h)
        # contiguous: F.linear on strided [B, L, d] tokens would copy its weight per sample
        h = h.transpose(1, 2).contiguous()
        h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device).to(h.dtype)
        if offset is not None:
            h = h + offset[:, None, :]
        for block in self.blocks:
            h = block(h)
        return (self.out(h), maps) if stem_maps else self.out(h)


class SpectrumHead(nn.Sequential):
    """Linear -> Tanh -> Linear, d -> d -> n_bins, applied per channel."""

    def __init__(self, cfg: QualityFMConfig) -> None:
        d = cfg.d_model
        super().__init__(
            nn.Linear(d, d, bias=cfg.bias), nn.Tanh(), nn.Linear(d, cfg.n_bins, bias=cfg.bias)
        )


class DINOHead(nn.Module):
    """MLP d -> hidden -> bottleneck, L2-normalise, weight-normalised linear to K prototypes.

    The prototype layer has its norm fixed at 1 (DINO's ``norm_last_layer``): logits are
    cosine similarities between the bottleneck vector and each prototype direction.
    """

    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.head_hidden),
            nn.GELU(),
            nn.Linear(cfg.head_hidden, cfg.head_bottleneck),
        )
        self.prototypes = nn.Linear(cfg.head_bottleneck, cfg.head_prototypes, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: [..., d] -> [..., K]."""
        z = F.normalize(self.mlp(x), dim=-1)
        return F.linear(z, F.normalize(self.prototypes.weight, dim=-1))
