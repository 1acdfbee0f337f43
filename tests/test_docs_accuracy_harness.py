"""The catalog pages' accuracy of glu/maxout, the losses and the optimizer
rules is measured by the table-driven harness (symdl.docs.accuracy.measure_harness;
the term losses: measure_term_loss, on the test suite's cases)."""
import datetime
import json
import os
from pathlib import Path

import pytest

import symdl
import symdl.specs as S
from symdl.codegen.header import sha
from symdl.docs import accuracy as A
from symdl.docs import pages as P
from symdl.specs import losses as L
from symdl.testing.loss_cases import OPTIONS, term_case


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


# ----------------------------------------------------------------------------- term losses
# Their pages give the worst error measured by check_loss on the test suite's
# own cases (symdl.testing.loss_cases: each loss's input domain).  The
# measurement is cached in docs/catalog/accuracy.json; these tests check that
# every term-loss page shows the cached entry of the current spec, kernels and
# cases (cheap), and re-measure a sample (one loss, rotated weekly;
# SYMDL_DOCS_SAMPLE names one) to show the cached numbers are the measured ones.
ROOT = Path(__file__).resolve().parents[1]
TERM = [s.name for s in L.LOSS_SPECS if getattr(s, "kind", "") == "term"]


def _cache():
    return json.loads((ROOT / "docs" / A.CACHE).read_text())


def _differences(cached: dict, fresh: dict, rtol: float = 0.1) -> list:
    """How a cached term-loss entry differs from a new measurement: rows
    (option set, output, dtype), where, values and failures exactly; the
    worst error to ``rtol`` (a 3-digit number re-measured on this machine)."""
    out = []
    for k in ("method", "points", "exceptions"):
        if cached.get(k) != fresh.get(k):
            out.append(f"{k}: cached {cached.get(k)!r}, measured {fresh.get(k)!r}")
    key = lambda r: (r["variant"], r["which"], r["dtype"])  # noqa: E731
    c, f = {key(r): r for r in cached.get("rows", ())}, {key(r): r for r in fresh["rows"]}
    if set(c) != set(f):
        out.append(f"rows: cached {sorted(set(c) - set(f))}, measured {sorted(set(f) - set(c))}")
    for k in sorted(set(c) & set(f)):
        a, b = c[k], f[k]
        if abs(a["worst"] - b["worst"]) > rtol * max(a["worst"], b["worst"]):
            out.append(f"{k}: worst {a['worst']:g} cached, {b['worst']:g} measured")
        for field in ("at", "values", "failures"):
            if a[field] != b[field]:
                out.append(f"{k}: {field} {a[field]!r} cached, {b[field]!r} measured")
    return out


def test_every_term_loss_page_shows_its_current_measurement():
    """Each term loss: a measured cache entry under the current key (spec,
    generated module, cases), one row per option set x output (the value and
    the gradient of each differentiated argument) x dtype, no failures, and
    its committed page carries exactly that entry (the page header's hash)
    and its numbers."""
    cache = _cache()
    losses = {s.name for s in S.all_specs("loss")}
    assert set(TERM) == {n for n in cache if n in losses and cache[n].get("method") == "term"}
    for name in TERM:
        spec = S.get(name)
        meta, mod = P.kernel_meta(name)
        key = A.cache_key(spec, P.module_header(mod))
        e = A.entry(spec, "loss", meta, key, cache, measure=False)
        assert e["status"] == "measured" and e["method"] == "term", (name, e.get("status"))
        want = set()
        labels = [lab for lab, _cases in A._term_cases(name)]
        assert len(labels) == len(OPTIONS.get(name, [{}]))
        for i, label in enumerate(labels):
            wrt = symdl.kernel(name, **term_case(name, i, "random")[0]).wrt       # every differentiated argument
            want |= {(label, w, d) for w in ("value", *(f"d {n}" for n in wrt)) for d in ("float64", "float32")}
        got = {(r["variant"], r["which"], r["dtype"]) for r in e["rows"]}
        assert got == want, (name, sorted(want ^ got))
        assert all(r["failures"] == 0 and r["values"] > 0 for r in e["rows"]), name
        assert all(r["at"] != "-" or r["worst"] == 0 for r in e["rows"]), name
        page = (ROOT / "docs" / P.spec_path("loss", name)).read_text()
        assert P.read_page_header(page)["accuracy"] == sha(json.dumps(e, sort_keys=True)), name
        assert "Not measured by the docs build" not in page, name
        for r in e["rows"]:
            assert f"| {r['which']} | {r['dtype']} | {r['worst']:.2e} | " in page, (name, r)


