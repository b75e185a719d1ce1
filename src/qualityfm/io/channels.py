"""Canonical channel names: every reader maps monitor labels onto these."""

from __future__ import annotations

import re

#: The two channels the model reads, in this order.
MODEL_CHANNELS: tuple[str, str] = ("ppg", "ecg_ii")

ECG_LEADS = (
    "ecg_ii", "ecg_i", "ecg_iii", "ecg_avr", "ecg_avl", "ecg_avf",
    "ecg_v", "ecg_v1", "ecg_v2", "ecg_v3", "ecg_v4", "ecg_v5", "ecg_v6", "ecg_mcl", "ecg",
)

_ALIASES: dict[str, str] = {
    # ECG leads
    "ii": "ecg_ii", "ecgii": "ecg_ii", "ecg2": "ecg_ii", "leadii": "ecg_ii", "mlii": "ecg_ii",
    "i": "ecg_i", "ecgi": "ecg_i", "leadi": "ecg_i",
    "iii": "ecg_iii", "ecgiii": "ecg_iii", "leadiii": "ecg_iii",
    "avr": "ecg_avr", "avl": "ecg_avl", "avf": "ecg_avf",
    "ecgavr": "ecg_avr", "ecgavl": "ecg_avl", "ecgavf": "ecg_avf",
    "v": "ecg_v", "ecgv": "ecg_v", "ecgv5": "ecg_v5",
    "v1": "ecg_v1", "v2": "ecg_v2", "v3": "ecg_v3", "v4": "ecg_v4", "v5": "ecg_v5", "v6": "ecg_v6",
    "mcl": "ecg_mcl", "mcl1": "ecg_mcl", "ecgmcl": "ecg_mcl",
    "ecg": "ecg", "ekg": "ecg",
    # Photoplethysmogram
    "pleth": "ppg", "ppg": "ppg", "plethysmogram": "ppg", "spo2wave": "ppg", "plethwave": "ppg",
    "plth": "ppg", "ppgwave": "ppg",
    # Arterial blood pressure
    "abp": "abp", "art": "abp", "ibp": "abp", "ibp1": "abp", "artwave": "abp", "ap": "abp",
    "abpwave": "abp",
    # Others
    "resp": "resp", "respiration": "resp", "imp": "resp", "impedance": "resp",
    "co2": "co2", "cvp": "cvp", "pap": "pap",
}


def _key(name: str) -> str:
    """Lower-case a label and drop separators and a leading device prefix (``SNUADC/ECG_II``)."""
    name = name.strip().split("/")[-1].lower()
    return re.sub(r"[\s_\-.,()]+", "", name)


def canonical_channel(name: str) -> str:
    """Map a monitor label (``II``, ``ECG II``, ``PLETH``, ``ART``...) to its canonical name.

    Unknown labels are returned lower-cased with separators replaced by ``_`` so that they
    survive round trips without colliding with canonical names.
    """
    key = _key(name)
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("ecg") and key[3:] in _ALIASES:
        return _ALIASES[key[3:]]
    if key.startswith("pleth") or key.startswith("ppg"):
        return "ppg"
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_") or "unknown"


def is_ecg(channel: str) -> bool:
    """True for any canonical ECG lead name."""
    return channel in ECG_LEADS


def canonical_names(labels: list[str]) -> list[str]:
    """Canonical names for the channels of one record, in file order, made unique.

    The first channel that maps to a name keeps it; later ones get a suffix
    (``["V", "V"] -> ["ecg_v", "ecg_v_2"]``).
    """
    names: list[str] = []
    seen: set[str] = set()
    for label in labels:
        base = name = canonical_channel(label)
        n = 2
        while name in seen:
            name = f"{base}_{n}"
            n += 1
        seen.add(name)
        names.append(name)
    return names
