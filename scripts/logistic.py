"""The one logistic fit behind the fitted stages (passage ranker, sentence scorer, decline model).

Features are standardised (mean 0, unit spread; a constant feature keeps scale 1), classes are
balanced (relevant passages and stating sentences are rare), and the result is what the parameter
files store: mean, scale, weights, bias, rounded so the files read well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> dict[str, object]:
    from sklearn.linear_model import LogisticRegression  # late: only the fitting scripts need it

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit((x - mean) / scale, y)
    return {
        "mean": tuple(round(float(v), 6) for v in mean),
        "scale": tuple(round(float(v), 6) for v in scale),
        "weights": tuple(round(float(v), 6) for v in model.coef_[0]),
        "bias": round(float(model.intercept_[0]), 6),
    }


C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def choose_c(
    xs: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    groups: Sequence[str],
    held_score: Callable[[dict[str, object], list[int]], float],
    label: str,
    folds: int = 5,
) -> float:
    """The regularisation that does best on tuning items the model was not fitted on: `folds`
    folds by group (a paper's questions share its passages), `held_score(model, held indices)`
    averaged over the held-out items; ties go to the stronger regularisation."""
    from sklearn.model_selection import GroupKFold  # late: only the fitting scripts need it

    score = {}
    for c in C_GRID:
        total = 0.0
        for fit_i, held_i in GroupKFold(n_splits=folds).split(xs, groups=groups):
            model = fit_logistic(
                np.concatenate([xs[i] for i in fit_i]), np.concatenate([ys[i] for i in fit_i]), c
            )
            total += held_score(model, list(held_i)) * len(held_i)
        score[c] = round(float(total) / len(xs), 4)
    print(f"C by paper-grouped {folds}-fold CV on the tuning half ({label}): {score}")
    return max(C_GRID, key=lambda c: (score[c], -c))
