"""The three attention kernels agree with the dense masked reference, forward and backward."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qualityfm.model.attention import (
    DENSE_MAX_TOKENS,
    WindowedAttention,
    dense_attention,
    flex_attention,
    local_attention,
    resolve_kernel,
    window_mask,
)

CASES = st.tuples(
    st.integers(1, 70),  # length
    st.integers(0, 20),  # window
    st.lists(st.integers(0, 80), max_size=4),  # global positions (some beyond the length)
    st.integers(1, 3),  # heads
    st.integers(0, 2**31 - 1),  # seed
)


def _qkv(length: int, heads: int, seed: int, grad: bool = True) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, heads, length, 8, generator=g).requires_grad_(grad) for _ in range(3)]


def test_window_mask_rule() -> None:
    m = window_mask(10, 4, (0, 7))
    for i in range(10):
        for j in range(10):
            assert bool(m[i, j]) == (abs(i - j) <= 2 or i in (0, 7) or j in (0, 7))


@settings(max_examples=60, deadline=None)
@given(CASES)
def test_local_matches_dense_forward_and_backward(case: tuple) -> None:
    length, window, gl, heads, seed = case
    q, k, v = _qkv(length, heads, seed)
    ref = dense_attention(q, k, v, window, gl)
    out = local_attention(q, k, v, window, gl)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    grad_out = torch.randn_like(ref)
    g_ref = torch.autograd.grad(ref, (q, k, v), grad_out)
    g_out = torch.autograd.grad(out, (q, k, v), grad_out)
    for a, b in zip(g_out, g_ref, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=15, deadline=None)
@given(CASES)
def test_flex_matches_dense_forward(case: tuple) -> None:
    length, window, gl, heads, seed = case
    q, k, v = _qkv(length, heads, seed, grad=False)
    torch.testing.assert_close(
        flex_attention(q, k, v, window, gl), dense_attention(q, k, v, window, gl),
        atol=1e-5, rtol=1e-5,
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_flex_backward_matches_dense() -> None:
    if not torch.cuda.is_available():
        pytest.skip("FlexAttention has no backward on CPU in this torch version; needs CUDA")
    for length, window, gl in [(18, 8, (0,)), (300, 8, (0, 150)), (1000, 33, ())]:
        q, k, v = (t.cuda().detach().requires_grad_() for t in _qkv(length, 4, length))
        ref = dense_attention(q, k, v, window, gl)
        out = flex_attention(q, k, v, window, gl)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        go = torch.randn_like(ref)
        for a, b in zip(
            torch.autograd.grad(out, (q, k, v), go), torch.autograd.grad(ref, (q, k, v), go),
            strict=True,
        ):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_module_kernels_interchangeable() -> None:
    torch.manual_seed(0)
    dense = WindowedAttention(32, 4, window=6, global_tokens=(0, 9), kernel="dense")
    local = WindowedAttention(32, 4, window=6, global_tokens=(0, 9), kernel="local")
    local.load_state_dict(dense.state_dict())
    x = torch.randn(3, 40, 32)
    torch.testing.assert_close(local(x), dense(x), atol=1e-5, rtol=1e-5)
    # parameters of nn.MultiheadAttention with biases: 4 d^2 + 4 d
    assert sum(p.numel() for p in dense.parameters()) == 4 * 32 * 32 + 4 * 32


def test_attention_is_local() -> None:
    """Changing a far-away, non-global token leaves a token's output unchanged."""
    att = WindowedAttention(16, 2, window=4, global_tokens=(0,), kernel="local")
    x = torch.randn(1, 50, 16)
    y = x.clone()
    y[0, 40] += 5.0
    a, b = att(x), att(y)
    torch.testing.assert_close(a[0, 10:30], b[0, 10:30])
    assert not torch.allclose(a[0, 0], b[0, 0])  # the global token sees everything
    assert not torch.allclose(a[0, 38], b[0, 38])


def test_kernel_choice_and_bad_settings() -> None:
    assert resolve_kernel("auto") == "local"
    assert resolve_kernel("auto", DENSE_MAX_TOKENS) == "dense"
    assert resolve_kernel("auto", DENSE_MAX_TOKENS + 1) == "local"
    assert resolve_kernel("local", 18) == "local"  # explicit stays explicit
    assert resolve_kernel("flex", 10_000) == "flex"
    with pytest.raises(ValueError, match="kernel"):
        WindowedAttention(16, 2, kernel="sparse")
    with pytest.raises(ValueError, match="divisible"):
        WindowedAttention(10, 3)
    with pytest.raises(ValueError, match="global"):
        WindowedAttention(16, 2, global_tokens=(-1,))


def test_local_low_precision_is_finite() -> None:
    """Padded query rows use a finite mask value, so bfloat16 gives no NaN (forward, backward)."""
    q, k, v = (t.detach().bfloat16().requires_grad_() for t in _qkv(13, 2, 7))
    out = local_attention(q, k, v, 6, ())  # 13 tokens in blocks of 3: two padded rows
    ref = dense_attention(q.float(), k.float(), v.float(), 6, ())
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)
    out.float().sum().backward()
    assert all(torch.isfinite(t.grad.float()).all() for t in (q, k, v))


@pytest.mark.parametrize("kernel", ["dense", "local"])
def test_masks_built_under_inference_mode_serve_training(kernel: str) -> None:
    """Masks are built once per length and device; one first built by inference (embed, score
    run under inference mode) must still serve a training pass."""
    att = WindowedAttention(16, 2, window=4, global_tokens=(0, 5), kernel=kernel)
    x = torch.randn(2, 23, 16)
    with torch.inference_mode():
        first = att(x)
    out = att(x.requires_grad_())
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.testing.assert_close(out.detach(), first)


def test_a_window_past_the_input_costs_the_input_not_the_window() -> None:
    """Blocks of half the window over 6 tokens had asked for a 60 GB score tensor at a
    window of 100000; they are capped at the input, the outputs those of the dense kernel."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 8, dtype=torch.float64) for _ in range(3))
    got = local_attention(q, k, v, 100_000, (0,))
    want = dense_attention(q, k, v, 100_000, (0,))
    torch.testing.assert_close(got, want)
