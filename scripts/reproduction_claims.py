#!/usr/bin/env python3
"""Print the numbers behind the claims table of docs/REPRODUCTION.md.

Usage: scripts/reproduction_claims.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is one dataset's folder of a `lazysweep reproduce` run, with a results.csv.
Only the Python standard library is used. Diverged cells count as chance accuracy (10%)
when an optimizer's accuracy at a fixed eta is compared, and are skipped when a best eta
is chosen.
"""

import csv
import math
import sys
from collections import defaultdict

CHANCE = 0.10
# A cell is "good" when its test accuracy is within this many points of the best cell at
# its alpha.
GOOD_MARGIN = 0.05


def load(run_dir):
    cells = {}
    with open(f"{run_dir}/results.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["optimizer"], round(math.log10(float(row["alpha"])), 3),
                   round(math.log10(float(row["eta"])), 3))
            diverged = row["diverged"] == "true"
            accuracy = CHANCE if diverged or row["test_acc"] == "" else float(row["test_acc"])
            consistency = math.nan if diverged or row["sign_consistency"] == "" else float(
                row["sign_consistency"])
            change = math.nan if diverged or row["rel_change_w0"] == "" else float(
                row["rel_change_w0"])
            cells[key] = {"acc": accuracy, "diverged": diverged,
                          "consistency": consistency, "change": change}
    return cells


def levels(cells, index):
    return sorted({key[index] for key in cells})


def best_eta(cells, optimizer, alpha):
    """Return (log10 eta, accuracy, consistency) of the best non-diverged cell."""
    candidates = [(cell["acc"], key[2], cell["consistency"])
                  for key, cell in cells.items()
                  if key[0] == optimizer and key[1] == alpha and not cell["diverged"]]
    if not candidates:
        return None
    accuracy, eta, consistency = max(candidates)
    return eta, accuracy, consistency


def slope(points):
    """Least-squares slope of (x, y) points."""
    if len(points) < 2:
        return math.nan
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    return numerator / denominator if denominator else math.nan


def report(run_dir):
    cells = load(run_dir)
    alphas = levels(cells, 1)
    etas = levels(cells, 2)
    best_overall = max(cell["acc"] for cell in cells.values())
    small = [a for a in alphas if a <= -2]
    large = [a for a in alphas if a >= 2]
    print(f"== {run_dir}: best test accuracy {best_overall:.3f}")

    # 1. At eta = 1: rmsprop against modified-rmsprop.
    at_one = {opt: {a: cells[(opt, a, 0.0)]["acc"] for a in alphas}
              for opt in ("rmsprop", "modified-rmsprop")}
    for name, span in (("small alpha (<= 1e-2)", small), ("large alpha (>= 1e2)", large)):
        r = sum(at_one["rmsprop"][a] for a in span) / len(span)
        m = sum(at_one["modified-rmsprop"][a] for a in span) / len(span)
        print(f"  1. eta = 1, {name}: mean test acc rmsprop {r:.3f}, modified-rmsprop {m:.3f}")

    # 2, 3, 5. Best eta against alpha.
    best = {opt: {a: best_eta(cells, opt, a) for a in alphas}
            for opt in ("gd", "rmsprop", "modified-rmsprop")}
    for opt in best:
        trail = " ".join(f"{a:g}:{b[0]:g}" for a, b in best[opt].items() if b)
        print(f"  best log10 eta per log10 alpha, {opt}: {trail}")
    below = [a for a in alphas if a <= 0]
    slopes = {}
    for opt in best:
        slopes[opt] = slope([(a, best[opt][a][0]) for a in below if best[opt][a]])
        whole = slope([(a, b[0]) for a, b in best[opt].items() if b])
        print(f"  2/3. slope of best log10 eta on log10 alpha, {opt}: {slopes[opt]:+.2f} for "
              f"log10 alpha <= 0, {whole:+.2f} over the whole grid")
    angle = abs(math.degrees(math.atan(slopes["rmsprop"]))
                - math.degrees(math.atan(slopes["modified-rmsprop"])))
    print(f"  2. angle between the best-eta directions of rmsprop and modified-rmsprop "
          f"(log10 alpha <= 0): {angle:.0f} degrees")

    # 4. Width of the good-eta band at small alpha: etas within GOOD_MARGIN of the best
    # accuracy that either optimizer reaches at that alpha.
    pair = ("gd", "modified-rmsprop")
    for a in small:
        best_here = max(cells[(opt, a, e)]["acc"] for opt in pair for e in etas)
        widths = {opt: sum(1 for e in etas
                           if not cells[(opt, a, e)]["diverged"]
                           and cells[(opt, a, e)]["acc"] >= best_here - GOOD_MARGIN)
                  for opt in pair}
        print(f"  4. log10 alpha {a:g}: etas within {GOOD_MARGIN:.2f} of the best accuracy "
              f"there ({best_here:.3f}): gd {widths['gd']}, "
              f"modified-rmsprop {widths['modified-rmsprop']}")

    # 5. Fold: the slope of the best eta below and above each alpha.
    for opt in ("gd", "modified-rmsprop"):
        points = [(a, b[0]) for a, b in best[opt].items() if b]
        folds = []
        for split in alphas[2:-2]:
            left = slope([p for p in points if p[0] <= split])
            right = slope([p for p in points if p[0] >= split])
            folds.append((abs(left - right), split, left, right))
        change, split, left, right = max(folds)
        print(f"  5. {opt}: largest slope change of the best eta at log10 alpha {split:g}: "
              f"{left:+.2f} below, {right:+.2f} above")

    # 6. Sign consistency at the best eta, small alpha.
    for a in small:
        g, m = best["gd"][a], best["modified-rmsprop"][a]
        if g and m:
            print(f"  6. log10 alpha {a:g}: sign consistency at the best eta: gd {g[2]:.3f}, "
                  f"modified-rmsprop {m[2]:.3f}")

    # 7. The corner: GD at the smallest eta/alpha of the grid.
    corner = sorted(((key[2] - key[1], key) for key in cells if key[0] == "gd"))[:3]
    for ratio, key in corner:
        cell = cells[key]
        print(f"  7. gd log10 alpha {key[1]:g}, log10 eta {key[2]:g} (eta/alpha = 1e{ratio:g}): "
              f"test acc {cell['acc']:.3f}, relative W0 change {cell['change']:.2e}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for run_dir in sys.argv[1:]:
        report(run_dir)


if __name__ == "__main__":
    main()
