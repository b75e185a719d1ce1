"""Readers: every supported file format into one :class:`Record`."""

from qualityfm.io.channels import MODEL_CHANNELS, canonical_channel, is_ecg
from qualityfm.io.record import Record, RecordError

__all__ = ["MODEL_CHANNELS", "Record", "RecordError", "canonical_channel", "is_ecg"]
