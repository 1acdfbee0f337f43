r"""The claim parsers: readings, implicit multiplication, errors with positions,
e as Euler's number vs a symbol, and hostile input."""
import pathlib

import pytest

from symdl.verify import ParseError, parse_claim, verify_claim
from symdl.verify.build import parse_assume
from symdl.verify.nodes import render


def reading(text, **kw):
    ast, _ = parse_claim(text, **kw)
    return render(ast)


@pytest.mark.parametrize("claim,expected", [
    (r"2x = y", "2*x = y"),
    (r"ax^2 = y", "a*x^2 = y"),
    (r"1/2x = y", "(1/2)*x = y"),
    (r"\frac{1}{2}x = y", "(1/2)*x = y"),
    (r"\tanh 2x + 1 = y", "tanh(2*x) + 1 = y"),
    (r"\sin x \cos x = y", "sin(x)*cos(x) = y"),
    (r"\sigma(x)(1-\sigma(x)) = y", "sigmoid(x)*(1 - sigmoid(x)) = y"),
    (r"\sigma^2 = y", "sigma^2 = y"),
    (r"\sigma_B^2 = y", "sigma_B^2 = y"),
    (r"x_12 = y", "x_1*2 = y"),
    (r"x_{12} = y", "x_12 = y"),
    (r"x_{1} = x_1", "x_1 = x_1"),
    (r"x_{t-1} = y", "x_{t-1} = y"),
    (r"y^{(i)} = y", "y^(i) = y"),
    (r"\beta_1 g_t = y", "beta_1*g_t = y"),
    (r"\hat{m}_t = y", "mhat_t = y"),
    (r"\frac{d}{dx} x^2 + 1 = y", "d/dx[x^2] + 1 = y"),
    (r"\frac{\partial}{\partial w} w x y = y", "d/dw[w*x*y] = y"),
    (r"\frac{d^2}{dx^2} x^3 = 6x", "d^2/dx^2[x^3] = 6*x"),
    (r"\left(x + 1\right)^2 = y", "(x + 1)^2 = y"),
    (r"|x| = \left|x\right|", "abs(x) = abs(x)"),
    (r"\lfloor x \rfloor + \lceil x \rceil = \left\lfloor 2x \right\rfloor", "floor(x) + ceiling(x) = floor(2*x)"),
    (r"\operatorname{sign}(x) = \text{sgn}(x)", "sign(x) = sign(x)"),
    (r"\ln x = \log x", "log(x) = log(x)"),
    (r"\log_2 x = y", "log(x)/log(2) = y"),
    (r"\tan^{-1}(x) = \arctan x", "atan(x) = atan(x)"),
    (r"\tanh^2(x) = y", "tanh(x)^2 = y"),
    (r"\max(0, x) = \max\{x, 0\}", "max(0, x) = max(x, 0)"),
    (r"\mathrm{softplus}(x) = \mathrm{Softplus}(x)", "softplus(x) = softplus(x)"),
    (r"\mathrm{leaky\_relu}(x) = \text{LeakyReLU}(x)", "leaky_relu(x) = leaky_relu(x)"),
    (r"\mathrm{GELU}'(x) = y", "gelu'(x) = y"),
    (r"x \cdot y = x \times y", "x·y = x*y"),
    (r"\mathbf{w} \cdot \mathbf{w} = \mathbf{w}^T \mathbf{w}", "w·w = wᵀ*w"),
    (r"x \odot y = y", "x ⊙ y = y"),
    (r"\mathbf{x}^T A \mathbf{x} = y", "xᵀ*A*x = y"),
    (r"\nabla_{\mathbf{x}} \mathbf{x}^T \mathbf{x} = 2\mathbf{x}", "∇_x[xᵀ*x] = 2*x"),
    (r"0.044715 x^3 = y", "0.044715*x^3 = y"),
    (r"\begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases} = y",
     "{x if x > 0; 0 otherwise} = y"),
    (r"\begin{cases} x < 0 & 0 \\ x \geq 0 & x \end{cases} = y", "{0 if x < 0; x if x >= 0} = y"),
    (r"\begin{cases} 1, & x \in [-1, 1] \\ 0, & \text{otherwise} \end{cases} = y",
     "{1 if x >= -1 and x <= 1; 0 otherwise} = y"),
    (r"a = b = c", "a = b = c"),
    (r"x = y \quad (17)", "x = y"),
    (r"x = y.", "x = y"),
])
def test_reading(claim, expected):
    assert reading(claim) == expected


@pytest.mark.parametrize("claim,expected", [
    ("x**2 == x*x", "x^2 = x*x"),
    ("diff(tanh(x), x) == 1 - tanh(x)**2", "d/dx[tanh(x)] = 1 - tanh(x)^2"),
    ("Piecewise((x, x > 0), (0, True)) == relu(x)", "{x if x > 0; 0 otherwise} = relu(x)"),
    ("2**3**2 == 512", "2^(3^2) = 512"),
    ("beta_1 * g_t = exp(log(beta_1 * g_t))", "beta_1*g_t = exp(log(beta_1*g_t))"),
])
def test_reading_sympy_syntax(claim, expected):
    assert reading(claim, sympy_syntax=True) == expected


