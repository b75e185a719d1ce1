"""Signal layer: resampling, filters, windowing with the NaN/flat rules, normalisation, and a
synthetic ECG + PPG + ABP generator with known quality."""

from qualityfm.signal.artifacts import (
    ARTIFACT_KINDS,
    ARTIFACTS,
    apply_artifacts,
    baseline_wander,
    clipping,
    corrupt,
    disconnection,
    electrode_pop,
    flat_line,
    gaussian_noise,
    motion,
    powerline,
    signal_scale,
)
from qualityfm.signal.filters import (
    VT_ECG_FILTER,
    VT_PPG_FILTER,
    FilterSpec,
    apply_filter,
    design_sos,
    filter_ecg,
    filter_ppg,
)
from qualityfm.signal.nan import fill_nan
from qualityfm.signal.normalize import NORMALIZATIONS, normalize
from qualityfm.signal.resample import rational_ratio, resample
from qualityfm.signal.synthetic import (
    SYNTHETIC_RHYTHMS,
    beat_times,
    synthesize,
    synthetic_alarm_records,
    synthetic_corpus,
)
from qualityfm.signal.windows import (
    MAX_NAN_FRACTION,
    MODEL_FS,
    WindowConfig,
    Windows,
    make_windows,
    resolve_sources,
)

__all__ = [
    "ARTIFACTS", "ARTIFACT_KINDS", "MAX_NAN_FRACTION", "MODEL_FS",
    "NORMALIZATIONS", "SYNTHETIC_RHYTHMS", "VT_ECG_FILTER", "VT_PPG_FILTER",
    "FilterSpec", "WindowConfig",
    "Windows", "apply_artifacts", "apply_filter", "baseline_wander", "beat_times", "clipping",
    "corrupt", "design_sos", "disconnection", "electrode_pop", "fill_nan", "filter_ecg",
    "filter_ppg", "flat_line", "gaussian_noise", "make_windows", "motion", "normalize",
    "powerline", "rational_ratio", "resample", "resolve_sources", "signal_scale", "synthesize",
    "synthetic_alarm_records", "synthetic_corpus",
]
