"""QualityFM: encoder, spectral decoder, optional DINO and feature heads; owns its optimizer
groups."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qualityfm._numbers import is_int, shown
from qualityfm.io.channels import MODEL_CHANNELS
from qualityfm.model.config import QualityFMConfig
from qualityfm.model.layers import DINOHead, SpectrumHead, Trunk
from qualityfm.model.precision import float32_default
from qualityfm.signal.nan import check_finite, present_mask, refuse_empty_rows
from qualityfm.signal.normalize import warn_unscaled

#: How an encoder's output becomes one embedding (:func:`pool_encoder`): the mean of its tokens
#: [B, d]; with "last", the last token beside it (for windows whose event sits at the right
#: edge, e.g. an alarm); with "stem", the mean, SD and maximum over time of the stem's last
#: feature maps (the input of its token conv), and with "last" also their mean over the last
#: token's span.
POOLS = ("mean", "mean+last", "mean+stem", "mean+last+stem")


def check_pool(pool: str) -> str:
    """``pool`` if it is one of :data:`POOLS`, else a ValueError naming it."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    return pool


def pool_tokens(tokens: Tensor, pool: str = "mean") -> Tensor:
    """Tokens [B, L, d] pooled by a token-only ``pool`` ("mean" or "mean+last")."""
    if check_pool(pool) == "mean+last":
        return torch.cat([tokens.mean(dim=1), tokens[:, -1]], dim=1)
    if pool != "mean":
        raise ValueError(f"pool {pool!r} reads the stem's maps too; use pool_encoder")
    return tokens.mean(dim=1)


def pool_encoder(encoder: Encoder, x: Tensor, mask: Tensor | None, pool: str = "mean") -> Tensor:
    """The embedding [B, :func:`pooled_dim`] of windows x [B, C, T] pooled by ``pool``."""
    if not len(x):  # (the stem's reshape had failed)
        return x.new_zeros(0, pooled_dim(encoder, pool))
    if "stem" not in check_pool(pool):
        return pool_tokens(encoder(x, mask), pool)
    tokens, maps = encoder(x, mask, stem_maps=True)
    last = "last" in pool
    parts = [tokens.mean(dim=1), *([tokens[:, -1]] if last else []),
             maps.mean(dim=-1), maps.std(dim=-1, correction=0), maps.amax(dim=-1)]
    if last:
        parts.append(maps[..., -encoder.trunk.token_span:].mean(dim=-1))
    return torch.cat(parts, dim=1)


def pooled_dim(encoder: Encoder, pool: str) -> int:
    """The size of :func:`pool_encoder`'s embedding."""
    last = "last" in check_pool(pool)
    dim = encoder.cfg.d_model * (2 if last else 1)
    if "stem" in pool:
        dim += encoder.trunk.map_channels * (4 if last else 3)
    return dim


def mean_over_shifts(fn: Callable[[Tensor], Tensor], x: Tensor, shifts: int = 1,
                     first: Tensor | None = None) -> Tensor:
    """Mean of ``fn`` over ``shifts`` evenly spaced circular shifts of ``x`` [..., T] along
    time, shift 0 first (``first``: ``fn(x)`` when the caller has it already)."""
    if not is_int(shifts) or shifts < 1:  # 0 had given inf, -2 the output's negative half
        raise ValueError(f"shifts must be a whole number >= 1, got {shown(shifts)}")
    t = int(x.shape[-1])  # a constant when traced for ONNX (T is fixed there)
    out = fn(x) if first is None else first
    for j in range(1, shifts):
        out = out + fn(torch.roll(x, round(t * j / shifts), dims=-1))
    return out / shifts


def refuse_no_samples(shape: tuple[int, ...]) -> None:
    """ValueError for windows ``[B, C, T]`` of no sample (the stem's "kernel size can't be
    greater than actual input size" else)."""
    if shape[-1] == 0:
        raise ValueError(f"input holds windows of 0 samples (shape {tuple(shape)})")


def refuse_short_windows(n_samples: int, fs: float) -> None:
    """ValueError for windows of under 1 s at the model's rate ``fs`` (a beat at 60 bpm):
    windows of 2 samples, one token of padding, had given an embedding without a word."""
    if n_samples < fs:
        raise ValueError(f"windows of {n_samples} samples ({n_samples / fs:.4g} s at the "
                         f"model's {fs:g} Hz): it reads windows of 1 s (a beat at 60 bpm) or "
                         "more")


