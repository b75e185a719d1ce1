"""Readers: every supported file format into one :class:`Record`."""

from qualityfm.io.atomic import (
    atomic_write,
    atomic_write_all,
    atomic_write_bytes,
    atomic_write_text,
    json_safe,
    json_text,
    read_json,
    remove_temporaries,
    utf8_bytes,
    write_json,
)
from qualityfm.io.channels import (
    ECG_PREFERENCE,
    MODEL_CHANNELS,
    canonical_channel,
    canonical_names,
    ecg_leads,
    is_ecg,
    is_task_channel,
)
from qualityfm.io.read import find_records, read_channels_among, read_record
from qualityfm.io.record import (
    MIN_WAVEFORM_FS,
    UNCALIBRATED,
    MissingChannelError,
    Record,
    RecordError,
)
from qualityfm.io.uci_reader import find_uci_bp, is_uci_bp_file, iter_uci_bp, read_uci_bp
from qualityfm.io.wfdb_reader import LostSegmentsWarning
from qualityfm.io.write import write_wfdb

__all__ = [
    "ECG_PREFERENCE",
    "MODEL_CHANNELS",
    "MIN_WAVEFORM_FS",
    "UNCALIBRATED",
    "atomic_write_all",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "json_safe",
    "read_json",
    "json_text",
    "remove_temporaries",
    "write_json",
    "Record",
    "LostSegmentsWarning",
    "MissingChannelError",
    "RecordError",
    "canonical_channel",
    "canonical_names",
    "find_records",
    "find_uci_bp",
    "ecg_leads",
    "is_ecg",
    "is_task_channel",
    "is_uci_bp_file",
    "iter_uci_bp",
    "read_channels_among",
    "read_record",
    "read_uci_bp",
    "utf8_bytes",
    "write_wfdb",
]
