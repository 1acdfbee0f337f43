"""Classification and regression metrics (NumPy only; seed 001 §1).

Classification metrics take class labels ``y_true`` and ``y_pred`` (integers
0..C-1; for a model's scores use ``y_pred = scores.argmax(1)``) and count per
class c, one class against the rest:

    TP_c, FP_c (predicted c, true other), FN_c (true c, predicted other), TN_c.

``average``:

* ``"binary"``: the class ``pos_label`` only (default when there are at most 2 classes);
* ``"macro"``: the unweighted mean of the per-class values (default for C > 2);
* ``"micro"``: the metric of the summed counts ΣTP, ΣFP, ΣFN, ΣTN (for
  single-label multi-class data micro precision = recall = F1 = accuracy);
* ``"weighted"``: the mean weighted by each class's support;
* ``"none"``: the array of per-class values.

A ratio whose denominator is 0 is ``zero_division`` (0.0, as scikit-learn
gives with its warning).  ``accuracy``, ``mcc`` (multi-class: Gorodkin's R_K,
as scikit-learn) and ``balanced_accuracy`` (mean per-class recall) are single
numbers.  Regression: ``mae``, ``mse`` (also ``rmse``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["confusion_matrix", "accuracy", "precision", "recall", "f1", "f1_score", "specificity",
           "npv", "fpr", "fnr", "mcc", "balanced_accuracy", "mae", "mse", "rmse",
           "classification_report", "get", "CLASSIFICATION", "REGRESSION"]

AVERAGES = ("auto", "binary", "macro", "micro", "weighted", "none")


def _labels(y, name):
    a = np.asarray(y)
    if a.ndim != 1:
        a = a.reshape(-1)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind == "f":
        if a.size and not np.all(np.isfinite(a) & (a == np.round(a))):
            raise ValueError(f"{name} must hold class labels (integers); got non-integral values "
                             f"(for scores, pass scores.argmax(1))")
        a = a.astype(np.int64)
    elif a.dtype.kind not in "iu":
        raise TypeError(f"{name} has dtype {a.dtype}; class labels are integers")
    if a.size and a.min() < 0:
        raise ValueError(f"{name} holds the negative label {int(a.min())}; labels are 0..C-1")
    return a


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """C×C counts: row = true class, column = predicted class (scikit-learn's layout)."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}; they must match")
    top = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    C = top if num_classes is None else int(num_classes)
    if top > C:
        raise ValueError(f"label {top - 1} is out of range for num_classes={C}")
    C = max(C, 1)
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C).astype(np.int64)


def _counts(y_true, y_pred, num_classes):
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    return cm, tp, fp, fn, tn


def _div(num, den, zero_division):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _reduce(per_class, micro, support, C, average, pos_label):
    if average not in AVERAGES:
        raise ValueError(f"average={average!r} is not one of {AVERAGES}")
    if average == "auto":
        average = "binary" if C <= 2 else "macro"
    if average == "binary":
        if C > 2:
            raise ValueError(f"average='binary' needs at most 2 classes, got {C}; use "
                             f"average='macro' or 'micro'")
        if not 0 <= pos_label < max(C, 2):
            raise ValueError(f"pos_label={pos_label} is not a class (0..{max(C, 2) - 1})")
        return float(per_class[pos_label]) if pos_label < C else 0.0
    if average == "none":
        return per_class
    if average == "micro":
        return float(micro)
    if average == "weighted":
        tot = support.sum()
        return float((per_class * support).sum() / tot) if tot else 0.0
    return float(per_class.mean())


def _ratio_metric(num_of, den_of, doc):
    def metric(y_true, y_pred, average="auto", *, pos_label=1, num_classes=None, zero_division=0.0):
        cm, tp, fp, fn, tn = _counts(y_true, y_pred, num_classes)
        C = cm.shape[0]
        if C < 2 and average in ("auto", "binary"):  # one class seen: pad to binary
            cm, tp, fp, fn, tn = _counts(y_true, y_pred, 2)
            C = 2
        q = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
        per = _div(num_of(q), den_of(q), zero_division)
        s = {k: v.sum() for k, v in q.items()}
        micro = _div(num_of(s), den_of(s), zero_division)
        return _reduce(per, micro, tp + fn, C, average, pos_label)
    metric.__doc__ = doc
    return metric


precision = _ratio_metric(lambda q: q["tp"], lambda q: q["tp"] + q["fp"],
                          "Precision TP/(TP+FP) (positive predictive value).")
recall = _ratio_metric(lambda q: q["tp"], lambda q: q["tp"] + q["fn"],
                       "Recall TP/(TP+FN) (sensitivity, true positive rate).")
specificity = _ratio_metric(lambda q: q["tn"], lambda q: q["tn"] + q["fp"],
                            "Specificity TN/(TN+FP) (true negative rate).")
npv = _ratio_metric(lambda q: q["tn"], lambda q: q["tn"] + q["fn"],
                    "Negative predictive value TN/(TN+FN).")
