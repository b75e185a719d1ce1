"""Global tokens at any position, the last one included, attend and are attended by all."""

from __future__ import annotations

from qualityfm.model.attention import window_mask


def test_a_global_token_at_the_last_position_is_global() -> None:
    m = window_mask(6, 2, (5,))
    assert m[5].all() and m[:, 5].all()
    assert not m[0, 3]  # the others keep their window: |i - j| <= 1
