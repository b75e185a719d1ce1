"""Quality levels of the real ICU windows: distribution (printed) and examples per level (figure).

    .venv/bin/python scripts/quality_figure.py [--data DIR] [--out PNG] [--per-level 3]

Scores every 30-s window (300 Hz, lead II + PLETH, both required: ``make_windows`` with
``ecg_fallback=False, require="all"``) of the records in physionet2015_icu and
physionet2015_vt, prints the level counts and each modality's score percentiles, and draws
``--per-level`` random example windows per level (first 10 s of PPG and ECG, titled with their
scores).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qualityfm.io import find_records, read_record  # noqa: E402
from qualityfm.quality import LEVEL_NAMES, score_windows  # noqa: E402
from qualityfm.signal import WindowConfig, make_windows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def score_corpus(data: Path) -> dict[str, np.ndarray]:
    """Scores and windows of every record with lead II and PLETH in the two Challenge sets."""
    cfg = WindowConfig(ecg_fallback=False, require="all")
    out: dict[str, list] = {k: [] for k in ("ecg", "ppg", "q", "level", "x", "name")}
    for db in ("physionet2015_icu", "physionet2015_vt"):
        for path in sorted(find_records(data / db)):
            rec = read_record(path)
            if not rec.has("ecg_ii", "ppg"):
                continue
            w = make_windows(rec, cfg)
            if not len(w):
                continue
            s = score_windows(w.x, w.mask, w.fs, w.channels, clipped=w.clipped, filled=w.filled)
            for k in ("ecg", "ppg", "q", "level"):
                out[k].append(getattr(s, k))
            out["x"].append(w.x)
            out["name"] += [f"{rec.record_id} @{t:.0f}s" for t in w.start]
    return {k: np.concatenate(v) if k != "name" else np.array(v) for k, v in out.items()}


def report(s: dict[str, np.ndarray]) -> None:
    n = len(s["q"])
    counts = np.bincount(s["level"], minlength=5)
    print(f"{n} windows")
    for k in range(4, -1, -1):
        print(f"  {LEVEL_NAMES[k]:10s} {counts[k]:5d}  {100 * counts[k] / n:5.1f} %")
    pct = (10, 25, 50, 75, 90)
    for name in ("ecg", "ppg", "q"):
        v = s[name]
        p = ", ".join(f"p{a} {b:.2f}" for a, b in zip(pct, np.percentile(v, pct), strict=True))
        print(f"  {name:3s}: {p}; exactly 0: {100 * np.mean(v == 0):.1f} %; "
              f">= 0.7: {100 * np.mean(v >= 0.7):.1f} %")


def figure(s: dict[str, np.ndarray], out: Path, per_level: int, seed: int, fs: float) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(4, -1, -1):
        idx = np.flatnonzero(s["level"] == k)
        rows += [(k, i) for i in rng.choice(idx, min(per_level, len(idx)), replace=False)]
    t = np.arange(int(10 * fs)) / fs
    fig, axes = plt.subplots(len(rows), 2, figsize=(14, 1.35 * len(rows)), squeeze=False)
    for r, (k, i) in enumerate(rows):
        for c, (label, colour) in enumerate((("PPG", "tab:red"), ("ECG II", "tab:blue"))):
            ax = axes[r, c]
            ax.plot(t, s["x"][i, c, : len(t)], lw=0.6, color=colour)
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
            score = s["ppg"][i] if c == 0 else s["ecg"][i]
            ax.set_title(f"{LEVEL_NAMES[k]} (q={s['q'][i]:.2f}) {s['name'][i]}  {label} "
                         f"score {score:.2f}", fontsize=7, loc="left")
    fig.suptitle("Real ICU windows (first 10 s of 30 s) by quality level", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    fig.savefig(tmp, dpi=80)
    os.replace(tmp, out)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "quality_levels.png")
    ap.add_argument("--per-level", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    s = score_corpus(args.data)
    if not len(s["q"]):
        raise SystemExit(f"no windows with lead II and PLETH under {args.data}")
    report(s)
    figure(s, args.out, args.per_level, args.seed, WindowConfig().fs)


if __name__ == "__main__":
    main()
