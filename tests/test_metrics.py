"""symdl.metrics on hand-checkable cases (and scikit-learn when it is installed)."""
import math

import numpy as np
import pytest

from symdl import metrics as M
from symdl.errors import UnknownNameError

# binary: 8 samples; confusion matrix [[TN FP], [FN TP]] = [[2 2], [1 3]]
T2 = [0, 0, 1, 1, 1, 0, 1, 0]
P2 = [0, 1, 1, 1, 0, 0, 1, 1]
# 3 classes: per class (tp, fp, fn) = (2,1,0), (1,1,2), (3,1,1)
T3 = [0, 1, 2, 2, 1, 0, 2, 2, 1]
P3 = [0, 2, 2, 2, 1, 0, 1, 2, 0]


def test_confusion_matrix():
    assert M.confusion_matrix(T2, P2).tolist() == [[2, 2], [1, 3]]
    assert M.confusion_matrix(T3, P3).tolist() == [[2, 0, 0], [1, 1, 1], [0, 1, 3]]
    assert M.confusion_matrix([0, 1], [1, 1], num_classes=4).shape == (4, 4)


def test_binary_metrics_by_hand():
    tp, tn, fp, fn = 3, 2, 2, 1
    assert M.precision(T2, P2) == pytest.approx(tp / (tp + fp))
    assert M.recall(T2, P2) == pytest.approx(tp / (tp + fn))
    assert M.f1(T2, P2) == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert M.specificity(T2, P2) == pytest.approx(tn / (tn + fp))
    assert M.npv(T2, P2) == pytest.approx(tn / (tn + fn))
    assert M.fpr(T2, P2) == pytest.approx(fp / (fp + tn))
    assert M.fnr(T2, P2) == pytest.approx(fn / (fn + tp))
    assert M.accuracy(T2, P2) == pytest.approx(5 / 8)
    assert M.mcc(T2, P2) == pytest.approx((tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    assert M.balanced_accuracy(T2, P2) == pytest.approx((0.75 + 0.5) / 2)
    # pos_label=0 swaps the roles
    assert M.precision(T2, P2, pos_label=0) == pytest.approx(2 / 3)


def test_multiclass_macro_micro_by_hand():
    prec = [2 / 3, 1 / 2, 3 / 4]
    rec = [1.0, 1 / 3, 3 / 4]
    f1s = [2 * p * r / (p + r) for p, r in zip(prec, rec)]
    assert M.precision(T3, P3) == pytest.approx(np.mean(prec))          # macro by default for C > 2
    assert M.recall(T3, P3, "macro") == pytest.approx(np.mean(rec))
    assert M.f1(T3, P3, "macro") == pytest.approx(np.mean(f1s))
    assert np.allclose(M.f1(T3, P3, "none"), f1s)
    acc = 6 / 9
    for fn in (M.precision, M.recall, M.f1):
        assert fn(T3, P3, "micro") == pytest.approx(acc)               # single-label: micro = accuracy
    # specificity micro: ΣTN / (ΣTN + ΣFP); TN per class = 9 - tp - fp - fn = (6, 5, 4)
    assert M.specificity(T3, P3, "micro") == pytest.approx(15 / 18)
    assert M.specificity(T3, P3, "macro") == pytest.approx(np.mean([6 / 7, 5 / 6, 4 / 5]))
    assert M.fpr(T3, P3, "macro") == pytest.approx(1 - M.specificity(T3, P3, "macro"))
    assert M.fnr(T3, P3, "macro") == pytest.approx(1 - M.recall(T3, P3, "macro"))
    assert M.balanced_accuracy(T3, P3) == pytest.approx(np.mean(rec))
    w = np.array([2, 3, 4])
    assert M.recall(T3, P3, "weighted") == pytest.approx((np.array(rec) * w).sum() / 9)


def test_mcc_multiclass_and_degenerate():
    assert M.mcc([0, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    assert M.mcc([0, 0, 0], [0, 0, 0]) == 0.0          # undefined -> 0
    assert M.mcc([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)


def test_zero_division_and_errors():
    assert M.precision([1, 1], [0, 0]) == 0.0
    assert M.precision([1, 1], [0, 0], zero_division=1.0) == 1.0
    with pytest.raises(ValueError, match="binary"):
        M.precision(T3, P3, "binary")
    with pytest.raises(ValueError, match="average"):
        M.f1(T2, P2, "macroo")
    with pytest.raises(ValueError, match="must match"):
        M.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="argmax"):
        M.accuracy([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="negative"):
        M.accuracy([0, -1], [0, 1])


def test_regression_metrics():
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert M.mse([1, 2, 3], [2, 2, 5]) == pytest.approx(5 / 3)
    assert M.rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert M.mae(np.zeros((4, 1)), np.ones(4)) == 1.0


def test_get_names():
    assert M.get("accuracy") == ("classification", M.accuracy)
    assert M.get("mae")[0] == "regression"
    kind, fn = M.get("f1_micro")
    assert fn(T3, P3) == pytest.approx(6 / 9)
    with pytest.raises(UnknownNameError, match="accuracy"):
        M.get("acuracy")


def test_classification_report():
    r = M.classification_report(T3, P3, target_names=["a", "b", "c"])
    assert "macro avg" in r and "0.6667" in r


def test_against_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for C in (2, 4):
        t = rng.integers(0, C, 200)
        p = np.where(rng.random(200) < 0.6, t, rng.integers(0, C, 200))
        avg = "binary" if C == 2 else "macro"
        assert M.precision(t, p) == pytest.approx(skm.precision_score(t, p, average=avg))
        assert M.recall(t, p) == pytest.approx(skm.recall_score(t, p, average=avg))
        assert M.f1(t, p) == pytest.approx(skm.f1_score(t, p, average=avg))
        assert M.f1(t, p, "micro") == pytest.approx(skm.f1_score(t, p, average="micro"))
        assert M.f1(t, p, "weighted") == pytest.approx(skm.f1_score(t, p, average="weighted"))
        assert M.mcc(t, p) == pytest.approx(skm.matthews_corrcoef(t, p))
        assert M.balanced_accuracy(t, p) == pytest.approx(skm.balanced_accuracy_score(t, p))
        assert M.confusion_matrix(t, p).tolist() == skm.confusion_matrix(t, p).tolist()
