"""LaTeX as a reader of the notes expects it: constants as decimals, and a
whole derivation as a compilable document.

SymPy keeps the catalog's constants exact (0.044715 is ``8943/200000``), which
is right for the algebra and wrong for a reader: ``tex`` prints a rational
whose decimal expansion terminates (denominator 2^a 5^b, at least 100) as that
decimal, exactly, and leaves 1/2, 3/4, 1/3 as fractions.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from decimal import Decimal, localcontext
from pathlib import Path

import sympy as sp

__all__ = ["decimals", "tex", "document", "render_pdf", "tex_engine"]


def _terminating(q: int) -> bool:
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def _as_decimal(r: sp.Rational) -> sp.Float:
    with localcontext() as ctx:
        ctx.prec = 200
        text = format((Decimal(int(r.p)) / Decimal(int(r.q))).normalize(), "f")
    digits = len(text.replace("-", "").replace(".", "").lstrip("0")) or 1
    return sp.Float(text, max(15, digits + 1))


def _nice(r) -> bool:
    return (isinstance(r, sp.Rational) and not r.is_Integer and r.q >= 100
            and _terminating(int(r.q)) and abs(r) >= sp.Rational(1, 1000))


def _distribute(m):
    """r·(a + b)·rest -> (r·a + r·b)·rest for a rational r that cleared the
    denominators of a sum (8943 x² + 200000)/200000 -> 0.044715 x² + 1, when
    every new coefficient reads as a decimal."""
    coeff, rest = m.as_coeff_Mul()
    adds = [f for f in sp.Mul.make_args(rest) if f.is_Add]
    if not isinstance(coeff, sp.Rational) or coeff.is_Integer or len(adds) != 1:
        return m
    new = sp.Add(*[coeff * t for t in adds[0].args])
    coeffs = [t.as_coeff_Mul()[0] for t in sp.Add.make_args(new)]
    if not all(c.is_Integer or _nice(c) or c.q <= 16 for c in coeffs):
        return m
    others = [f for f in sp.Mul.make_args(rest) if f is not adds[0]]
    return sp.Mul(new, *others)


def decimals(expr):
    """``expr`` with every terminating rational of denominator >= 100 (and
    magnitude >= 1e-3) as an
    exact decimal Float (for printing only: do not compute with the result)."""
    expr = sp.sympify(expr)
    expr = expr.replace(lambda a: a.is_Mul, _distribute)
    return expr.replace(_nice, _as_decimal)


def tex(expr, **kw) -> str:
    """``sp.latex`` of ``expr`` with decimal constants."""
    return sp.latex(decimals(expr), **kw)


_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[a4paper,landscape,margin=1.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{breqn}
\setlength{\parindent}{0pt}
\DeclareMathOperator{\sech}{sech}
\providecommand{\operatorname}[1]{\mathrm{#1}}
\title{%s}
\author{symdl}
\begin{document}
\maketitle
"""


_SYMBOLS = {"MIDDLE DOT": r"\cdot", "MULTIPLICATION SIGN": r"\times", "MINUS SIGN": "-",
            "SQUARE ROOT": r"\surd", "INFINITY": r"\infty", "PLUS-MINUS SIGN": r"\pm",
            "LESS-THAN OR EQUAL TO": r"\leq", "GREATER-THAN OR EQUAL TO": r"\geq",
            "RIGHTWARDS ARROW": r"\to", "LEFTWARDS ARROW": r"\leftarrow",
            "ELEMENT OF": r"\in", "N-ARY SUMMATION": r"\sum", "PARTIAL DIFFERENTIAL": r"\partial",
            "NABLA": r"\nabla", "CIRCLED TIMES": r"\otimes", "CIRCLED DOT OPERATOR": r"\odot",
            "DOUBLE VERTICAL LINE": r"\|", "ALMOST EQUAL TO": r"\approx", "NOT EQUAL TO": r"\neq"}
_SUPER = {"SUPERSCRIPT TWO": "2", "SUPERSCRIPT THREE": "3", "SUPERSCRIPT ONE": "1",
          "SUPERSCRIPT MINUS": "-", "SUPERSCRIPT LATIN SMALL LETTER N": "n"}