def test_term_loss_key_follows_the_cases(monkeypatch):
    """A change to a loss's test cases makes its cached number stale."""
    import symdl.testing.loss_cases as LC

    spec = S.get("mse_loss")
    meta, mod = P.kernel_meta("mse_loss")
    key = A.cache_key(spec, P.module_header(mod))
    assert A.entry(spec, "loss", meta, key, _cache(), measure=False)["status"] == "measured"
    monkeypatch.setattr(LC, "S", (3, 5))
    key2 = A.cache_key(spec, P.module_header(mod))
    assert key2 != key
    assert A.entry(spec, "loss", meta, key2, _cache(), measure=False)["status"] == "stale"


def _sample() -> str:
    name = os.environ.get("SYMDL_DOCS_SAMPLE")
    if name:
        return name
    return TERM[datetime.date.today().isocalendar()[1] % len(TERM)]


def test_term_loss_numbers_are_the_measured_ones():
    """Re-measure the first option set of one term loss (rotated weekly;
    SYMDL_DOCS_SAMPLE=NAME picks it): the cached rows are what check_loss
    measures now; a made-up or stale number is reported."""
    name = _sample()
    cached = _cache()[name]
    fresh = A.measure_term_loss(S.get(name), option_sets={0})
    label = fresh["rows"][0]["variant"]
    part = {**cached, "rows": [r for r in cached["rows"] if r["variant"] == label]}
    fresh["points"] = part["points"] = 0         # (the sample holds one option set)
    assert not _differences(part, fresh), (name, _differences(part, fresh))
    made_up = json.loads(json.dumps(part))
    made_up["rows"][0]["worst"] = made_up["rows"][0]["worst"] / 3 + 1e-18
    made_up["rows"][-1]["at"] = "extreme case, sum, forward (the reduced value)"
    assert len(_differences(made_up, fresh)) == 2


def test_term_loss_page_says_where_and_which_bound():
    """The table names the case, reduction, entry point and the arguments at
    the worst element; the documented exceptions to the pure bound are stated."""
    e = _cache()["poisson_nll_loss"]
    assert [x[:3] for x in e["exceptions"]] == [["poisson_nll_loss(log_input=False*", "* d input", "*"]]
    rows = {(r["variant"], r["which"], r["dtype"]): r for r in e["rows"]}
    at = rows["log_input=False, full=True", "d input", "float32"]["at"]
    assert at.split(",")[0] in ("random case", "extreme case") and "input=" in at and "target=" in at
    md = A.accuracy_markdown(e)
    assert "**Exception to the pure relative bound** (`poisson_nll_loss(log_input=False*`, output `* d input`" in md
    assert r"| log\_input=False, full=True | d input | float32 | 1.00e+00 |" in md
    spec = S.get("cosine_embedding_loss")
    x1 = [[0.0, 1.0], [2.0, 3.0]]
    where = A._term_where(spec, "random", "none", "backward", "d input2", 3.0, (x1, [[5.0, 6.0], [7.0, 8.0]], [1.0, -1.0]))
    assert where == "random case, none, backward at [1, 1]: input1=3, input2=8"
    assert A._term_where(spec, "extreme", "none", "forward", "value", 1.0, (x1, x1, [1.0, -1.0])) == \
        "extreme case, none, forward, row 1"
    assert A._term_where(spec, "extreme", "sum", "forward", "value", float("nan"), ()) == \
        "extreme case, sum, forward (the reduced value)"