@pytest.mark.parametrize("claim,column,fragment", [
    (r"\tanh(x) = \frac{2}{1+e^{-2x} - 1", 34, "expected '}'"),
    (r"x + = 1", 5, "expected a value"),
    (r"x +", 4, "end of the claim"),
    (r"\foo{x} = 1", 1, "unknown command"),
    (r"\tanh(x) = x)", 13, "expected an operator"),
    (r"x^2", 4, "expected '='"),
    (r"x \approx y", 3, "not an equality"),
    (r"f(x) = x", 1, "no known function"),
    (r"\frac{dy}{dx} = 1", 8, "unknown quantity"),
    (r"x \le y", 3, "inequalities"),
    (r"\begin{cases} 0 & x < 0 \\ ? & x = 0 \end{cases} = y", 28, "unknown value"),
    (r"\begin{matrix} 1 \end{matrix} = y", 1, "not supported"),
    (r"x = \max(1)", 5, "at least two"),
    (r"x = y # z", 7, "unexpected character"),
    (r"\lfloor x = x", 11, "closing the '\\lfloor' at column 1"),
])
def test_parse_errors_have_positions(claim, column, fragment):
    with pytest.raises(ParseError) as ei:
        parse_claim(claim)
    err = ei.value
    assert fragment in err.message
    assert err.pos + 1 == column, (err.message, err.pos + 1)
    caret = err.caret().splitlines()
    assert caret[1].index("^") == err.pos


def test_parse_error_verdict_shows_caret():
    v = verify_claim(r"\tanh(x) = \frac{2}{1+e^{-2x} - 1")
    assert v.status == "undecided" and v.exit_code == 2
    assert v.parse_error["column"] == 34
    assert v.parse_error["caret"].splitlines()[1].endswith("^")


def test_e_is_euler_unless_assumed():
    assert reading(r"e^x = y") == "e^x = y"
    ast, a = parse_claim(r"e^x = y")
    assert ast.a[0][0].a[0].k == "const"
    assert verify_claim(r"\frac{d}{dx} e^x = e^x").status == "holds"
    assert verify_claim(r"e^{\ln 2} = 2").status == "holds"
    assert verify_claim(r"e = 2.718281828").status == "refuted"
    # declared a symbol: e^x is no longer exp(x)
    ast, a = parse_claim(r"e^x = y", assume="e > 0")
    assert a.e_symbol and ast.a[0][0].a[0].k == "sym"
    v = verify_claim(r"e^x = \exp(x)", assume="e > 0")
    assert v.status == "refuted"
    assert verify_claim(r"e x = x e", assume="e symbol").status == "holds"
    # a subscripted e is always a symbol
    assert reading(r"e_1 + e = y") == "e_1 + e = y"
    ast, _ = parse_claim(r"e_1 = y")
    assert ast.a[0][0].k == "sym"


def test_assume_parsing():
    a = parse_assume(r"a>0, 0<\beta_1<1, t integer, n \neq 0, b >= 0")
    assert a.sympy_kwargs("a")["positive"]
    assert a.sympy_kwargs("beta_1")["positive"]
    assert a.bounds["beta_1"][2] == 1
    assert a.sympy_kwargs("t")["integer"]
    assert a.sympy_kwargs("n")["nonzero"]
    assert a.sympy_kwargs("b")["nonnegative"]
    assert not a.e_symbol
    with pytest.raises(ParseError):
        parse_assume("a > b")
    with pytest.raises(ParseError):
        parse_assume("a >")


def test_bound_spec_letter():
    assert reading("f'(x) = f(x)(1 - f(x))", functions={"f": "sigmoid"}) == \
        "sigmoid'(x) = sigmoid(x)*(1 - sigmoid(x))"


HOSTILE = [
    "__import__('os').system('x')",
    "__import__(\"os\").system(\"touch /tmp/pwned\")",
    r"\x",
    r"\x = 1",
    "eval('1+1') = 2",
    "lambda: 1 = 1",
    "().__class__.__bases__[0] = 1",
    "exec(open('f').read()) = 0",
    r"\input{/etc/passwd} = 1",
    r"\def\x{1} = 1",
    "x = 1; import os",
    "\x00\x01 = 1",
    "{" * 500 + "x" + "}" * 500 + " = x",
    "(" * 2000 + "x" + ")" * 2000 + " = x",
    "x" * 5000 + " = 1",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("sympy_syntax", [False, True])
def test_hostile_input_is_a_clean_parse_error(text, sympy_syntax, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    v = verify_claim(text, sympy_syntax=sympy_syntax, timeout=3)
    assert v.status == "undecided"
    assert v.exit_code == 2
    assert "internal error" not in v.reason
    assert not pathlib.Path("/tmp/pwned").exists()
    assert list(tmp_path.iterdir()) == []


def test_no_string_evaluation_in_the_sources():
    import re

    import symdl.verify as pkg

    root = pathlib.Path(pkg.__file__).parent
    bad = re.compile(r"(?<![\w.])(sympify|parse_expr|eval|exec|lambdify|parse_latex)\(|"
                     r"sp\.(sympify|parse_expr|lambdify|S)\(|sympy\.parsing|__import__")
    for path in root.glob("*.py"):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if code.strip().startswith(("r\"\"\"", "\"\"\"", "``")) or "``" in code:
                continue
            assert not bad.search(code), f"{path.name}:{i}: {line.strip()}"


def test_floor_and_ceiling_brackets_are_checked():
    from symdl.verify import REFUTED, verify_claim

    assert verify_claim(r"\lfloor x + 1 \rfloor = \lfloor x \rfloor + 1").holds
    v = verify_claim(r"\lceil x \rceil - \lfloor x \rfloor = 1")      # false at the integers
    assert v.status == REFUTED and v.counterexample
