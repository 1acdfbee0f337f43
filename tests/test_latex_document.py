"""`symdl latex`: decimal constants, the generated kernel under --steps, and
a compilable document (--document, --pdf where a TeX engine exists)."""
import sympy as sp
import pytest

from symdl.cli import main
from symdl.derive.tex import decimals, document, render_pdf, tex, tex_engine


def test_decimals_print_terminating_constants_and_keep_simple_fractions():
    x = sp.Symbol("x")
    assert tex(sp.Rational(8943, 200000) * x**3) == "0.044715 x^{3}"
    assert tex(x / 2) == r"\frac{x}{2}" and tex(x / 3) == r"\frac{x}{3}"
    assert tex(sp.Rational(3, 4) * x) == r"\frac{3 x}{4}"
    assert "400000" in tex(x / 400000)                   # tiny scales stay fractions
    assert tex(sp.Rational(10507009873554804934193349852946, 10**31)) == \
        "1.0507009873554804934193349852946"            # every digit, exactly
    e = sp.Rational(8943, 200000) * x + 1
    assert decimals(e) != e and sp.nsimplify(decimals(e), rational=True) == e


def test_latex_prints_decimals_and_the_kernel(capsys):
    assert main(["latex", "gelu_sigmoid", "--steps"]) == 0    # x·σ(1.702 x)
    out = capsys.readouterr().out
    defs = [ln for ln in out.splitlines() if ln.startswith((r"\text{definition", r"\text{derivative",
                                                           r"\text{stable forward"))]
    assert any("1.702" in ln for ln in defs) and not any("851" in ln for ln in defs)
    assert "% ---- kernel gelu_sigmoid_forward_backward_f64" in out
    assert "%   def _py_gelu_sigmoid_forward_backward_f64(x, g, out, out_dx):" in out
    assert main(["latex", "softmax", "--steps"]) == 0
    assert "_forward_backward_f64(" in capsys.readouterr().out


def test_document_is_self_contained(tmp_path, capsys):
    path = tmp_path / "mish.tex"
    assert main(["latex", "mish", "--document", str(path)]) == 0
    text = path.read_text()
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    assert r"\begin{verbatim}" in text and "def _py_mish_forward_backward_f64" in text
    assert "·" not in text and r"\ensuremath{\cdot}" in text    # pdflatex-safe text
    assert text.count(r"\begin{dmath*}") == text.count(r"\end{dmath*}") > 3


@pytest.mark.skipif(tex_engine() is None, reason="no TeX engine on this machine")
@pytest.mark.parametrize("name", ["softplus", "softmax", "adam"])
def test_document_compiles(tmp_path, name, capsys):
    path = tmp_path / f"{name}.tex"
    assert main(["latex", name, "--document", str(path), "--pdf"]) == 0
    pdf = path.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_render_pdf_without_engine(tmp_path, monkeypatch):
    import symdl.derive.tex as T
    monkeypatch.setattr(T, "tex_engine", lambda: None)
    p = tmp_path / "a.tex"
    p.write_text(document("x = 1", "t"))
    with pytest.raises(FileNotFoundError, match="no TeX engine"):
        render_pdf(p)
