"""The UCI cuff-less BP reader (``Part_N.mat``) on small synthetic parts, v5 and v7.3 (HDF5)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from qualityfm.io import (
    RecordError,
    canonical_channel,
    find_records,
    find_uci_bp,
    iter_uci_bp,
    read_uci_bp,
)
from qualityfm.signal import synthesize

FS = 125.0


def uci_matrix(seconds: float, seed: int, sbp: float = 120.0, dbp: float = 80.0) -> np.ndarray:
    """One record as the data set stores it: 3 x N rows PPG, ABP, ECG II at 125 Hz."""
    rec = synthesize(seconds, FS, seed=seed, sbp=sbp, dbp=dbp)
    return np.stack([rec.signals["ppg"], rec.signals["abp"], rec.signals["ecg_ii"]]).astype(
        np.float64)


def write_v5(path: Path, matrices: list[np.ndarray], var: str | None = None) -> Path:
    """A MATLAB v5 file holding a 1 x n cell array named like the file (``Part_1``)."""
    cell = np.empty((1, len(matrices)), dtype=object)
    for i, m in enumerate(matrices):
        cell[0, i] = m
    savemat(path, {var or path.stem: cell})
    return path


def write_v73(path: Path, matrices: list[np.ndarray], var: str | None = None) -> Path:
    """A MATLAB v7.3 file as MATLAB writes one: a 512-byte text user block, the matrices in
    ``#refs#`` stored column-major (3 x N reads back as N x 3) and the cell as references."""
    h5py = pytest.importorskip("h5py", reason="h5py (extra 'uci') reads MATLAB v7.3 files")
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        cell = f.create_dataset(var or path.stem, (len(matrices), 1), dtype=h5py.ref_dtype)
        for i, m in enumerate(matrices):
            ds = refs.create_dataset(f"r{i}", data=np.asarray(m).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
            cell[i, 0] = ds.ref
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    with path.open("r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: synthetic HDF5 schema 1.00 .")
    return path


@pytest.mark.parametrize("writer", [write_v5, write_v73])
def test_uci_part_reads_every_record_in_order(tmp_path, writer) -> None:
    mats = [uci_matrix(12.0, seed=i, sbp=110 + 10 * i) for i in range(3)]
    path = writer(tmp_path / "Part_2.mat", mats)
    recs = read_uci_bp(path)
    assert [r.record_id for r in recs] == ["Part_2_0001", "Part_2_0002", "Part_2_0003"]
    for rec, m in zip(recs, mats, strict=True):
        assert rec.channels == ["ppg", "abp", "ecg_ii"]
        assert rec.fs == {"ppg": FS, "abp": FS, "ecg_ii": FS}
        assert rec.units["abp"] == "mmHg" and rec.patient_id is None
        assert rec.group_id == rec.record_id  # no patient ids in this data set
        np.testing.assert_allclose(rec.signals["abp"], m[1], rtol=1e-6)
        np.testing.assert_allclose(rec.signals["ppg"], m[0], rtol=1e-6)
        np.testing.assert_allclose(rec.signals["ecg_ii"], m[2], rtol=1e-6)
    assert [r.record_id for r in iter_uci_bp(path, limit=2)] == ["Part_2_0001", "Part_2_0002"]


def test_find_uci_bp_sorts_parts_and_leaves_wfdb_signal_files(tmp_path) -> None:
    for k in (10, 2, 1):
        write_v5(tmp_path / f"Part_{k}.mat", [uci_matrix(4.0, seed=k)])
    (tmp_path / "Part_5.mat").write_bytes(b"x" * 200)  # a WFDB signal file beside its header
    (tmp_path / "Part_5.hea").write_text("Part_5 1 125 10\nPart_5.mat 16 1 0 0 0 0 0 II\n")
    (tmp_path / "notes.mat").write_bytes(b"x" * 200)
    assert [p.name for p in find_uci_bp(tmp_path)] == ["Part_1.mat", "Part_2.mat", "Part_10.mat"]
    assert find_uci_bp(tmp_path / "Part_2.mat") == [tmp_path / "Part_2.mat"]
    assert all(p.suffix != ".mat" for p in find_records(tmp_path))  # io's other readers


@pytest.mark.parametrize("writer", [write_v5, write_v73])
def test_uci_bad_files_name_the_file(tmp_path, writer) -> None:
    bad_shape = writer(tmp_path / "Part_1.mat", [uci_matrix(4.0, 0), uci_matrix(4.0, 1)[:2]])
    recs = iter_uci_bp(bad_shape)
    assert next(recs).record_id == "Part_1_0001"
    with pytest.raises(RecordError, match=r"Part_1\.mat: record 2 of Part_1 has shape \(2, 500\)"):
        next(recs)
    bad: list[RecordError] = []  # or passed over, the others still read
    assert [r.record_id for r in iter_uci_bp(bad_shape, bad=bad)] == ["Part_1_0001"]
    assert [str(e) for e in bad] == [f"{bad_shape}: record 2 of Part_1 has shape (2, 500); "
                                     "expected 3 x N (rows PPG, ABP, ECG II)"]
    no_var = writer(tmp_path / "Part_3.mat", [uci_matrix(4.0, 0)], var="data")
    with pytest.raises(RecordError, match=r"Part_3\.mat: no variable 'Part_3'.*'data'"):
        read_uci_bp(no_var)


def test_uci_other_variable_name_and_non_cell(tmp_path) -> None:
    # a renamed file still finds its only Part_N variable
    path = write_v5(tmp_path / "Part_4.mat", [uci_matrix(4.0, 0)], var="Part_1")
    assert read_uci_bp(path)[0].record_id == "Part_1_0001"
    numeric = tmp_path / "Part_6.mat"
    savemat(numeric, {"Part_6": uci_matrix(4.0, 0)})
    with pytest.raises(RecordError, match=r"Part_6\.mat: variable 'Part_6' is not a cell array"):
        read_uci_bp(numeric)
    corrupt = tmp_path / "Part_7.mat"
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    with pytest.raises(RecordError, match=r"Part_7\.mat"):
        read_uci_bp(corrupt)
    with pytest.raises(RecordError, match="no such file"):
        read_uci_bp(tmp_path / "Part_9.mat")


def test_v73_without_h5py_names_the_file_and_the_package(tmp_path, monkeypatch) -> None:
    path = tmp_path / "Part_1.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    with pytest.raises(ImportError, match=r"Part_1\.mat.*h5py.*qualityfm\[uci\]"):
        read_uci_bp(path)


def test_name_table_maps_the_layouts_channel_names() -> None:
    # UCI rows and the MIMIC PERform AF channels (CSV columns PPG, ECG, resp; WFDB names)
    expected = {"PPG": "ppg", "ABP": "abp", "II": "ecg_ii", "ECG": "ecg", "resp": "resp",
                "RESP": "resp", "PLETH": "ppg", "IMP": "resp", "Impedance": "resp"}
    assert {k: canonical_channel(k) for k in expected} == expected