def test_newton_objective_pages_measured():
    """The Newton objectives' pages show their cached measurement (value,
    gradient, Hessian; float64, the kernel's only dtype); rosenbrock is
    measured again and matches, and a wrong number is reported."""
    from symdl.specs.objectives import OBJECTIVES

    cache = _cache()
    for o in OBJECTIVES:
        meta, mod = P.kernel_meta(o.name)
        assert meta["family"] == "objective" and mod == f"symdl.generated.newton.{o.name}"
        e = A.entry(o, "objective", meta, A.cache_key(o, P.module_header(mod)), cache, measure=False)
        assert e["status"] == "measured", o.name
        assert [(r["which"], r["dtype"]) for r in e["rows"]] == [
            ("value", "float64"), ("gradient", "float64"), ("Hessian", "float64")]
        assert all(r["failures"] == 0 and r["worst"] < 1e-14 for r in e["rows"]), e
        page = (ROOT / "docs" / P.spec_path("objective", o.name)).read_text()
        assert P.read_page_header(page)["accuracy"] == sha(json.dumps(e, sort_keys=True)), o.name
        for r in e["rows"]:
            assert f"| {r['which']} | float64 | {r['worst']:.2e} | " in page
    from symdl.specs.objectives import get_objective

    fresh = A.measure_objective(get_objective("rosenbrock"))
    assert not _differences(cache["rosenbrock"], fresh), _differences(cache["rosenbrock"], fresh)
    bad = json.loads(json.dumps(cache["rosenbrock"]))
    bad["rows"][2]["worst"] *= 2
    assert _differences(bad, fresh)


@pytest.mark.slow
@pytest.mark.parametrize("name", TERM)
def test_every_term_loss_remeasured(name):
    """Every term loss, every option set: the cache holds what check_loss measures."""
    fresh = A.measure_term_loss(S.get(name))
    assert not _differences(_cache()[name], fresh), _differences(_cache()[name], fresh)


# ----------------------------------------------------------------------------- normalization, cells
# Their pages give the worst error measured by the test suite's own harness
# and points (symdl.testing.normalization, symdl.testing.cells: the truth, the
# cases and the kernel calls tests/test_normalization_kernels.py and
# tests/test_cells.py run).  Cached like the term losses, keyed also by a hash
# of that harness and of the runtime layer; the default run re-measures two
# cheap specs (SYMDL_DOCS_SAMPLE=NAME adds one), the slow run all of them.
NORM = [s.name for s in S.all_specs("normalization")]
CELL = [s.name for s in S.all_specs("cell")]


def _expected_rows(name: str, family: str) -> set:
    from symdl.testing import cells as C
    from symdl.testing import normalization as N

    dts = ("float64", "float32")
    if family == "normalization":
        spec = N.specs()[name]
        outs = ["forward", "normalize", "dx", "dweight"] + (["dbias"] if spec.has_bias else [])
        want = {("training", o, d) for o in outs for d in dts}
        if any(n == name for n, _shape in N.EVAL_CASES):
            want |= {("eval (running statistics)", "eval " + o, d)
                     for o in ("forward", "dx", "dweight", "dbias") for d in dts}
        return want
    want = set()
    for i in A.cell_blocks(name):
        _cell, variant, _k, block = C.BLOCKS[i]
        d = C.derive_block(block)
        outs = [f"forward {s.name}" for s in d.fwd_results] + [f"backward d{u.name}" for u in d.wrt]
        want |= {(f"{variant}: {block.name}", o, dt) for o in outs for dt in dts}
    return want


