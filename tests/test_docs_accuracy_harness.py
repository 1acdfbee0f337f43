"""The catalog pages' accuracy of glu/maxout, the losses and the optimizer
rules is measured by the table-driven harness (symdl.docs.accuracy.measure_harness)."""
import symdl.specs as S
from symdl.docs import accuracy as A
from symdl.docs import pages as P


def _measure(name, family):
    meta, _ = P.kernel_meta(name)
    assert A.measurable(S.get(name), family, meta)
    return A.measure_harness(S.get(name), family, meta)


def test_glu_accuracy_by_the_harness():
    e = _measure("glu", "softmax")
    worst = {(r["which"], r["dtype"]): r for r in e["rows"]}
    assert set(worst) == {("value", "float64"), ("value", "float32"), ("d x", "float64"), ("d x", "float32")}
    assert all(r["failures"] == 0 for r in e["rows"])
    assert worst["value", "float64"]["worst"] < 1e-12 and 1e-9 < worst["value", "float32"]["worst"] < 1e-5
    md = A.accuracy_markdown({"status": "measured", **e})
    assert "| d x | float32 |" in md and "table-driven harness" in md


def test_class_loss_accuracy_by_the_harness():
    e = _measure("nll_loss", "loss")
    assert {(r["which"], r["dtype"]) for r in e["rows"]} == {
        ("value", "float64"), ("value", "float32"), ("d input", "float64"), ("d input", "float32")}
    assert all(r["values"] > 0 for r in e["rows"])
