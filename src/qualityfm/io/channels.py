"""Canonical channel names: every reader maps monitor labels onto these."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

#: The two channels the model reads, in this order.
MODEL_CHANNELS: tuple[str, str] = ("ppg", "ecg_ii")

ECG_LEADS = (
    "ecg_ii", "ecg_i", "ecg_iii", "ecg_avr", "ecg_avl", "ecg_avf",
    "ecg_v", "ecg_v1", "ecg_v2", "ecg_v3", "ecg_v4", "ecg_v5", "ecg_v6", "ecg_mcl", "ecg",
)

_ALIASES: dict[str, str] = {
    # ECG leads
    "ii": "ecg_ii", "ecgii": "ecg_ii", "leadii": "ecg_ii", "mlii": "ecg_ii",
    "i": "ecg_i", "ecgi": "ecg_i", "leadi": "ecg_i", "mli": "ecg_i",
    "iii": "ecg_iii", "ecgiii": "ecg_iii", "leadiii": "ecg_iii", "mliii": "ecg_iii",
    "avr": "ecg_avr", "avl": "ecg_avl", "avf": "ecg_avf",
    "ecgavr": "ecg_avr", "ecgavl": "ecg_avl", "ecgavf": "ecg_avf",
    "v": "ecg_v", "ecgv": "ecg_v", "ecgv5": "ecg_v5",
    "v1": "ecg_v1", "v2": "ecg_v2", "v3": "ecg_v3", "v4": "ecg_v4", "v5": "ecg_v5", "v6": "ecg_v6",
    "lead1": "ecg_i", "lead2": "ecg_ii", "lead3": "ecg_iii",  # leads by number ("Lead2")
    "mcl": "ecg_mcl", "mcl1": "ecg_mcl", "ecgmcl": "ecg_mcl",
    "ecg": "ecg", "ekg": "ecg",
    # Photoplethysmogram
    "pleth": "ppg", "ppg": "ppg", "plethysmogram": "ppg", "spo2wave": "ppg", "plethwave": "ppg",
    "plth": "ppg", "ppgwave": "ppg", "spo2pleth": "ppg", "spo2plethysmogram": "ppg",
    # Arterial blood pressure (ART1, ABP2, IBP2...: a numbered arterial line is still one;
    # femoral and umbilical lines, MIMIC's FAP and UAP, VitalDB's SNUADC/FEM)
    "abp": "abp", "art": "abp", "ibp": "abp", "artwave": "abp", "ap": "abp",
    "abpwave": "abp", "fap": "abp", "uap": "abp", "fem": "abp",
    # Others
    "resp": "resp", "respiration": "resp", "imp": "resp", "impedance": "resp",
    "co2": "co2", "cvp": "cvp", "pap": "pap",
}

#: The canonical names of signals (a label of another, or a number, keeps its own).
_KNOWN = frozenset(_ALIASES.values())

#: Numbered channels of an unnamed lead (MIT-BIH NSR ``ECG1``, ``ECG2``) and of an arterial line.
_NUMBERED = ((re.compile(r"^(ecg|ekg)\d+$"), "ecg"), (re.compile(r"^(art|abp|ibp)\d+$"), "abp"))

#: A label, a separator and a number (``II_1``, ``MLII 2``): a numbered channel of that label.
_SEPARATED_NUMBER = re.compile(r"(.+?)[\s_\-.]+\d+")

#: Words naming a number derived from a waveform (``Pleth HR``, ``PLETH_SPO2``, ``PPG PI``),
#: not the waveform: such a label keeps its own name.
_DERIVED = frozenset((
    "hr", "pr", "rate", "pulserate", "prate", "bpm", "spo2", "sao2", "spo", "so2", "sat", "sats",
    "saturation", "pi", "perf", "perfusion", "perfusionindex", "perfindex", "pvi", "rr",
))


def ascii_text(text: str) -> str:
    """``text`` in ASCII: accents dropped (``Pléth``: ``Pleth``), compatibility forms
    decomposed (``SpO₂``: ``SpO2``), what has no ASCII form left out."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _key(name: str) -> str:
    """Lower-case a label and drop separators and a leading device prefix (``SNUADC/ECG_II``)."""
    return re.sub(r"[\s_\-.,()]+", "", ascii_text(_without_device(name).lower()))