def _unicode(ch: str) -> str:
    """A non-ASCII character of a spec's doc text as pdflatex-safe LaTeX."""
    import unicodedata

    name = unicodedata.name(ch, "")
    if name.startswith("GREEK "):
        letter = name.split()[-1].lower()
        letter = {"lamda": "lambda", "final": "varsigma"}.get(letter, letter)
        if "CAPITAL" in name:
            letter = letter.capitalize()
        if letter in ("Alpha", "Beta", "Epsilon", "Zeta", "Eta", "Iota", "Kappa", "Mu", "Nu",
                      "Omicron", "Rho", "Tau", "Chi"):
            return r"\ensuremath{\mathrm{%s}}" % unicodedata.lookup(
                "LATIN CAPITAL LETTER " + {"Eta": "H", "Chi": "X", "Rho": "P"}.get(letter, letter[0]))
        return r"\ensuremath{\%s}" % letter
    if name in _SYMBOLS:
        return r"\ensuremath{%s}" % _SYMBOLS[name]
    if name in _SUPER:
        return r"\textsuperscript{%s}" % _SUPER[name]
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return decomposed or "?"


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ord(ch) > 127:
            out.append(_unicode(ch))
            continue
        out.append({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                    "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                    "^": r"\textasciicircum{}"}.get(ch, ch))
    return "".join(out)


def document(latex_lines: str, title: str, code: dict | None = None) -> str:
    """A compilable LaTeX document from ``symdl latex`` output: comment lines
    (``% ...``) become text, every other line a displayed equation (breqn's
    ``dmath*`` breaks long ones); ``code``: {caption: source} printed verbatim."""
    body = []
    for line in latex_lines.splitlines():
        if not line.strip():
            body.append("")
            continue
        if line.startswith("%"):
            body.append(_escape(line.lstrip("% ").rstrip()) + r"\par")
            continue
        label, sep, eq = line.partition(r"\quad ")
        m = re.fullmatch(r"\\text\{(.*)\}", label.strip())
        if sep and m and "\\" not in m.group(1).replace(r"\ ", ""):
            body.append(r"\textbf{%s}" % _escape(m.group(1).rstrip(":")))
            line = eq
        if "=" in line and "&" not in line:     # breqn breaks long equations
            body.append(r"\begin{dmath*}" + "\n" + line + "\n" + r"\end{dmath*}")
        else:
            body.append(r"\[" + line + r"\]")
    for caption, src in (code or {}).items():
        body.append(r"\subsection*{%s}" % _escape(caption))
        body.append(r"\begin{verbatim}" + "\n" + src.rstrip() + "\n" + r"\end{verbatim}")
    return _PREAMBLE % _escape(title) + "\n".join(body) + "\n\\end{document}\n"


def tex_engine() -> str | None:
    """The first TeX engine on PATH (pdflatex, lualatex, xelatex), or None."""
    for name in ("pdflatex", "lualatex", "xelatex"):
        if shutil.which(name):
            return name
    return None


def render_pdf(tex_path, timeout: float = 120.0) -> Path:
    """Compile ``tex_path`` into a PDF beside it; raises RuntimeError with the
    engine's first error line when it fails, FileNotFoundError without one."""
    tex_path = Path(tex_path)
    engine = tex_engine()
    if engine is None:
        raise FileNotFoundError("no TeX engine (pdflatex, lualatex or xelatex) on PATH: "
                                "install one (Debian: apt-get install texlive-latex-extra) "
                                "or compile the .tex elsewhere")
    with tempfile.TemporaryDirectory() as work:
        r = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error",
                            f"-output-directory={work}", str(tex_path.resolve())],
                           capture_output=True, text=True, timeout=timeout)
        pdf = Path(work) / (tex_path.stem + ".pdf")
        if r.returncode != 0 or not pdf.exists():
            err = next((ln for ln in r.stdout.splitlines() if ln.startswith("!")), r.stdout[-400:])
            raise RuntimeError(f"{engine} could not compile {tex_path}: {err}")
        target = tex_path.with_suffix(".pdf")
        shutil.move(str(pdf), target)
    return target
