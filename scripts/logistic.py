"""The one logistic fit behind the fitted stages (passage ranker, sentence scorer, decline model).

Features are standardised (mean 0, unit spread; a constant feature keeps scale 1), classes are
balanced (relevant passages and stating sentences are rare), and the result is what the parameter
files store: mean, scale, weights, bias, rounded so the files read well.
"""

from __future__ import annotations

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