def canonical_channel(name: str) -> str:
    """Map a monitor label (``II``, ``ECG II``, ``PLETH``, ``ART``...) to its canonical name.

    A numbered ECG whose lead is not named (``ECG1``, ``ECG2``, as in the MIT-BIH databases) is
    an unnamed lead, ``ecg`` (``canonical_names`` makes the second ``ecg_2``), which windows
    take for lead II when the record has none, as they take a plain ``ECG``; ``MLII`` and
    ``MLIII`` (modified limb leads) are leads II and III; ``ART1``/``ABP2`` are ``abp``. Labels
    beginning with ``PLETH``/``PPG`` are the PPG unless they name a derived number (``Pleth HR``,
    ``PLETH_SPO2``, ``Solar8000/PLETH_HR``, ``PPG PI``): those, and unknown labels, are returned
    lower-cased with separators replaced by ``_`` so that they survive round trips without
    colliding with canonical names; so does the name :func:`canonical_names` gives a second
    channel of a name, a canonical name written in lower case with ``_2``, ``_3``...
    (``ecg_v_2``, which would read as lead V2; ``ppg_2``), so that it reads back as written
    (``ppg_1``, ``PPG_2``, ``ECG_2`` are a file's own labels: ``ppg``, ``ppg``, ``ecg``). A
    label that names its signal before a comma and describes it after (``ECG, ECG recorded
    using bedside monitor, lead II``, as the MIMIC PERform files have) is the signal named
    first, an ECG the lead its description names.
    """
    if is_numbered_channel(name):  # canonical_names' second of a name: ecg_v_2 is no lead V2
        return _without_device(name)
    return _label_channel(name)


def _without_device(name: str) -> str:
    """A label less its leading device prefix (``SNUADC/ECG_II``: ``ECG_II``), stripped."""
    return name.strip().split("/")[-1].strip()


def is_numbered_channel(name: str) -> bool:
    """Whether ``name`` is the name :func:`canonical_names` gives a second (third...) channel
    of a canonical name: that name in lower case with ``_2``, ``_3``... (``ecg_v_2``)."""
    numbered = re.fullmatch(r"(.+)_([2-9]|[1-9]\d+)", _without_device(name))
    return bool(numbered) and canonical_channel(numbered.group(1)) == numbered.group(1)


#: A label's trailing unit in brackets (``ECG II (mV)``, ``ABP [mmHg]``): a unit of a wave
#: (not a lead, ``ECG (II)``, nor a statistic, ``ABP (mean)``; ``V`` is lead V, not volts).
_UNIT_SUFFIX = re.compile(r"(.+?)\s*[\[(]\s*(v|mv|uv|µv|μv|nv|mmhg|mm hg|torr|cmh2o|kpa|hpa|"
                          r"mbar|nu|au|a\.u\.|adu|%|ohms?|Ω|l/min)\s*[\])]", re.IGNORECASE)


#: A unit after a separator (``II_mV``, ``ABP mmHg``: MATLAB and spreadsheet headers), of the
#: units that name no lead (``ECG_V`` is lead V).
_UNIT_WORD = re.compile(r"(.+?)[\s_-]+(mv|uv|µv|μv|nv|mm[\s_]?hg|torr|cmh2o|kpa|nu|au|adu|ohms?)",
                        re.IGNORECASE)


def unit_word(label: str) -> tuple[str, str] | None:
    """``(name, unit)`` of a label whose unit follows a separator (``ABP_cmH2O``: ``("ABP",
    "cmH2O")``), as brackets give one (``ABP [cmH2O]``), else None: a table's column keeps the
    unit (``ABP_cmH2O`` had been read as mmHg, its targets 36 % high)."""
    match = _UNIT_WORD.fullmatch(label.strip())
    return (match.group(1), match.group(2)) if match else None


