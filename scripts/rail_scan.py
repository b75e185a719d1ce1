"""How many real channel-windows the clip rule reads over its 5 % limit, with and without the
rails found at tail levels (``signal.extremes.RAIL_QUANTILES``): the counts docs/quality.md
gives for session 55.

    PYTHONPATH=src .venv/bin/python scripts/rail_scan.py [--data ../shared/data] [--plots DIR]

Windows every record of physionet2015_vt, physionet2015_icu and bidmc, and every sixth of
cinc2017_af, with ``make_windows``' defaults, and measures each window's clipped share of
each channel on the record's own samples twice: by the extremes alone (the rule before
session 55) and by ``clip_fraction``. Prints, per folder, the channel-windows over 5 % by
each and those the rails alone put over it; ``--plots`` draws 16 of those.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

import qualityfm.signal.windows as windows_module
from qualityfm.io import find_records, read_record
from qualityfm.signal import WindowConfig, make_windows
from qualityfm.signal.extremes import extremes_fraction, span_clip_fraction

FOLDERS = ("physionet2015_vt", "physionet2015_icu", "bidmc", "cinc2017_af")
LIMIT = 0.05  # the quality scores' max_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--plots", type=Path, help="folder for a PNG of 16 windows the rails add")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    seen: list[tuple[str, float, float, float, np.ndarray]] = []
    where = {"record": ""}

    def measured(values, lo, hi, tol=1e-3, missing=None):  # the windows' spans, both ways
        out = span_clip_fraction(values, lo, hi, tol, missing)
        for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
            seg = values[a:b] if missing is None else values[a:b][~missing[a:b]]
            if len(seg):
                seen.append((where["record"], float(k), float(extremes_fraction(seg[None])[0]),
                             float(out[k]), seg))
        return out

    windows_module.span_clip_fraction = measured
    added = []
    for folder in FOLDERS:
        paths = sorted(find_records(args.data / folder))
        if folder == "cinc2017_af":
            paths = paths[::6]
        seen.clear()
        for path in paths:
            where["record"] = path.name
            try:
                make_windows(read_record(path), WindowConfig())
            except ValueError as err:
                print(f"{path.name}: skipped ({err})")
        old = np.array([s[2] for s in seen])
        new = np.array([s[3] for s in seen])
        over = (new > LIMIT) & (old <= LIMIT)
        added += [s for s, o in zip(seen, over, strict=True) if o]
        print(f"{folder}: {len(seen)} channel-windows; over {LIMIT:.0%} clipped: extremes "
              f"{int((old > LIMIT).sum())}, with rails {int((new > LIMIT).sum())} "
              f"({int(over.sum())} added, {int(((old > LIMIT) & (new <= LIMIT)).sum())} lost); "
              f"1-5 %: {int(((old > 0.01) & (old <= LIMIT)).sum())} -> "
              f"{int(((new > 0.01) & (new <= LIMIT)).sum())}")
    if args.plots and added:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rng = np.random.default_rng(0)
        pick = rng.choice(len(added), min(16, len(added)), replace=False)
        fig, axes = plt.subplots(8, 2, figsize=(16, 20))
        for ax, i in zip(axes.flat, pick, strict=False):
            name, k, old_share, new_share, seg = added[i]
            ax.plot(seg, lw=0.4)
            ax.set_title(f"{name} window {k:.0f}: {old_share:.3f} -> {new_share:.3f}", fontsize=8)
        fig.tight_layout()
        args.plots.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plots / "rails_added.png", dpi=70)


if __name__ == "__main__":
    main()
