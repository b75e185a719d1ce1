"""The progress bar of long jobs stays readable when stderr is a log file."""

from __future__ import annotations

import time

from qualityfm._progress import LOG_INTERVAL, progress_bar


def test_progress_bar_into_a_file_redraws_rarely(capsys):
    bar = progress_bar(200, unit="step")
    for _ in range(200):  # about 1 s: tqdm's default would redraw about ten times
        time.sleep(0.005)
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert LOG_INTERVAL >= 10
    assert "200/200" in err  # the final state is written
    lines = err.splitlines()  # each draw on a line of its own (they had piled up in one)
    assert "\r" not in err and 1 <= len(lines) <= 3, err  # the first draw and the last
