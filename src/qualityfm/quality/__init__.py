"""Signal quality of ECG and PPG windows: R peaks, rrSQI, PPG indices, combined score, levels."""

from qualityfm.quality.ecg import RRRules, bad_beats, ecg_quality, rr_sqi
from qualityfm.quality.peaks import detect_r_peaks
from qualityfm.quality.ppg import PPG_TERMS, PPGSettings, ppg_quality, ppg_terms
from qualityfm.quality.score import (
    LEVEL_NAMES,
    LEVEL_THRESHOLDS,
    SCORING_VERSION,
    QualityScores,
    combined_quality,
    quality_level,
    score_windows,
)

__all__ = [
    "LEVEL_NAMES",
    "LEVEL_THRESHOLDS",
    "SCORING_VERSION",
    "PPG_TERMS",
    "PPGSettings",
    "QualityScores",
    "RRRules",
    "bad_beats",
    "combined_quality",
    "detect_r_peaks",
    "ecg_quality",
    "ppg_quality",
    "ppg_terms",
    "quality_level",
    "rr_sqi",
    "score_windows",
]
