"""The demo runs the whole pipeline on synthetic data and writes a report that shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qualityfm.cli import main


@pytest.mark.slow
def test_demo_writes_a_complete_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out), "--steps", "6", "--epochs", "2"]) == 0
    assert f"report: {out / 'README.md'}" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["store"]["n_records"] == 16 and summary["store"]["n_pairs"] > 0
    assert sum(summary["store"]["levels"].values()) == summary["store"]["n_windows"]
    assert len([lv for lv, n in summary["store"]["levels"].items() if n]) >= 3
    assert summary["pretrain"]["step"] == 6
    assert 0.0 <= summary["vt_alarm_cv"]["auroc"] <= 1.0
    for png in ("quality_levels.png", "training_curves.png", "vt_alarm/cv_roc.png"):
        assert (out / png).stat().st_size > 5000, png
    text = (out / "README.md").read_text()
    assert "AUROC" in text and "quality_levels.png" in text
    assert (out / "model" / "config.json").exists()


def test_help_lists_every_verb(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for verb in ("prepare", "info", "presets", "pretrain", "export", "finetune", "evaluate",
                 "compare", "score", "embed", "demo"):
        assert verb in text
