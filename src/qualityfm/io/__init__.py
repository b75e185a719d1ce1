"""Readers: every supported file format into one :class:`Record`."""

from qualityfm.io.channels import MODEL_CHANNELS, canonical_channel, canonical_names, is_ecg
from qualityfm.io.read import find_records, read_record
from qualityfm.io.record import Record, RecordError
from qualityfm.io.write import write_wfdb

__all__ = [
    "MODEL_CHANNELS",
    "Record",
    "RecordError",
    "canonical_channel",
    "canonical_names",
    "find_records",
    "is_ecg",
    "read_record",
    "write_wfdb",
]
