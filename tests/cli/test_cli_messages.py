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


def test_a_verb_shows_warnings_as_its_other_messages(tmp_path, capsys, monkeypatch) -> None:
    """A warning had shown as Python's ``FILE:LINE: UserWarning: ...`` with a line of the
    console script (or ``<frozen runpy>``); a verb says ``qualityfm VERB: warning: ...``."""
    import sys
    import warnings

    import qualityfm.cli.info as info

    def run(args) -> int:
        warnings.warn("the store is old", UserWarning, stacklevel=2)
        warnings.warn("going away", DeprecationWarning, stacklevel=2)
        return 0

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    monkeypatch.setattr(info, "run", run)
    monkeypatch.setattr(warnings, "showwarning", show)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["info", str(tmp_path)]) == 0
        assert capsys.readouterr().err.splitlines() == [
            "qualityfm info: warning: the store is old",
            "qualityfm info: warning (DeprecationWarning): going away"]
        warnings.warn("outside a verb", UserWarning, stacklevel=1)  # Python's own format
        assert "UserWarning: outside a verb" in capsys.readouterr().err