def _label_channel(name: str) -> str:
    """:func:`canonical_channel` of a label, numbered names aside."""
    # (II_mV had been a channel of its own, ii_mv: no ECG, its windows scored on the PPG alone)
    with_unit = _UNIT_SUFFIX.fullmatch(name.strip()) or _UNIT_WORD.fullmatch(name.strip())
    if with_unit and with_unit.group(2).lower() == "v" and _key(with_unit.group(1)) in (
            "ecg", "ekg"):  # ECG (V): lead V, not an ECG in volts
        with_unit = None
    if with_unit and not _derived(name, ""):  # the signal named before its unit (it had
        # been ecg_ii_mv); a rate's unit says a number (PLETH (bpm)), not the wave
        channel = _label_channel(with_unit.group(1))
        if channel in _KNOWN:
            return channel
    key = _key(name)
    if key in _ALIASES:
        return _ALIASES[key]
    if key.endswith("wave") and key[:-4] in _ALIASES:  # ECG Wave, II wave as Pleth wave (an
        return _ALIASES[key[:-4]]  # ECG so named had been no ECG at all)
    if key.startswith(("ecg", "ekg")) and key[3:] in _ALIASES:  # ECG II, EKG II, ECG RESP
        return _ALIASES[key[3:]]
    for prefix in ("ecglead", "ekglead", "lead"):  # Lead aVR, ECG lead V5: leads only
        lead = _ALIASES.get(key[len(prefix):]) if key.startswith(prefix) else None
        if lead in ECG_LEADS:
            return lead
    for pattern, channel in _NUMBERED:
        if pattern.match(key):
            return channel
    numbered = _SEPARATED_NUMBER.fullmatch(_without_device(name))
    if numbered and _ALIASES.get(_key(numbered.group(1))) in ECG_LEADS:  # II_1, MLII 2: the
        return _ALIASES[_key(numbered.group(1))]  # lead (they had been unknown, no ECG)
    if key.startswith(("pleth", "ppg")) and not _derived(name, key):
        return "ppg"
    lead = _lead_among_words(name)
    if lead is not None:
        return lead
    described = _described(name)
    if described is not None:
        return described
    plain = ascii_text(name.strip().lower())  # SpO\u2082: spo2
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_") or "unknown"


#: Words beside a lead's name that say no more than that it is one (``II lead``, ``II-ECG``).
_LEAD_NOISE = frozenset(("ecg", "ekg", "lead", "wave"))


def _lead_among_words(name: str) -> str | None:
    """The ECG lead of a label of one lead's name among words that say it is a lead, in any
    order (``II lead``, ``ECG II lead``, ``II-ECG``, ``ECG Wave II``: they had been read as
    channels of their own, no lead II), or None."""
    words = [w for w in re.split(r"[^a-z0-9]+", ascii_text(_without_device(name).lower())) if w]
    named = [w for w in words if w not in _LEAD_NOISE]
    if len(named) != 1 or len(words) == 1:
        return None
    lead = _ALIASES.get(named[0])
    return lead if lead in ECG_LEADS and lead != "ecg" else None


#: A lead named in a label's description ("..., lead II", "lead V5").
_LEAD_WORDS = re.compile(r"\blead\s*(avr|avl|avf|iii|ii|i|v[1-6]?|mcl1?)\b", re.IGNORECASE)


#: Words of a description that name a number taken from a wave (``ABP, Mean``, ``ECG, ST
#: II``), not the wave itself.
_STATISTICS = frozenset(("mean", "avg", "average", "sys", "systolic", "dia", "diastolic",
                         "min", "max", "st", "etco2", "map", "pp", "pulse", "wedge", "pawp",
                         "s", "d", "m", "trend", "trends", "numeric", "numerics"))


def _bracket_words(bracketed: str) -> list[str]:
    """The words of a column's bracket text, lower case, in ASCII (micro signs as ``u``)."""
    text = ascii_text(bracketed.lower().replace("\u00b5", "u").replace("\u03bc", "u"))
    return [w for w in re.split(r"[\s_\-.,()\[\]%/]+", text) if w]


def bracket_lead(label: str, bracketed: str) -> str | None:
    """The ECG lead the text in brackets after an ECG label that names none names first
    (``ECG (II)``, ``ECG (Lead II)``, ``ECG (II, mV)``, ``ECG1 (II lead)``, ``ECG (Lead
    V-5)``: ``ecg_ii``...; ``II (V)`` is volts), or None."""
    if _label_channel(label) != "ecg":
        return None
    words = _bracket_words(bracketed)
    for n in (3, 2, 1):  # the longest lead name first (lead v 5, before lead v)
        lead = _label_channel(" ".join(words[:n])) if len(words) >= n else None
        if lead in ECG_LEADS and lead != "ecg":
            return lead
    return None


def bracket_number(bracketed: str) -> int:
    """How surely the text in brackets after a column's label says the column holds a number
    taken from a wave, or another line's pressure, rather than the wave: 3 another line
    (``IBP (CVP)``), 2 words of numbers and units alone (``SpO2``, ``mean, mmHg``,
    ``1/min``), 1 a number among other words (``SpO2 finger``, ``heart rate``), 0 none, or
    a wave's own description (``SpO2 sensor, a.u.``). The readers name a column by its whole
    label where this is 3, or 2 of a statistic (:func:`bracket_statistic`), or where it is at
    least 1 and another column of its file is the wave (``PLETH (SpO2)`` beside ``PLETH``:
    the number had taken the wave's name, the wave a second one's, ``ppg_2``)."""
    words = _bracket_words(bracketed)
    if any(w in _OTHER_LINES for w in words):
        return 3
    if any(w in _WAVE_WORDS for w in words):
        return 0
    rate = "".join(words) in ("1min", "min", "bpm", "beatsmin", "min1")  # per minute
    if not (rate or any(w in _NUMBER_WORDS for w in words)):
        return 0
    return 2 if all(w in _NUMBER_WORDS or w in _UNIT_WORDS for w in words) else 1


