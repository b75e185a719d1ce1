"""Messages that name the real mistake: a folder given as a record, a store that does not
exist, a task model loaded as an encoder, a model saved before it was fitted."""

from __future__ import annotations

import json

import pytest

from qualityfm.cli import main
from qualityfm.io import RecordError, read_record
from qualityfm.tasks import Finetuner
from qualityfm.train import load


def test_messages_name_the_mistake(tmp_path, capsys) -> None:
    with pytest.raises(RecordError, match="a folder, not a record; find_records"):
        read_record(tmp_path)
    assert main(["info", str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'}: no such folder" in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "finetune.json").write_text(json.dumps({"task": "vt-alarm"}))
    with pytest.raises(FileNotFoundError, match="is a fine-tuned task model, not an encoder"):
        load(run)
    with pytest.raises(ValueError, match="not fitted; call fit before save"):
        Finetuner("vt-alarm").save(tmp_path / "m")
