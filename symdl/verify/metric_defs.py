r"""A definition of a classification metric, checked against ``symdl.metrics``.

``\text{Precision} = \frac{TP}{TP+FP}`` names a metric symdl implements; the
right side is compared with ``symdl.metrics.precision`` itself, called on label
arrays built to have the counts TP, FP, FN, TN of a binary problem (class 1 is
the positive class), at many count tables.  Tables where the claimed formula
divides by zero are not compared (symdl returns ``zero_division`` = 0 there).
"""
from __future__ import annotations

import random

import mpmath

from .latex_parser import normalize_name

#: the count symbols a definition may use
COUNTS = ("TP", "FP", "FN", "TN")
#: other names of the metrics (normalized: lower case, no _ - or spaces)
ALIASES = {"sensitivity": "recall", "tpr": "recall", "truepositiverate": "recall",
           "ppv": "precision", "tnr": "specificity", "selectivity": "specificity",
           "f1score": "f1", "fscore": "f1", "fmeasure": "f1", "acc": "accuracy",
           "balancedaccuracy": "balanced_accuracy", "bacc": "balanced_accuracy",
           "matthews": "mcc", "falsepositiverate": "fpr", "falsenegativerate": "fnr"}
#: relative agreement with the metric's float64 value
RTOL = 1e-12
MIN_TABLES = 20


def metric_name(symbol_name: str) -> str | None:
    """The symdl.metrics name a left-hand symbol stands for, or None."""
    from symdl.metrics import CLASSIFICATION

    key = normalize_name(symbol_name)
    key = ALIASES.get(key, key)
    for name in CLASSIFICATION:
        if normalize_name(name) == key:
            return name
    return None


def _labels(tp, fp, fn, tn):
    import numpy as np

    y_true = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    y_pred = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    return np.array(y_true, dtype=np.int64), np.array(y_pred, dtype=np.int64)


def _tables(n=60, seed=5):
    rng = random.Random(seed)
    out = [(1, 1, 1, 1), (3, 1, 2, 5), (10, 0, 0, 10), (0, 4, 4, 0), (7, 2, 0, 1), (1, 0, 5, 2)]
    while len(out) < n:
        out.append(tuple(rng.choice((0, 1, 2, 3, 5, 8, 13, 40, 97)) for _ in range(4)))
    return out


def check_metric(name: str, rhs, v):
    """Fill Verdict ``v`` for the claim  <metric name> = rhs  (rhs a SymPy expression)."""
    from symdl.metrics import CLASSIFICATION

    from .verdict import HOLDS_NUM, REFUTED, UNDECIDED

    fn = CLASSIFICATION[name]
    syms = {s.name: s for s in rhs.free_symbols}
    extra = sorted(set(syms) - set(COUNTS))
    if extra:
        v.status = UNDECIDED
        v.reason = (f"{name} is symdl.metrics.{name}, a function of the counts "
                    f"{', '.join(COUNTS)}; the right side also uses {', '.join(extra)}")
        return v
    compared = skipped = 0
    worst = 0.0
    for tp, fp, fn_, tn in _tables():
        counts = {"TP": tp, "FP": fp, "FN": fn_, "TN": tn}
        if tp + fp + fn_ + tn == 0:
            continue
        from .numeric import Compiler, Undefined

        env = {s: mpmath.mpf(counts[n]) for n, s in syms.items()}
        try:
            with mpmath.workdps(40):
                claimed = Compiler().compile(rhs)(env)
        except (Undefined, ZeroDivisionError, ValueError, OverflowError):
            skipped += 1
            continue
        if isinstance(claimed, bool):
            skipped += 1
            continue
        actual = fn(*_labels(tp, fp, fn_, tn))
        diff = abs(mpmath.mpf(actual) - claimed)
        scale = max(abs(mpmath.mpf(actual)), abs(claimed))
        rel = float(diff / scale) if diff else 0.0
        if rel > RTOL:
            v.status, v.method = REFUTED, f"compared with symdl.metrics.{name} on label arrays"
            v.counterexample = {"point": {k: str(val) for k, val in counts.items()},
                                "lhs": f"{actual:.15g}", "rhs": mpmath.nstr(claimed, 15),
                                "difference": mpmath.nstr(mpmath.mpf(actual) - claimed, 6)}
            v.points, v.skipped = compared, skipped
            v.diagnosis = (f"the left side is symdl.metrics.{name} on binary labels with these "
                           "counts (class 1 positive)")
            return v
        worst = max(worst, rel)
        compared += 1
    v.points, v.skipped, v.worst = compared, skipped, worst
    if compared < MIN_TABLES:
        v.status = UNDECIDED
        v.reason = (f"only {compared} count tables had a defined right side "
                    f"(need {MIN_TABLES}) to compare with symdl.metrics.{name}")
        return v
    v.status = HOLDS_NUM
    v.method = (f"the definition of symdl.metrics.{name}: equal at {compared} count tables "
                f"(TP, FP, FN, TN) of a binary problem, worst relative difference "
                f"{worst:.1e} (the metric computes in float64); {skipped} skipped where the "
                f"formula divides by zero (symdl returns 0 there)")
    return v
