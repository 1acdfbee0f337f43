r"""Property tests: random and mutated LaTeX never crashes or hangs, and true
identities stay true under renaming of their variables."""
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symdl.verify import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, verify_claim
from symdl.verify.check import time_limit

LIMIT = 1.5
SLACK = 2.0
VERDICTS = {HOLDS, HOLDS_NUM, REFUTED, UNDECIDED}

FRAGMENTS = [
    "x", "y", "a", "2", "0.5", "10", "+", "-", "*", "/", r"\frac{", "}{", "}", "{", "(", ")",
    "^", "_", "^{", r"\tanh", r"\sigma", r"\sigma(", "|", "=", "=", r"\cdot", "e", r"\pi",
    r"\begin{cases}", "&", r"\\", r"\end{cases}", r"\left(", r"\right)", r"\sqrt{", r"\ln",
    r"\mathrm{softplus}", r"\mathrm{relu}", "'", r"\frac{d}{dx}", "<", r"\le", ">", ",",
    r"\text{otherwise}", r"\mathbf{x}", "^T", r"\nabla_{\mathbf{x}}", "A", r"\max(", r"\exp",
    r"\beta_1", "g_t", r"\odot", r"\operatorname{sign}", r"\erf", " ", "x^2", "1", "0",
    r"\text{for }", r"\in [", "]", r"\frac{\partial}{\partial w}", "w", r"\hat{m}_t", "!",
    "?", "$", "\\", "%", "~", "x_{1}", "^{(i)}", r"\sin", r"\mathrm{GELU}",
]

TRUE_CLAIMS = [
    r"\tanh(x) = \frac{2}{1+e^{-2x}} - 1",
    r"\frac{d}{dx}\mathrm{softplus}(x) = \sigma(x)",
    r"\sigma'(x) = \sigma(x)(1 - \sigma(x))",
    r"\max(0, x) = \frac{x + |x|}{2}",
    r"\begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases} = \mathrm{relu}(x)",
    r"\nabla_{\mathbf{x}} \mathbf{x}^T A \mathbf{x} = (A + A^T)\mathbf{x}",
    r"\frac{\beta_1 (1-\beta_1) g_1 + (1-\beta_1) g_2}{1-\beta_1^2} = \frac{\beta_1 g_1 + g_2}{1+\beta_1}",
]


def check_verdict(text, **kw):
    t0 = time.monotonic()
    v = verify_claim(text, timeout=LIMIT, **kw)
    elapsed = time.monotonic() - t0
    assert v.status in VERDICTS
    assert elapsed < LIMIT + SLACK, f"{text!r} took {elapsed:.1f}s"
    assert "internal error" not in v.reason, f"{text!r}: {v.reason} {v.notes}"
    if v.status == UNDECIDED and v.parse_error:
        assert v.parse_error["caret"].splitlines()[-1].strip() == "^"
    d = v.to_dict()
    assert d["exit_code"] in (0, 1, 2)
    return v


FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FAST
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14))
def test_random_latex_never_crashes(frags):
    check_verdict("".join(frags))


@FAST
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=10),
       st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=10))
def test_random_equations_never_crash(left, right):
    check_verdict("".join(left) + " = " + "".join(right))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text):
    check_verdict(text)
    check_verdict(text, sympy_syntax=True)


@FAST
@given(st.sampled_from(TRUE_CLAIMS), st.data())
def test_mutated_claims_never_crash(claim, data):
    s = claim
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(s)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "swap"]))
        ch = data.draw(st.sampled_from(list("{}()[]|^_\\&=+-*/x0123 e'") + [r"\frac", r"\\"]))
        if op == "delete" and i < len(s):
            s = s[:i] + s[i + 1:]
        elif op == "insert":
            s = s[:i] + ch + s[i:]
        elif op == "replace" and i < len(s):
            s = s[:i] + ch + s[i + 1:]
        elif op == "swap" and i + 1 < len(s):
            s = s[:i] + s[i + 1] + s[i] + s[i + 2:]
    check_verdict(s)


RENAMEABLE = [
    # (template with {v}, holds)
    r"\tanh({v}) = \frac{{2}}{{1+e^{{-2{v}}}}} - 1",
    r"\frac{{d}}{{d{v}}}\ln(1 + e^{{{v}}}) = \sigma({v})",
    r"\mathrm{{softplus}}'({v}) = \frac{{1}}{{1 + e^{{-{v}}}}}",
    r"\max(0, {v}) = \frac{{{v} + |{v}|}}{{2}}",
    r"\frac{{d}}{{d{v}}} \frac{{{v}}}{{1+|{v}|}} = \frac{{1}}{{(1+|{v}|)^2}}",
    r"\begin{{cases}} {v} & {v} > 0 \\ 0 & \text{{otherwise}} \end{{cases}} = \mathrm{{relu}}({v})",
    r"({v} + 1)^2 = {v}^2 + 2{v} + 1",
]
NAMES = ["x", "y", "z", "a", "b", "u", "w", "t", "p", "q", r"\alpha", r"\theta", r"\lambda",
         "x_1", "w_{t}", r"\beta_2", r"\hat{m}_t", "g_{t-1}", r"\text{lr}", "s"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RENAMEABLE), st.sampled_from(NAMES))
def test_true_identities_hold_under_renaming(template, name):
    claim = template.format(v=name)
    v = verify_claim(claim, timeout=10)
    assert v.status in (HOLDS, HOLDS_NUM), (claim, v.status, v.reason, v.counterexample)


def test_time_limit_interrupts_a_slow_check(monkeypatch):
    import symdl.verify.check as C

    def forever(*a, **k):
        while True:
            pass

    monkeypatch.setattr(C, "numeric_check", forever)
    monkeypatch.setattr(C, "prove_zero", lambda d: None)
    t0 = time.monotonic()
    v = verify_claim(r"\tanh(x) = \frac{2}{1+e^{-2x}} - 1", timeout=1.0)
    assert time.monotonic() - t0 < 3
    assert v.status == UNDECIDED and "time limit" in v.reason


def test_time_limit_interrupts_slow_simplify():
    # a large expansion: the symbolic share is interrupted, the sampler still decides
    t0 = time.monotonic()
    v = verify_claim(r"((a+b+c+d)(a-b+c-d))^{25} = ((a+c)^2-(b+d)^2)^{25}", timeout=1.5)
    assert time.monotonic() - t0 < 1.5 + SLACK
    assert v.status in (HOLDS, HOLDS_NUM, UNDECIDED)


def test_nested_time_limits():
    with time_limit(5) as outer:
        with time_limit(0.2) as inner:
            while True:
                pass
        assert inner.expired
    assert not outer.expired