def as_bool_mask(mask: Tensor) -> Tensor:
    """A channel mask as bool: 0/1 numbers are taken (``~`` of a uint8 mask of ones had read
    as 254, every token shifted by the absent embedding that many times); others refused."""
    if mask.dtype == torch.bool:
        return mask
    if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
        seen = "" if mask.is_complex() else f"values {torch.unique(mask.cpu())[:5].tolist()} "
        raise ValueError(f"mask must be bool (or 0/1) [batch, channels]: True = present, got "
                         f"{seen}({mask.dtype})")
    return mask.bool()


class Encoder(nn.Module):
    """Conv (or residual) tokeniser + windowed transformer; absent channels get a learned
    embedding."""

    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = Trunk(cfg.in_channels, cfg)
        self.absent = nn.Embedding(cfg.in_channels, cfg.d_model)
        nn.init.normal_(self.absent.weight, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None = None,
                stem_maps: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """x: [B, C, T], mask: bool [B, C] (True = present) -> tokens [B, L, d]; with
        ``stem_maps`` also the stem's last feature maps (see ``Trunk.forward``)."""
        if mask is None:
            return self.trunk(x, stem_maps=stem_maps)
        mask = as_bool_mask(mask)
        missing = (~mask).to(x.dtype)
        x = torch.where(mask[:, :, None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        return self.trunk(x, offset=missing @ self.absent.weight.to(x.dtype), stem_maps=stem_maps)


def _copy_rows_of_old_weights(decoder: Decoder, state: dict, prefix: str, *args: object) -> None:
    """Weights saved before the decoder's ``mix`` existed pooled its rows to the channels (one
    row copied to every channel): a ``mix`` that does the same, so that they load and predict
    as before."""
    if f"{prefix}mix.weight" not in state and f"{prefix}amp.0.weight" in state:
        state[f"{prefix}mix.weight"] = _pooling(*decoder.mix.weight.shape[::-1])
        state[f"{prefix}mix.bias"] = torch.zeros_like(decoder.mix.bias)


def _pooling(rows: int, channels: int) -> Tensor:
    """``[channels, rows]``: the average pooling of ``rows`` to ``channels`` as a matrix (one
    row copied to every channel where there is one)."""
    eye = torch.eye(rows)[None]  # row i alone, as a signal of length rows
    return F.adaptive_avg_pool1d(eye, channels)[0].T.contiguous()


class Decoder(nn.Module):
    """A trunk of the encoder's shape reading tokens [B, L, d] as L channels over d samples.

    Its stem brings the input to [B, C', d] (C' = ``cfg.decoder_rows``: 2 at d_model=512, = C).
    Where C' differs (another d_model or stem_strides), C' > C rows are average-pooled to C (no
    parameters), and C' < C rows are mapped to C by a learned linear map (``mix``): copying
    one row to every channel would predict the same spectra for each. Two heads predict the
    amplitude and phase spectra of each input channel.
    """

    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_tokens = cfg.n_tokens(cfg.n_samples)
        self.trunk = Trunk(self.n_tokens, cfg, stem="conv")
        self.amp = SpectrumHead(cfg)
        self.phase = SpectrumHead(cfg)
        rows = cfg.decoder_rows
        self.mix: nn.Linear | None = None
        if rows < cfg.in_channels:
            with torch.random.fork_rng(devices=[]):  # drawing nothing: the heads after it
                self.mix = nn.Linear(rows, cfg.in_channels)  # are drawn as before it existed
            with torch.no_grad():  # it starts as the pooling it replaces, and learns from there
                self.mix.weight.copy_(_pooling(rows, cfg.in_channels))
                self.mix.bias.zero_()
            self.register_load_state_dict_pre_hook(_copy_rows_of_old_weights)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """tokens [B, L, d] -> (amp [B, C, n_bins], phase [B, C, n_bins])."""
        if tokens.shape[1] != self.n_tokens:
            raise ValueError(
                f"decoder is built for {self.n_tokens} tokens (windows of n_samples="
                f"{self.cfg.n_samples}), got {tokens.shape[1]}: give it windows of "
                f"{self.cfg.n_samples} samples ({self.cfg.n_samples / self.cfg.fs:g} s at "
                f"{self.cfg.fs:g} Hz, the model's config.fs), or set QualityFMConfig.n_samples "
                "for a model you train"
            )
        if len(tokens) == 0:  # a batch of none: none (the trunk's reshape had failed)
            empty = tokens.new_zeros((0, self.cfg.in_channels, self.cfg.n_bins))
            return empty, empty.clone()
        h = self.trunk(tokens)
        if self.mix is not None:
            h = self.mix(h.transpose(1, 2)).transpose(1, 2)
        elif h.shape[1] != self.cfg.in_channels:
            h = F.adaptive_avg_pool1d(h.transpose(1, 2), self.cfg.in_channels).transpose(1, 2)
        return self.amp(h), self.phase(h)


def decay_split(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(decay, no_decay) of ``module``'s parameters: the weights of its linear and
    convolution layers decay; biases, norms and embeddings do not (AdamW's groups)."""
    decay: dict[int, nn.Parameter] = {}
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            decay[id(m.weight)] = m.weight
    return list(decay.values()), [p for p in module.parameters() if id(p) not in decay]


def _contiguous(a: object, name: str = "x") -> object:
    """A NumPy array as a contiguous one (torch takes no negative strides: a reversed view,
    ``x[:, ::-1]``, had failed), another array-like (a pandas DataFrame, which torch had indexed
    by position: KeyError) as an array first; a tensor or list as it is. An array of no numbers
    (dtype object) is refused, named ``name``."""
    if not isinstance(a, (np.ndarray, Tensor, list, tuple)) and hasattr(a, "__array__"):
        a = np.asarray(a)
    if isinstance(a, np.ndarray) and a.dtype == object:  # (torch's TypeError named no argument)
        raise ValueError(f"{name} must hold numbers, got dtype object")
    return np.ascontiguousarray(a) if isinstance(a, np.ndarray) and a.ndim else a


class QualityFM(nn.Module):
    """The whole network: ``encode``, ``embed`` and ``forward`` (tokens, spectra, projections)."""

    @float32_default()
    def __init__(self, cfg: QualityFMConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.head = DINOHead(cfg) if cfg.head == "dino" else None
        self.feature_head = (nn.Linear(cfg.d_model, cfg.feature_targets)
                             if cfg.feature_targets else None)

    def _inputs(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """``(x, mask)`` checked: arrays become tensors on the model's device, ``x`` takes the
        model's floating dtype (a float64 array from numpy, say), a 0/1 mask becomes bool."""
        weight = next(self.parameters())
        x = torch.as_tensor(_contiguous(x), device=weight.device)
        if x.is_complex() or x.dtype == torch.bool:  # an imaginary part had been dropped
            raise ValueError(f"input must hold real numbers (signal values), got {x.dtype}")
        if x.dtype != weight.dtype:
            x = x.to(weight.dtype)
        c = self.cfg.in_channels
        if x.ndim != 3 or x.shape[1] != c:
            hint = (" (channels last? pass x.transpose(0, 2, 1))" if x.ndim == 3
                    and x.shape[2] == c else "; one window is x[None]" if x.ndim == 2
                    and x.shape[0] == c else "")
            raise ValueError(f"input must be [batch, {c}, samples], got shape "
                             f"{tuple(x.shape)}{hint}")
        if mask is not None:
            mask = torch.as_tensor(_contiguous(mask, "mask"), device=weight.device)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"mask must be [batch, {c}] matching the input "
                                 f"{tuple(x.shape)}, got {tuple(mask.shape)}")
            mask = as_bool_mask(mask)
        return x, mask

    def encode(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x [B, C, T] (tensor or array), mask bool [B, C] or None -> tokens [B, L, d]. With
        ``mask`` None every channel is read as present, a flat one too (unlike :meth:`embed`,
        which then reads a flat channel as absent); NaN in x is not checked here (``embed``
        refuses it)."""
        x, mask = self._inputs(x, mask)
        refuse_no_samples(x.shape)
        if len(x) == 0:
            return x.new_zeros((0, self.cfg.n_tokens(x.shape[-1]), self.cfg.d_model))
        return self.encoder(x, mask)

    def embed(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean-pooled tokens [B, d] of windows ``x`` [B, C, T] (the config's channels, by
        default ppg and ecg_ii, at the config's ``fs``, 300 Hz for the shipped weights, each
        channel scaled into [-1, 1] as ``signal.normalize`` does: values far outside warn; NaN
        or inf in a present channel is refused) with ``mask`` [B, C] (True = present; None: a
        channel is present where it is not flat). Gradients flow and dropout follows the
        module's mode: for inference call ``.eval()`` (``load`` returns an eval-mode model; a
        new ``QualityFM`` is in train mode) and wrap the call in ``torch.no_grad()``."""
        x, mask = self._inputs(x, mask)  # shapes first: a channels-last x is named as such
        refuse_no_samples(x.shape)
        refuse_short_windows(x.shape[-1], float(self.cfg.fs))  # (as embed_windows refuses)
        given = mask is not None
        if mask is None and x.shape[-1]:  # a flat channel (a modality filled with zeros) is
            mask = present_mask(x)  # absent, as in embed_windows
        if mask is not None:
            refuse_empty_rows(mask, given, "the embedding would come from the absent-channel "
                              "embeddings alone; leave them out")
        names = MODEL_CHANNELS if self.cfg.in_channels == 2 else None
        check_finite(x, mask, names)
        warn_unscaled(x, mask, names, self.cfg.normalization)
        return pool_tokens(self.encode(x, mask))

    def forward(self, x: Tensor, mask: Tensor | None = None,
                decode: bool = True) -> dict[str, Tensor]:
        """dict(tokens [B, L, d], amp, phase [B, C, n_bins]; with the DINO head also
        proj [B, K] (pooled) and/or proj_tokens [B, L, K]; with ``feature_targets`` also
        features [B, F], read linearly from the pooled tokens). ``decode=False`` skips the
        decoder (the EMA teacher needs only tokens and projections)."""
        tokens = self.encode(x, mask)
        out = {"tokens": tokens}
        if decode:
            out["amp"], out["phase"] = self.decoder(tokens)
        pooled = tokens.mean(dim=1)
        if self.head is not None:
            if self.cfg.head_on in ("pooled", "both"):
                out["proj"] = self.head(pooled)
            if self.cfg.head_on in ("tokens", "both"):
                out["proj_tokens"] = self.head(tokens)
        if self.feature_head is not None:
            out["features"] = self.feature_head(pooled)
        return out

    def num_params(self, part: str = "total", head: bool = False) -> int:
        """Parameter count of ``total`` (encoder + decoder [+ head]), ``encoder`` or ``decoder``."""
        modules = {"encoder": [self.encoder], "decoder": [self.decoder]}
        extra = [self.head] if head and self.head is not None else []
        modules["total"] = [self.encoder, self.decoder, *extra]
        if part not in modules:
            raise ValueError(f"part must be one of {sorted(modules)}, got {part!r}")
        return sum(p.numel() for m in modules[part] for p in m.parameters())

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(decay, no_decay): matrices and conv kernels decay; biases, norms, embeddings do not."""
        return decay_split(self)

    def configure_optimizer(
        self,
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        fused: bool | None = None,
        kind: str = "adamw",
    ) -> torch.optim.Optimizer:
        """AdamW (``kind="adamw"``, decoupled decay) or the original's Adam (``"adam"``, L2
        decay), with two groups named ``decay`` and ``no_decay`` (trainable parameters only)."""
        optimizers = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}
        if kind not in optimizers:
            raise ValueError(f"optimizer kind must be one of {sorted(optimizers)}, got {kind!r}")
        decay, no_decay = self.param_groups()
        groups = [
            {"params": [p for p in decay if p.requires_grad], "weight_decay": weight_decay,
             "name": "decay"},
            {"params": [p for p in no_decay if p.requires_grad], "weight_decay": 0.0,
             "name": "no_decay"},
        ]
        kwargs = {} if fused is None else {"fused": fused}
        return optimizers[kind](groups, lr=lr, betas=betas, **kwargs)

    @staticmethod
    def set_weight_decay(optimizer: torch.optim.Optimizer, weight_decay: float) -> None:
        """Set the decay of the ``decay`` group (for a weight-decay schedule)."""
        found = False
        for group in optimizer.param_groups:
            if group.get("name") == "decay":
                group["weight_decay"] = weight_decay
                found = True
        if not found:
            raise ValueError("optimizer has no param group named 'decay' (use configure_optimizer)")