def bracket_statistic(bracketed: str) -> bool:
    """Whether the text in brackets after a column's label names numbers alone
    (:func:`bracket_number` 2) that no wave's label carries: a pressure's or an ECG's
    statistic (``Mean``, ``Sys``, ``HR``, ``mean, mmHg``), unlike ``SpO2``, ``Pulse`` or
    ``min-max``, which may describe a PPG (``PLETH (SpO2)`` alone is the wave)."""
    return (bracket_number(bracketed) == 2
            and not set(_bracket_words(bracketed)) & _WAVE_LABEL_NUMBERS)


#: Numbers' words that a wave's label may carry too (the sensor's, a scaling's).
_WAVE_LABEL_NUMBERS = frozenset(("spo2", "sao2", "spo", "so2", "sat", "sats", "saturation",
                                 "pulse", "min", "max", "trend", "trends"))
#: Words of units beside a number in brackets (``mean, mmHg``, ``HR, 1/min``).
_UNIT_WORDS = frozenset(("1", "mmhg", "mm", "hg", "kpa", "cmh2o", "torr", "bpm", "hz", "min",
                         "s"))
#: Pressures read from an arterial line (``ART (SBP)``).
_BP_NUMBERS = frozenset(("sbp", "dbp", "mbp", "bp", "nibp"))
#: Signals and counts taken from an ECG that are no lead (``ECG (Resp)``, ``ECG (PVC)``).
_OTHER_SIGNALS = frozenset(("resp", "respiration", "impedance", "pvc", "pvcs", "arrhythmia"))
#: Pressure lines other than the arterial one (``IBP2 (CVP)``).
_OTHER_LINES = frozenset(("cvp", "pap", "icp", "lap", "rap", "pcwp", "paw", "cpp"))  # (PA:
# pascals too)
#: Words of a number taken from a wave or another signal's (single letters aside: ``s`` is
#: seconds as often as systolic).
_STATISTIC_WORDS = (_STATISTICS | _BP_NUMBERS) - {"s", "d", "m"}
_NUMBER_WORDS = _DERIVED | _STATISTIC_WORDS | _OTHER_SIGNALS
#: Words describing a wave beside a derived word (``SpO2 sensor, a.u.``): its units, its
#: source.
_WAVE_WORDS = frozenset(("au", "mv", "uv", "nv", "nu", "adu", "sensor", "probe", "wave",
                         "waveform", "signal", "raw"))


def _described(name: str) -> str | None:
    """The channel of a label ``TYPE, description`` (the MIMIC PERform files' style), or
    None: ``TYPE`` by its own canonical name, an unnamed ECG the lead the description names;
    None when the label names a number derived from a wave (``ECG, HR``, ``ABP, Mean``,
    ``ECG, ST II``) or ``TYPE`` is no known signal (it then keeps its own name)."""
    head, comma, rest = name.partition(",")
    # "(trend removed)" describes a wave (PERform's resp), "trend" alone a number
    words = set(re.split(r"[\s_\-.,()/\[\]%]+", rest.lower().replace("trend removed", "")))
    if not comma or not head.strip() or _derived(name, "") or words & _STATISTICS:
        return None
    base = canonical_channel(head)
    if base == "ecg":
        lead = _LEAD_WORDS.search(rest)
        return canonical_channel(lead.group(1)) if lead else base
    return base if base in _ALIASES.values() else None


def _derived(name: str, key: str) -> bool:
    """Whether a ``PLETH``/``PPG`` label names a derived number: a word of the label (``HR`` in
    ``Pleth HR``) or what follows the prefix (``hr`` in ``PlethHR``) is in ``_DERIVED``, or its
    brackets hold numbers' words alone (``PLETH (mean)``, ``PLETH (Pulse)``:
    :func:`bracket_number` 2)."""
    words = re.split(r"[\s_\-.,()/\[\]%]+", _without_device(name).lower().replace(
        "trend removed", ""))  # (a wave's description in the MIMIC PERform files)
    rest = key.removeprefix("pleth").removeprefix("ppg").rstrip("0123456789")
    bracketed = re.search(r"[\[(]([^\[\]()]*)[\])]\s*$", name)
    # (a statistic's word too: pleth_mean, pleth_pulse, the names the CSV reader gives such
    # columns, read back as themselves, not as the PPG)
    return (rest in _DERIVED or any(w in _DERIVED or w in _STATISTIC_WORDS for w in words)
            or (bracketed is not None and bracket_number(bracketed.group(1)) >= 2))


