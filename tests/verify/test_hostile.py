r"""Hostile claims and options (issue 12): no false "holds", no internal error, and
the verdict says why (the undefined subterm, the gap, the wrong constant)."""
import argparse
import io
import json

import mpmath
import pytest
import sympy as sp

from symdl.verify import (HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, parse_claim, verify_claim,
                          verify_file)
from symdl.verify import cli
from symdl.verify.check import numeric_check
from symdl.verify.numeric import Domain


def run(*argv):
    parser = argparse.ArgumentParser(prog="symdl")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["verify", *argv])
    out = io.StringIO()
    code = args.func(args, out=out)
    return code, out.getvalue()


def no_internal_error(v):
    assert "internal error" not in v.reason, v.reason


# ---- undefined subterms ----------------------------------------------------------------
@pytest.mark.parametrize("claim,term", [
    (r"\frac{\sin(x)}{\log(0)} = \frac{x}{\log(0)}", "log(0)"),
    (r"\log_{0}(x) = 1", "log(0)"),
    (r"\frac{1}{\tan(\pi/2)} = 0", "tan(pi/2)"),
    (r"0 \cdot \sqrt{-1} = 0", "sqrt(-1)"),
])
def test_undefined_subterm_is_named(claim, term):
    v = verify_claim(claim)
    assert v.status == UNDECIDED
    assert v.undefined == term and term in v.reason


def test_a_factor_folded_by_zero_must_have_a_value():
    v = verify_claim(r"\sqrt{-x^2 - 1} \cdot 0 = 0")
    assert v.status == UNDECIDED and "sqrt(-x^2 - 1)" in v.reason
    assert verify_claim(r"\frac{0}{\log(-x^2-1)} = 0").status == UNDECIDED


def test_sides_with_different_domains():
    v = verify_claim(r"\log(x^2) = 2\log(x)")
    assert v.status == UNDECIDED and "only the left side" in v.reason and "x = -1" in v.reason
    assert verify_claim(r"\log(x^2) = 2\log(x)", assume="x>0").status == HOLDS
    assert verify_claim(r"\frac{x^2-1}{x-1} = x+1").status == HOLDS   # one point only


@pytest.mark.parametrize("claim", [r"\log_{x}(x) = 1", r"\sqrt{x}^2 = x",
                                   r"\frac{\log(x)}{\log(x)} = 1"])
def test_domain_kept_when_sympy_simplifies_a_subterm_away(claim):
    v = verify_claim(claim)
    assert v.status == UNDECIDED and "only the right side" in v.reason


def test_undefined_at_a_point_is_still_refuted_elsewhere():
    v = verify_claim(r"\frac{1}{\tan(x)} = \frac{\cos(x)}{\sin(x)} + 1")
    assert v.status == REFUTED


# ---- kinks: only where the spec declares one and the function is not differentiable ----
def test_sinc_is_compared_at_zero():
    v = verify_claim(r"\mathrm{sinc}'(x) = \begin{cases} 3 & x = 0 \\ \frac{\cos x}{x} - "
                     r"\frac{\sin x}{x^2} & x \neq 0 \end{cases}")
    assert v.status == REFUTED and v.counterexample["point"] == {"x": "0"}
    assert not any("non-differentiable" in n for n in v.notes)


def test_relu_kink_is_still_skipped():
    v = verify_claim(r"\mathrm{ReLU}'(x) = \begin{cases} 0 & x < 0 \\ 1 & x \geq 0 \end{cases}")
    assert v.status in (HOLDS, HOLDS_NUM)
    assert any("x = 0 (non-differentiable point)" in n for n in v.notes)


# ---- cases ----------------------------------------------------------------------------------
def test_cases_gap_is_named():
    v = verify_claim(r"\mathrm{ReLU}'(x) = \begin{cases} 0 & x \leq 0 \\ 1 & x > 6 \end{cases}")
    assert v.status == UNDECIDED and "0 < x <= 6" in v.reason


def test_cases_gap_in_two_variables():
    v = verify_claim(r"\frac{\partial}{\partial \hat{y}} \max(0, 1 - y\hat{y}) = \begin{cases} 0 & "
                     r"\text{if } y \hat{y} \geq 1 \\ -y & \text{if } y \hat{y} < 0 \end{cases}")
    assert v.status == UNDECIDED and "no case" in v.reason


def test_isolated_gap_is_said_in_the_verdict():
    v = verify_claim(r"|x| = \begin{cases} x & x > 0 \\ -x & x < 0 \end{cases}")
    assert v.status == HOLDS_NUM and "x = 0" in v.method and "no case applies" in v.method


def test_contradicting_overlap():
    v = verify_claim(r"\begin{cases} 0 & x \leq 0 \\ 1 & x \geq 0 \end{cases} = "
                     r"\begin{cases} 0 & x \leq 0 \\ 1 & x > 0 \end{cases}")
    assert v.status == UNDECIDED and "overlap where x = 0" in v.reason


# ---- relative agreement ----------------------------------------------------------------------
def test_worst_difference_is_relative():
    x = sp.Symbol("x", real=True)
    tiny = sp.Integer(10) ** -50
    pair = (tiny * sp.sin(x) * (1 + sp.Integer(10) ** -40), tiny * sp.sin(x))
    res = numeric_check([pair], [Domain(x)], {}, soft_deadline=1e18, max_points=40, n_random=10)
    assert res["status"] == "ok"
    assert mpmath.mpf("0.5e-40") < res["worst"] < mpmath.mpf("2e-40")


