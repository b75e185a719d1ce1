"""Windowed sparse self-attention (Longformer style) with three interchangeable kernels.

Token ``i`` attends token ``j`` when ``|i - j| <= window // 2``, or when either is a global
token (global tokens attend to all and are attended by all). Kernels:

- ``dense``: an L x L boolean mask and dense attention; quadratic, the reference for tests.
- ``local``: the sequence is cut into blocks of ``max(1, window // 2)`` tokens; each block
  attends to itself and its two neighbours (which hold every key in its window), plus the
  global tokens; the global tokens' own rows are computed densely (G x L). Time and memory are
  linear in L, forward and backward, on any device.
- ``flex``: ``torch.nn.attention.flex_attention`` with a block mask (compiled on CUDA).
- ``auto``: ``dense`` for sequences of at most ``DENSE_MAX_TOKENS`` tokens (the 18 tokens of a
  30-s window: the L x L mask costs less than the blocks there, 6x faster on CPU), otherwise
  ``local``, on every device: with the default window of 8 it beat ``flex`` on an H100 too
  (forward + backward in float32, 4k tokens 4.2 vs 8.2 ms, 16k 5.3 vs 29.6 ms;
  docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KERNELS = ("auto", "dense", "local", "flex")
DENSE_MAX_TOKENS = 128


_constants: dict[tuple, object] = {}


def _constant(key: tuple, build: Callable[[], object]) -> object:
    """Masks and indices that depend only on the length and the settings, built once per
    device. Rebuilt in every layer, their host-to-GPU copies stall the GPU's queue (each waits
    for the work before it). Built inline under compilation or tracing, where they become
    constants of the graph."""
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return build()
    value = _constants.get(key)
    if value is None:
        with torch.inference_mode(False), torch.no_grad():  # usable by later training passes
            value = build()
        if len(_constants) > 256:
            _constants.clear()
        _constants[key] = value
    return value


def global_index(length: int, global_tokens: Sequence[int], device: torch.device) -> Tensor:
    """Sorted unique global positions that exist in a sequence of ``length`` tokens."""
    for g in global_tokens:
        if int(g) < 0:
            raise ValueError(f"global token positions must be >= 0, got {g}")
    idx = sorted({int(g) for g in global_tokens if int(g) < length})
    return torch.tensor(idx, dtype=torch.long, device=device)


def window_mask(
    length: int,
    window: int,
    global_tokens: Sequence[int] = (0,),
    device: torch.device | None = None,
) -> Tensor:
    """Boolean [L, L] mask, True where query i may attend key j."""
    pos = torch.arange(length, device=device)
    mask = (pos[:, None] - pos[None, :]).abs() <= window // 2
    idx = global_index(length, global_tokens, pos.device)
    mask[idx, :] = True
    mask[:, idx] = True
    return mask


def dense_attention(
    q: Tensor, k: Tensor, v: Tensor, window: int, global_tokens: Sequence[int]
) -> Tensor:
    """Reference kernel: dense masked softmax attention. q, k, v: [B, H, L, Dh]."""
    length = q.shape[-2]
    mask = _constant(("dense", length, window, tuple(global_tokens), str(q.device)),
                     lambda: window_mask(length, window, global_tokens, q.device))
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def _local_layout(length: int, block: int, radius: int, global_tokens: Sequence[int],
                  device: torch.device) -> tuple[Tensor, Tensor]:
    """Global positions and, for each query block, which of its three neighbour blocks' keys
    it may attend locally (global keys are attended separately) [nb, b, 3b]."""
    n_blocks = math.ceil(length / block)
    gidx = global_index(length, global_tokens, device)
    qpos = torch.arange(n_blocks * block, device=device).view(n_blocks, block, 1)
    kpos = (
        torch.arange(n_blocks, device=device).view(n_blocks, 1, 1) * block
        - block
        + torch.arange(3 * block, device=device).view(1, 1, 3 * block)
    )
    is_global = torch.zeros(length + 1, dtype=torch.bool, device=device)
    is_global[gidx] = True
    kclamp = kpos.clamp(0, length)  # index `length` is a non-global sentinel for padding
    allowed = ((qpos - kpos).abs() <= radius) & (kpos >= 0) & (kpos < length) & ~is_global[kclamp]
    return gidx, allowed


def local_attention(
    q: Tensor, k: Tensor, v: Tensor, window: int, global_tokens: Sequence[int]
) -> Tensor:
    """Chunked local attention plus global tokens; memory and time linear in L."""
    bsz, heads, length, dh = q.shape
    scale = dh**-0.5
    radius = window // 2
    block = max(1, min(radius, length))  # a window past the input (scores of 1.5 window^2)
    n_blocks = math.ceil(length / block)
    pad = n_blocks * block - length
    gidx, allowed = _constant(
        ("local", length, window, tuple(global_tokens), str(q.device)),
        lambda: _local_layout(length, block, radius, global_tokens, q.device),
    )

    # Queries in blocks [B, H, nb, b, Dh]; keys/values as three neighbour blocks [.., nb, 3b, Dh].
    qb = F.pad(q, (0, 0, 0, pad)).view(bsz, heads, n_blocks, block, dh)
    kp = F.pad(k, (0, 0, block, pad + block))
    vp = F.pad(v, (0, 0, block, pad + block))
    kb = kp.unfold(2, 3 * block, block).transpose(-1, -2)
    vb = vp.unfold(2, 3 * block, block).transpose(-1, -2)

    scores = torch.einsum("bhnqd,bhnkd->bhnqk", qb, kb) * scale
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)  # finite: no NaN rows
    if gidx.numel():
        kg, vg = k[:, :, gidx], v[:, :, gidx]  # [B, H, G, Dh]
        sg = torch.einsum("bhnqd,bhgd->bhnqg", qb, kg) * scale
        probs = torch.cat([scores, sg], dim=-1).softmax(dim=-1)
        out = torch.einsum("bhnqk,bhnkd->bhnqd", probs[..., : 3 * block], vb)
        out = out + torch.einsum("bhnqg,bhgd->bhnqd", probs[..., 3 * block :], vg)
    else:
        out = torch.einsum("bhnqk,bhnkd->bhnqd", scores.softmax(dim=-1), vb)
    out = out.reshape(bsz, heads, n_blocks * block, dh)[:, :, :length]

    if gidx.numel():  # global queries attend to every key: G x L, linear in L
        sq = (q[:, :, gidx] @ k.transpose(-1, -2)) * scale
        out = out.index_copy(2, gidx, sq.softmax(dim=-1) @ v)
    return out


_compiled_flex = None
FLEX_MIN_HEAD_DIM = 16  # the CUDA FlexAttention kernel's smallest head dimension


def flex_attention(
    q: Tensor, k: Tensor, v: Tensor, window: int, global_tokens: Sequence[int]
) -> Tensor:
    """FlexAttention kernel with a block mask (compiled on CUDA; forward only on CPU).

    On CUDA, heads narrower than ``FLEX_MIN_HEAD_DIM`` are zero-padded to it (zeros change
    neither the scores nor, once cut off, the output); the scale stays that of the real width.
    """
    global _compiled_flex
    from torch.nn.attention.flex_attention import create_block_mask
    from torch.nn.attention.flex_attention import flex_attention as _flex

    length, dh = q.shape[-2], q.shape[-1]

    def build_block_mask() -> object:
        is_global = torch.zeros(length, dtype=torch.bool, device=q.device)
        is_global[global_index(length, global_tokens, q.device)] = True
        radius = window // 2

        def mask_mod(b, h, qi, ki):  # noqa: ANN001 - FlexAttention callback signature
            return ((qi - ki).abs() <= radius) | is_global[qi] | is_global[ki]

        return create_block_mask(mask_mod, None, None, length, length, device=str(q.device))

    block_mask = _constant(("flex", length, window, tuple(global_tokens), str(q.device)),
                           build_block_mask)
    if not q.is_cuda:
        return _flex(q, k, v, block_mask=block_mask)
    if _compiled_flex is None:
        _compiled_flex = torch.compile(_flex, dynamic=False)
    if dh >= FLEX_MIN_HEAD_DIM:
        return _compiled_flex(q, k, v, block_mask=block_mask)
    q, k, v = (F.pad(t, (0, FLEX_MIN_HEAD_DIM - dh)) for t in (q, k, v))
    return _compiled_flex(q, k, v, block_mask=block_mask, scale=dh**-0.5)[..., :dh]


def resolve_kernel(kernel: str, length: int | None = None) -> str:
    """The concrete kernel ``auto`` stands for with ``length`` tokens."""
    if kernel not in KERNELS:
        raise ValueError(f"attention kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel != "auto":
        return kernel
    return "dense" if length is not None and length <= DENSE_MAX_TOKENS else "local"


_KERNEL_FNS = {"dense": dense_attention, "local": local_attention, "flex": flex_attention}


class WindowedAttention(nn.Module):
    """Multi-head windowed self-attention; parameters match nn.MultiheadAttention with biases."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        window: int = 8,
        global_tokens: Sequence[int] = (0,),
        kernel: str = "auto",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        if window < 0:
            raise ValueError(f"window must be >= 0, got {window}")
        resolve_kernel(kernel)  # validate the name early
        self.n_heads = n_heads
        self.window = window
        self.global_tokens = tuple(int(g) for g in global_tokens)
        global_index(0, self.global_tokens, torch.device("cpu"))  # validate positions
        self.kernel = kernel
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, L, d] -> [B, L, d]."""
        bsz, length, d = x.shape
        q, k, v = self.qkv(x).view(bsz, length, 3, self.n_heads, d // self.n_heads).permute(
            2, 0, 3, 1, 4
        )
        fn = _KERNEL_FNS[resolve_kernel(self.kernel, length)]
        out = fn(q, k, v, self.window, self.global_tokens)
        return self.proj(out.transpose(1, 2).reshape(bsz, length, d))

    def extra_repr(self) -> str:
        return (
            f"heads={self.n_heads}, window={self.window}, global={self.global_tokens}, "
            f"kernel={self.kernel}"
        )
