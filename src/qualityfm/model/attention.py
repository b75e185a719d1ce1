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
  ``flex`` on CUDA and ``local`` elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KERNELS = ("auto", "dense", "local", "flex")
DENSE_MAX_TOKENS = 128


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
    mask = window_mask(q.shape[-2], window, global_tokens, q.device)
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def local_attention(
    q: Tensor, k: Tensor, v: Tensor, window: int, global_tokens: Sequence[int]
) -> Tensor:
    """Chunked local attention plus global tokens; memory and time linear in L."""
    bsz, heads, length, dh = q.shape
    scale = dh**-0.5
    radius = window // 2
    block = max(1, radius)
    n_blocks = math.ceil(length / block)
    pad = n_blocks * block - length
    gidx = global_index(length, global_tokens, q.device)

    # Queries in blocks [B, H, nb, b, Dh]; keys/values as three neighbour blocks [.., nb, 3b, Dh].
    qb = F.pad(q, (0, 0, 0, pad)).view(bsz, heads, n_blocks, block, dh)
    kp = F.pad(k, (0, 0, block, pad + block))
    vp = F.pad(v, (0, 0, block, pad + block))
    kb = kp.unfold(2, 3 * block, block).transpose(-1, -2)
    vb = vp.unfold(2, 3 * block, block).transpose(-1, -2)

    qpos = torch.arange(n_blocks * block, device=q.device).view(n_blocks, block, 1)
    kpos = (
        torch.arange(n_blocks, device=q.device).view(n_blocks, 1, 1) * block
        - block
        + torch.arange(3 * block, device=q.device).view(1, 1, 3 * block)
    )
    is_global = torch.zeros(length + 1, dtype=torch.bool, device=q.device)
    is_global[gidx] = True
    kclamp = kpos.clamp(0, length)  # index `length` is a non-global sentinel for padding
    allowed = ((qpos - kpos).abs() <= radius) & (kpos >= 0) & (kpos < length) & ~is_global[kclamp]

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
_block_masks: dict[tuple, object] = {}


def flex_attention(
    q: Tensor, k: Tensor, v: Tensor, window: int, global_tokens: Sequence[int]
) -> Tensor:
    """FlexAttention kernel with a block mask (compiled on CUDA; forward only on CPU)."""
    global _compiled_flex
    from torch.nn.attention.flex_attention import create_block_mask
    from torch.nn.attention.flex_attention import flex_attention as _flex

    length = q.shape[-2]
    key = (length, window, tuple(sorted(set(global_tokens))), str(q.device))
    block_mask = _block_masks.get(key)
    if block_mask is None:
        is_global = torch.zeros(length, dtype=torch.bool, device=q.device)
        is_global[global_index(length, global_tokens, q.device)] = True
        radius = window // 2

        def mask_mod(b, h, qi, ki):  # noqa: ANN001 - FlexAttention callback signature
            return ((qi - ki).abs() <= radius) | is_global[qi] | is_global[ki]

        block_mask = create_block_mask(mask_mod, None, None, length, length, device=str(q.device))
        if len(_block_masks) > 32:
            _block_masks.clear()
        _block_masks[key] = block_mask
    if q.is_cuda:
        if _compiled_flex is None:
            _compiled_flex = torch.compile(_flex, dynamic=False)
        fn = _compiled_flex
    else:
        fn = _flex
    return fn(q, k, v, block_mask=block_mask)


def resolve_kernel(kernel: str, device: torch.device, length: int | None = None) -> str:
    """The concrete kernel ``auto`` stands for on ``device`` for ``length`` tokens."""
    if kernel not in KERNELS:
        raise ValueError(f"attention kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel != "auto":
        return kernel
    if length is not None and length <= DENSE_MAX_TOKENS:
        return "dense"
    return "flex" if device.type == "cuda" else "local"


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
        resolve_kernel(kernel, torch.device("cpu"))  # validate the name early
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
        fn = _KERNEL_FNS[resolve_kernel(self.kernel, x.device, length)]
        out = fn(q, k, v, self.window, self.global_tokens)
        return self.proj(out.transpose(1, 2).reshape(bsz, length, d))

    def extra_repr(self) -> str:
        return (
            f"heads={self.n_heads}, window={self.window}, global={self.global_tokens}, "
            f"kernel={self.kernel}"
        )