def test_both_sides_underflowing_is_undecided():
    v = verify_claim(r"e^{-200000 - x^2} = e^{-200001 - x^2}")
    assert v.status == UNDECIDED and "underflow" in v.reason


def test_huge_exact_rational_is_refuted_and_printed():
    v = verify_claim(r"(1.0000001)^{1000} = 1")
    assert v.status == REFUTED and v.counterexample["lhs"].startswith("1.0001000")


def test_too_large_to_evaluate():
    v = verify_claim(r"e^{e^{e^{100}}} = 1")
    assert v.status == UNDECIDED and "too large" in v.reason


# ---- assumptions and capitals -----------------------------------------------------------------
@pytest.mark.parametrize("assume", ["x>0, x<0", "x positive, x < -1", "t integer, 1<t<2"])
def test_contradictory_assumptions(assume):
    v = verify_claim("x = x", assume=assume)
    assert v.status == UNDECIDED and "contradict" in v.reason


def test_capital_runs_in_claims_and_assumptions():
    v = verify_claim(r"\sqrt{TP^2} = TP", assume="TP>0")
    assert v.status == HOLDS and "TP is one symbol" in v.reading
    assert verify_claim(r"\sqrt{TP^2} = TP").status == REFUTED
    assert verify_claim(r"\sqrt{TP^2} = TP", assume="TP positive").status == HOLDS


def test_matrix_claims_keep_single_capitals():
    ast, _ = parse_claim(r"(AB)^T = B^TA^T")
    assert {n.a[0] for n in ast.walk() if n.k == "sym"} == {"A", "B"}


# ---- definitions of known quantities --------------------------------------------------------
def test_precision_definition_against_symdl_metrics():
    v = verify_claim(r"\text{Precision} = \frac{TP}{TP+FP}")
    assert v.status == HOLDS_NUM and "symdl.metrics.precision" in v.method
    v = verify_claim(r"\text{Recall} = \frac{TP}{TP+FP}")
    assert v.status == REFUTED and set(v.counterexample["point"]) == {"TP", "FP", "FN", "TN"}
    v = verify_claim(r"\text{F1} = \frac{2PR}{P+R}")
    assert v.status == UNDECIDED and "f1" in v.reason


def test_gelu_tanh_constant_is_explained():
    v = verify_claim(r"\mathrm{GELU}(x) = 0.5x\left(1 + \tanh\left(\sqrt{2/\pi}(x + 0.045x^3)"
                     r"\right)\right)")
    assert v.status == REFUTED
    assert "approximate='tanh'" in v.diagnosis and "0.045" in v.diagnosis
    assert "0.044715" in v.diagnosis
    v = verify_claim(r"\mathrm{GELU}(x) = 0.5x\left(1 + \tanh\left(\sqrt{2/\pi}(x + 0.044715x^3)"
                     r"\right)\right)")
    assert v.status == REFUTED and "--variant approximate=tanh" in v.diagnosis


# ---- the command line ---------------------------------------------------------------------------
def test_claim_starting_with_minus():
    code, out = run("-x=-x")
    assert code == 0 and "reading:  -x = -x" in out
    code, out = run("-q", r"-\sigma(x) = \sigma(-x) - 1")
    assert code == 0


@pytest.mark.parametrize("argv,needle", [
    (["x = x", "--timeout", "nan"], "--timeout"),
    (["x = x", "--timeout", "1e300"], "longest limit"),
    (["x = x", "--timeout", "0"], "--timeout"),
    (["--spec", "gelu", "--forward", "x", "--variant", "approximate=fast"], "none, tanh"),
    (["--spec", "gelu", "--forward", "x", "--variant", "approx=tanh"], "approximate"),
    (["--spec", "nosuchspec", "--forward", "x"], "nosuchspec"),
    (["--file", "/dev/zero"], "limit"),
    ([], "give a CLAIM"),
])
def test_clear_errors_text_and_json(argv, needle):
    code, out = run(*argv)
    assert code == 2 and needle in out and "internal error" not in out
    code, out = run(*argv, "--json")
    d = json.loads(out)
    assert code == 2 and d["exit_code"] == 2 and needle in d["error"]


def test_file_not_utf8(tmp_path):
    p = tmp_path / "notes.md"
    p.write_bytes(b"$$x = x$$ % verify\n\xff\xfe")
    code, out = run("--file", str(p), "--json")
    d = json.loads(out)
    assert code == 2 and "not UTF-8" in d["error"] and "offset" in d["error"]
    with pytest.raises(ValueError):
        verify_file(str(p))


def test_argument_errors_are_json_with_json(capsys):
    with pytest.raises(SystemExit) as e:
        run("--json", "--timeout")
    assert e.value.code == 2
    d = json.loads(capsys.readouterr().out)
    assert d["exit_code"] == 2 and "--timeout" in d["error"]


def test_every_outcome_is_json():
    for claim, code_ in ((r"x = x", 0), (r"x = x + 1", 1), (r"\log(0) = 1", 2), ("x +", 2)):
        code, out = run(claim, "--json")
        d = json.loads(out)
        assert code == code_ == d["exit_code"]


def test_api_rejects_bad_timeouts():
    for t in (float("nan"), float("inf"), 0, -1, 1e300):
        with pytest.raises(ValueError):
            verify_claim("x = x", timeout=t)
