"""The one typed model configuration and its named presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from qualityfm._numbers import MAX_INT, is_int, is_number
from qualityfm.model.attention import KERNELS

HEADS = ("none", "dino")
STEMS = ("conv", "residual")
HEAD_ON = ("pooled", "tokens", "both")
INT_FIELDS = ("in_channels", "n_samples", "d_model", "n_layers", "n_heads", "d_ff",
              "stem_width", "stem_blocks", "window", "n_bins", "head_hidden",
              "head_bottleneck", "head_prototypes", "feature_targets")
INT_TUPLES = ("stem_kernels", "stem_strides", "stem_channels", "global_tokens")


def conv_out_length(length: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a Conv1d (dilation 1)."""
    return (length + 2 * padding - kernel) // stride + 1


# (kernel, stride) of the residual stem's entry conv, of each block and of its token conv.
RESIDUAL_ENTRY = (15, 4)
RESIDUAL_BLOCK = (7, 2)
RESIDUAL_EXIT = (15, 8)


@dataclass
class QualityFMConfig:
    """Every setting of the network. Defaults are the original ``base`` model (18 tokens)."""

    in_channels: int = 2  # model channels, in the order of qualityfm.io.MODEL_CHANNELS
    n_samples: int = 9000  # window length the decoder is built for (30 s at 300 Hz)
    fs: float = 300.0  # sampling rate (Hz) of the windows it reads: n_samples / fs seconds
    #: how the windows it was pre-trained on were scaled (its store's): score and embed scale
    #: theirs so; the task verbs scale per channel, the original's downstream protocol
    normalization: str = "channel"
    d_model: int = 512
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 256
    dropout: float = 0.1
    bias: bool = True
    # Tokeniser. "conv": the original's Conv1d -> GroupNorm(1) -> GELU stages, set by the three
    # stem_* tuples below (widths default to d/100, d/10, d). "residual": a small 1-D ResNet
    # with GroupNorm (entry conv of stride 4, stem_blocks residual blocks of stride 2 and widths
    # stem_width, 2x, 4x, 8x at most), then a stride-8 conv to d_model: one token per
    # 4 * 2**stem_blocks * 8 samples (512 by default, 18 tokens of 9000).
    stem: str = "conv"
    stem_width: int = 16
    stem_blocks: int = 4
    stem_kernels: tuple[int, ...] = (201, 101, 51)
    stem_strides: tuple[int, ...] = (5, 10, 10)
    stem_channels: tuple[int, ...] | None = None
    # Windowed sparse attention.
    window: int = 8
    global_tokens: tuple[int, ...] = (0,)
    attention: str = "auto"  # auto | dense | local | flex
    # Decoder heads: amplitude and phase spectra, first n_bins rFFT bins of each channel;
    # the amplitude head predicts |X| ("magnitude") or |X|^2 ("power"), z-scored over the bins
    # (pre-training's --amplitude sets it; the learned quality score compares like with like)
    n_bins: int = 512
    amplitude: str = "magnitude"
    # Optional DINO-style projection head (off by default; preset counts exclude it).
    head: str = "none"  # none | dino
    head_on: str = "pooled"  # pooled | tokens | both
    head_hidden: int = 2048
    head_bottleneck: int = 256
    head_prototypes: int = 4096
    # Optional linear read-out of F classical window features from the pooled embedding, a
    # pre-training device like the DINO head (0: none; preset counts exclude it).
    feature_targets: int = 0

    def __post_init__(self) -> None:
        for name in INT_TUPLES:  # JSON round-trips tuples as lists
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        self.validate()
        # Python numbers from here on (a NumPy integer validates, but JSON cannot write it)
        for name in INT_FIELDS:
            setattr(self, name, int(getattr(self, name)))
        for name in INT_TUPLES:
            if getattr(self, name) is not None:
                setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        self.dropout, self.fs = float(self.dropout), float(self.fs)

    def validate(self) -> None:
        """Raise ValueError naming the first setting of the wrong type or out of range."""
        for name in INT_FIELDS:
            value = getattr(self, name)
            if not is_int(value):
                raise ValueError(f"config {name} must be an integer, got {value!r}")
            if abs(value) > MAX_INT:  # (a torch traceback had come of 1e20)
                raise ValueError(f"config {name} must be at most 2**31 - 1, got {value!r}")
        for name in INT_TUPLES:
            value = getattr(self, name)
            if value is None and name == "stem_channels":
                continue
            if not isinstance(value, tuple) or not all(map(is_int, value)):
                # (set after construction, a list of integers had been refused as no list)
                raise ValueError(f"config {name} must be a tuple of integers, got {value!r}")
            if any(abs(v) > MAX_INT for v in value):  # (2**40 had asked for 52 TB)
                raise ValueError(f"config {name} must hold integers of at most 2**31 - 1, got "
                                 f"{value!r}")
        if not is_number(self.dropout, finite=False):
            raise ValueError(f"config dropout must be a number, got {self.dropout!r}")
        if not is_number(self.fs) or not self.fs > 0:
            raise ValueError(f"config fs must be a finite rate in Hz > 0, got {self.fs!r}")
        if self.normalization not in ("channel", "joint", "none"):  # signal.NORMALIZATIONS
            raise ValueError(f"config normalization must be 'channel', 'joint' or 'none', got "
                             f"{self.normalization!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"config bias must be true or false, got {self.bias!r}")
        positive = ("in_channels", "n_samples", "d_model", "n_layers", "n_heads", "d_ff", "n_bins",
                    "head_hidden", "head_bottleneck", "head_prototypes")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"config {name} must be >= 1, got {getattr(self, name)}")
        if self.n_bins < 2:  # the amplitude targets are z-scored over the bins
            raise ValueError(f"config n_bins must be >= 2, got {self.n_bins}")
        if self.amplitude not in ("magnitude", "power"):  # losses.spectral.AMPLITUDES
            raise ValueError(f"config amplitude must be 'magnitude' or 'power', got "
                             f"{self.amplitude!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {self.stem!r}")
        if self.stem_width < 1 or self.stem_blocks < 1:
            raise ValueError(f"stem_width and stem_blocks must be >= 1, got "
                             f"{self.stem_width} and {self.stem_blocks}")
        if len(self.stem_kernels) != len(self.stem_strides) or not self.stem_kernels:
            raise ValueError(
                f"stem_kernels {self.stem_kernels} and stem_strides {self.stem_strides} "
                "must be non-empty and of equal length"
            )
        if any(k < 1 or k % 2 == 0 for k in self.stem_kernels):
            raise ValueError(f"stem_kernels must be odd and >= 1, got {self.stem_kernels}")
        if any(s < 1 for s in self.stem_strides):
            raise ValueError(f"stem_strides must be >= 1, got {self.stem_strides}")
        chans = self.stem_widths
        if len(chans) != len(self.stem_kernels) or min(chans) < 1 or chans[-1] != self.d_model:
            raise ValueError(
                f"stem_channels {chans} must have one width >= 1 per stage, the last = d_model"
            )
        length = self.d_model  # the decoder's conv stem runs over the d_model axis of tokens
        for i, (c, s) in enumerate(zip(chans, self.stem_strides, strict=True)):
            length = (length - 1) // s + 1
            if c * length < 2:
                raise ValueError(
                    f"the decoder's conv stage {i + 1} would normalise one value (width {c} "
                    f"over {length} sample of the d_model={self.d_model} axis), so its spectra "
                    f"would not depend on the tokens: give stem_channels with wider stages, "
                    f"e.g. (4, 8, {self.d_model})")
        if self.window < 0:
            raise ValueError(f"window must be >= 0, got {self.window}")
        if any(g < 0 for g in self.global_tokens):
            raise ValueError(f"global_tokens must be >= 0, got {self.global_tokens}")
        if self.attention not in KERNELS:
            raise ValueError(f"attention must be one of {KERNELS}, got {self.attention!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.head_on not in HEAD_ON:
            raise ValueError(f"head_on must be one of {HEAD_ON}, got {self.head_on!r}")
        if self.feature_targets < 0:
            raise ValueError(f"feature_targets must be >= 0, got {self.feature_targets}")
        if self.n_tokens(self.n_samples) < 1:
            raise ValueError(f"n_samples {self.n_samples} gives no token through the stem")

    @property
    def decoder_rows(self) -> int:
        """Rows C' the decoder's conv stem leaves of the d_model axis of the tokens (2 at d=512)."""
        length = self.d_model
        for s in self.stem_strides:
            length = (length - 1) // s + 1
        return length

    @property
    def stem_widths(self) -> tuple[int, ...]:
        """Output channels of each conv-stem stage (default d/100, d/10, d for three stages)."""
        if self.stem_channels is not None:
            return self.stem_channels
        n = len(self.stem_kernels)
        return tuple(max(1, self.d_model // 10 ** (n - 1 - i)) for i in range(n))

    @property
    def residual_widths(self) -> tuple[int, ...]:
        """Output channels of the residual stem's entry conv and of each of its blocks."""
        w = self.stem_width
        return (w, *(w * 2 ** min(i, 3) for i in range(self.stem_blocks)))

    def stem_convs(self) -> list[tuple[int, int]]:
        """(kernel, stride) of each length-changing conv of the encoder's tokeniser."""
        if self.stem == "residual":
            return [RESIDUAL_ENTRY, *[RESIDUAL_BLOCK] * self.stem_blocks, RESIDUAL_EXIT]
        return list(zip(self.stem_kernels, self.stem_strides, strict=True))

    def n_tokens(self, n_samples: int) -> int:
        """Tokens L the stem makes of ``n_samples`` samples (ceil(T / prod(strides)))."""
        length = n_samples
        for k, s in self.stem_convs():
            length = conv_out_length(length, k, s, k // 2)
        return length

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def check_fields(cls, names: Iterable[str]) -> None:
        """Raise ValueError naming the unknown fields among ``names`` and listing the valid."""
        valid = sorted(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise ValueError(f"unknown QualityFMConfig fields: {unknown}; valid: "
                             f"{', '.join(valid)}")

    @classmethod
    def from_dict(cls, data: dict) -> QualityFMConfig:
        """Build from ``to_dict`` output; unknown keys raise ValueError."""
        cls.check_fields(data)
        return cls(**data)

    @classmethod
    def preset(cls, name: str, **overrides: object) -> QualityFMConfig:
        """A named preset with optional field overrides (unknown fields raise ValueError)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        cls.check_fields(overrides)
        return dataclasses.replace(PRESETS[name], **overrides)


PRESETS: dict[str, QualityFMConfig] = {
    "base": QualityFMConfig(n_layers=2, n_heads=4, d_ff=256),
    "middle": QualityFMConfig(n_layers=21, n_heads=4, d_ff=512),
    "large": QualityFMConfig(n_layers=50, n_heads=8, d_ff=2048),
}