fpr = _ratio_metric(lambda q: q["fp"], lambda q: q["fp"] + q["tn"],
                    "False positive rate FP/(FP+TN) = 1 - specificity.")
fnr = _ratio_metric(lambda q: q["fn"], lambda q: q["fn"] + q["tp"],
                    "False negative rate FN/(FN+TP) = 1 - recall.")
# F1 = 2TP / (2TP + FP + FN): the harmonic mean of precision and recall
f1 = _ratio_metric(lambda q: 2 * q["tp"], lambda q: 2 * q["tp"] + q["fp"] + q["fn"],
                   "F1 = 2PR/(P+R) = 2TP/(2TP+FP+FN); macro: the mean of the per-class F1.")
f1_score = f1


def accuracy(y_true, y_pred, num_classes=None) -> float:
    """Fraction of correct labels."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tot = cm.sum()
    return float(np.trace(cm) / tot) if tot else 0.0


def balanced_accuracy(y_true, y_pred, num_classes=None) -> float:
    """Mean recall over the classes present in y_true (scikit-learn's definition)."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return 0.0
    return float((np.diag(cm)[present] / support[present]).mean())


def mcc(y_true, y_pred, num_classes=None) -> float:
    """Matthews correlation coefficient; binary: (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN)),
    multi-class: Gorodkin's R_K (equal to it for 2 classes).  0 when undefined."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    t = cm.sum(axis=1)
    p = cm.sum(axis=0)
    c = np.trace(cm)
    s = cm.sum()
    cov_yp = c * s - t @ p
    cov_yy = s * s - t @ t
    cov_pp = s * s - p @ p
    den = cov_yy * cov_pp
    return float(cov_yp / math.sqrt(den)) if den > 0 else 0.0


def _reg(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        if t.size == p.size:
            t = t.reshape(p.shape)
        else:
            raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    return t, p


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    t, p = _reg(y_true, y_pred)
    return float(np.mean(np.abs(p - t))) if t.size else math.nan


def mse(y_true, y_pred) -> float:
    """Mean squared error."""
    t, p = _reg(y_true, y_pred)
    return float(np.mean((p - t) ** 2)) if t.size else math.nan


def rmse(y_true, y_pred) -> float:
    return math.sqrt(mse(y_true, y_pred))


def classification_report(y_true, y_pred, target_names=None, num_classes=None) -> str:
    """Per-class precision, recall, F1 and support, then accuracy and the macro averages."""
    cm, tp, fp, fn, tn = _counts(y_true, y_pred, num_classes)
    C = cm.shape[0]
    names = [str(n) for n in (target_names or range(C))]
    P, R, F = _div(tp, tp + fp, 0), _div(tp, tp + fn, 0), _div(2 * tp, 2 * tp + fp + fn, 0)
    sup = (tp + fn).astype(int)
    w = max(12, max(len(n) for n in names) + 2)
    lines = [f"{'':<{w}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for k in range(C):
        lines.append(f"{names[k]:<{w}}{P[k]:>10.4f}{R[k]:>10.4f}{F[k]:>10.4f}{sup[k]:>10d}")
    acc = np.trace(cm) / cm.sum() if cm.sum() else 0.0
    lines.append(f"{'accuracy':<{w}}{'':>20}{acc:>10.4f}{sup.sum():>10d}")
    lines.append(f"{'macro avg':<{w}}{P.mean():>10.4f}{R.mean():>10.4f}{F.mean():>10.4f}{sup.sum():>10d}")
    return "\n".join(lines)


#: metric names usable in ``fit(metrics=[...])``; the classification ones take
#: ``_macro``/``_micro``/``_weighted`` suffixes ("f1_micro")
CLASSIFICATION = {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1,
                  "specificity": specificity, "npv": npv, "fpr": fpr, "fnr": fnr, "mcc": mcc,
                  "balanced_accuracy": balanced_accuracy}
REGRESSION = {"mae": mae, "mse": mse, "rmse": rmse}
_AVERAGED = {"precision", "recall", "f1", "specificity", "npv", "fpr", "fnr"}


def get(name: str):
    """(kind, function(y_true, y_pred)) for a metric name: kind is
    "classification" (labels) or "regression" (values)."""
    key = name.lower()
    if key in REGRESSION:
        return "regression", REGRESSION[key]
    if key in CLASSIFICATION:
        return "classification", CLASSIFICATION[key]
    base, _, avg = key.rpartition("_")
    if base in _AVERAGED and avg in ("macro", "micro", "weighted", "binary"):
        fn = CLASSIFICATION[base]

        def averaged(y_true, y_pred, num_classes=None, _fn=fn, _avg=avg):
            return _fn(y_true, y_pred, _avg, num_classes=num_classes)
        averaged.__name__ = key
        return "classification", averaged
    from symdl.errors import UnknownNameError
    known = list(CLASSIFICATION) + list(REGRESSION) + [f"{m}_{a}" for m in sorted(_AVERAGED)
                                                       for a in ("macro", "micro", "weighted")]
    raise UnknownNameError("metric", name, known)