#: A later channel of a name already taken in its record (``canonical_names``: ``ecg_2``).
_REPEATED = re.compile(r"^(.+)_\d+$")


#: The order in which a record's ECG leads stand in for the model's ECG (lead II): lead II's
#: closest substitutes first (an unnamed single lead, I, III, aVF), then the chest and
#: modified chest leads, and the inverted-looking aVL/aVR last.
ECG_PREFERENCE: tuple[str, ...] = (
    "ecg_ii", "ecg", "ecg_i", "ecg_iii", "ecg_avf", "ecg_v", "ecg_v5", "ecg_v4", "ecg_v6",
    "ecg_v3", "ecg_v2", "ecg_v1", "ecg_mcl", "ecg_avl", "ecg_avr",
)
_ECG_RANK = {lead: i for i, lead in enumerate(ECG_PREFERENCE)}


def ecg_leads(channels: Iterable[str]) -> list[str]:
    """The ECG leads among ``channels``, the one that stands for lead II first: in
    :data:`ECG_PREFERENCE` order, a repeated named lead right after its first (``ecg_ii_2``,
    a second channel labelled II: a healthy one had given way to lead V where the first was
    off), then any other lead by name (a second unnamed lead, ``ecg_2``: MIT-BIH's ECG2 is
    rarely lead II). Every layer that picks "the" ECG of a record (windows, tasks, features,
    scoring) uses it."""
    if isinstance(channels, str | bytes):  # "ecg_ii" had been its letters: no lead
        raise TypeError(f"ecg_leads takes channel names, got the text {channels!r} (give "
                        f"[{channels!r}])")

    def rank(c: str) -> int:
        lead = lead_of(c)
        return _ECG_RANK.get(lead if lead != "ecg" else c, len(_ECG_RANK))

    return sorted((c for c in channels if is_ecg(c)), key=lambda c: (rank(c), len(c), c))


def lead_of(channel: str) -> str:
    """The lead a repeated ECG channel repeats (``ecg_ii_2``: ``ecg_ii``), else the channel."""
    while channel not in ECG_LEADS and (repeated := _REPEATED.match(channel)):
        channel = repeated.group(1)
    return channel


def is_task_channel(channel: str) -> bool:
    """True for a canonical channel the clinical tasks read: an ECG lead, the PPG or an
    arterial line."""
    return is_ecg(channel) or channel in ("ppg", "abp")


def refuse_monitor_labels(channels: Iterable[str],
                          read: Callable[[str], bool] = is_task_channel) -> None:
    """Refuse (ValueError) channel names that are a monitor's labels (``II``, ``PLETH``) of a
    channel ``read`` takes: read as absent, they would score every window bad, or give
    features of NaN alone."""
    labels = {c: canonical_channel(c) for c in channels if canonical_channel(c) != c}
    labels = {c: k for c, k in labels.items() if read(k)}
    if labels:
        raise ValueError(f"channel names {list(labels)} are monitor labels: name the channels "
                         f"as the package does ({list(labels.values())}), e.g. with "
                         "qualityfm.io.canonical_names")


def is_ecg(channel: str) -> bool:
    """True for any canonical ECG lead name, a repeated one included (``ecg_2``, the second
    unnamed lead of an ``ECG1``/``ECG2`` record; ``ecg_v_2``; ``ecg_ii_2_2``, a second
    ``ecg_ii_2``)."""
    return lead_of(channel) in ECG_LEADS


def canonical_names(labels: list[str]) -> list[str]:
    """Canonical names for the channels of one record, in file order, made unique.

    The first channel that maps to a name keeps it; later ones get a suffix
    (``["V", "V"] -> ["ecg_v", "ecg_v_2"]``).
    """
    if isinstance(labels, str | bytes):  # "II" had been two labels, I and I
        raise TypeError(f"canonical_names takes a list of labels, got the text {labels!r} "
                        f"(give [{labels!r}], or canonical_channel({labels!r}))")
    names: list[str] = []
    seen: set[str] = set()
    tried: dict[str, int] = {}  # each base's next suffix to try (from 2 for each label, 10^4
    for label in labels:  # labels II had taken 13 s)
        base = name = canonical_channel(label)
        n = tried.get(base, 2)
        while name in seen:
            name = f"{base}_{n}"
            n += 1
        tried[base] = n
        seen.add(name)
        names.append(name)
    return names