@pytest.mark.parametrize("family", ["normalization", "cell"])
def test_every_norm_and_cell_page_shows_its_current_measurement(family):
    """Each normalization spec / cell: a measured cache entry under the
    current key (spec, generated module, harness), one row per mode or gate
    block x entry point (forward, dx, the parameter gradients; every forward
    result and VJP of a block) x dtype, no failures, and its committed page
    carries exactly that entry (the page header's hash) and its numbers."""
    cache = _cache()
    names = NORM if family == "normalization" else CELL
    assert len(names) == (5 if family == "normalization" else 4)
    for name in names:
        spec = S.get(name)
        meta, mod = P.kernel_meta(name)
        key = A.cache_key(spec, P.module_header(mod))
        assert key.endswith(":" + A.harness_hash(family)), key
        e = A.entry(spec, family, meta, key, cache, measure=False)
        assert e["status"] == "measured" and e["method"] == family, (name, e.get("status"))
        got = {(r["variant"], r["which"], r["dtype"]) for r in e["rows"]}
        want = _expected_rows(name, family)
        assert got == want, (name, sorted(want ^ got))
        assert all(r["failures"] == 0 and r["values"] > 0 for r in e["rows"]), name
        assert all(r["at"] != "-" or r["worst"] == 0 for r in e["rows"]), name
        page = (ROOT / "docs" / P.spec_path(family, name)).read_text()
        assert P.read_page_header(page)["accuracy"] == sha(json.dumps(e, sort_keys=True)), name
        assert "Not measured by the docs build" not in page, name
        for r in e["rows"]:
            assert f"| {r['dtype']} | {r['worst']:.2e} | " in page and P.md_text(r["at"]) in page, (name, r)


def test_norm_cell_key_follows_the_harness(monkeypatch):
    """A change to the harness (truth, cases, kernel calls) or the runtime
    layer makes the cached numbers stale."""
    spec = S.get("layer_norm")
    meta, mod = P.kernel_meta("layer_norm")
    key = A.cache_key(spec, P.module_header(mod))
    assert A.entry(spec, "normalization", meta, key, _cache(), measure=False)["status"] == "measured"
    monkeypatch.setitem(A.HARNESS_SOURCES, "normalization", ("testing/normalization.py",))
    key2 = A.cache_key(spec, P.module_header(mod))
    assert key2 != key
    assert A.entry(spec, "normalization", meta, key2, _cache(), measure=False)["status"] == "stale"


def _measure_norm_cell(name):
    fam = "normalization" if name in NORM else "cell"
    spec = S.get(name)
    return A.measure_normalization(spec) if fam == "normalization" else A.measure_cell(spec)


def _norm_cell_samples() -> list:
    extra = os.environ.get("SYMDL_DOCS_SAMPLE")
    return ["rms_norm", "rnn_cell"] + ([extra] if extra in NORM + CELL and extra not in ("rms_norm", "rnn_cell")
                                       else [])


def test_norm_cell_numbers_are_the_measured_ones():
    """Re-measure rms_norm (every case, both dtypes) and rnn_cell (both
    variants, every kind of point): the cached rows are what the harness
    measures now (the worst error to 10 %, where, values and failures
    exactly); a made-up or stale number is reported."""
    cache, fresh = _cache(), {}
    for name in _norm_cell_samples():
        fresh[name] = _measure_norm_cell(name)
        assert not _differences(cache[name], fresh[name]), (name, _differences(cache[name], fresh[name]))
    made_up = json.loads(json.dumps(cache["rms_norm"]))
    made_up["rows"][2]["worst"] = made_up["rows"][2]["worst"] * 3
    made_up["rows"][-1]["at"] = "random x (3, 5), element [0, 0]: x=1, truth=1"
    assert len(_differences(made_up, fresh["rms_norm"])) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", NORM + CELL)
def test_every_norm_and_cell_remeasured(name):
    """Every normalization spec and cell: the cache holds what the harness measures."""
    fresh = _measure_norm_cell(name)
    assert not _differences(_cache()[name], fresh), _differences(_cache()[name], fresh)
