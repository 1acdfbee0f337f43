"""Tokenizer for claims (LaTeX and the small Python-like ``--sympy`` syntax).

The tokenizer never evaluates anything: it only splits the text into tokens
that carry their column, so that parse errors can point at the spot.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_LENGTH = 4000


class ParseError(Exception):
    """A claim that cannot be read; ``pos`` is the 0-based column."""

    def __init__(self, message: str, text: str = "", pos: int = 0):
        super().__init__(message)
        self.message = message
        self.text = text
        self.pos = max(0, min(pos, len(text)))

    def caret(self) -> str:
        """The offending line with a caret under the column."""
        line_start = self.text.rfind("\n", 0, self.pos) + 1
        line_end = self.text.find("\n", self.pos)
        if line_end < 0:
            line_end = len(self.text)
        line = self.text[line_start:line_end]
        col = self.pos - line_start
        return f"{line}\n{' ' * col}^"

    def __str__(self):
        return f"{self.message} (column {self.pos + 1})"


@dataclass(frozen=True)
class Tok:
    kind: str   # NUM LETTER IDENT CMD OP EOF
    value: str
    pos: int
    end: int

    def __repr__(self):
        return f"{self.kind}:{self.value}@{self.pos}"


# Unicode characters a user may paste from a PDF.
_UNICODE = {
    "−": "-", "–": "-", "·": r"\cdot ", "×": r"\times ", "⊙": r"\odot ", "≤": r"\le ",
    "≥": r"\ge ", "≠": r"\ne ", "∇": r"\nabla ", "∂": r"\partial ", "√": r"\sqrt ",
    "π": r"\pi ", "α": r"\alpha ", "β": r"\beta ", "γ": r"\gamma ", "δ": r"\delta ",
    "ε": r"\epsilon ", "η": r"\eta ", "θ": r"\theta ", "λ": r"\lambda ", "μ": r"\mu ",
    "σ": r"\sigma ", "τ": r"\tau ", "φ": r"\phi ", "ω": r"\omega ", "ρ": r"\rho ",
    "≈": r"\approx ",
}

def _dig(ch: str) -> bool:
    return "0" <= ch <= "9"


_SINGLE = set("+-*/^_=<>()[]{}|&,'!:;.?")


def _check_length(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise ParseError(f"claim too long ({len(text)} characters, at most {MAX_LENGTH})",
                         text, MAX_LENGTH)


def _digits_end(text: str, j: int) -> int:
    """The end of the run of digits starting at j."""
    while j < len(text) and _dig(text[j]):
        j += 1
    return j


def _starts_number(text: str, i: int) -> bool:
    return _dig(text[i]) or (text[i] == "." and i + 1 < len(text) and _dig(text[i + 1]))


def _number_end(text: str, i: int, python: bool) -> int:
    """The end of the number starting at i: digits, a fraction (LaTeX needs a
    digit after the point, Python does not) and, in Python, an exponent."""
    n = len(text)
    j = _digits_end(text, i)
    if j < n and text[j] == "." and (python or (j + 1 < n and _dig(text[j + 1]))):
        j = _digits_end(text, j + 1)
    if python and j < n and text[j] in "eE" and j + 1 < n and (_dig(text[j + 1]) or (
            text[j + 1] in "+-" and j + 2 < n and _dig(text[j + 2]))):
        j = _digits_end(text, j + 2)
    return j


def tokenize_latex(text: str) -> list[Tok]:
    _check_length(text)
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c == "~":
            i += 1
            continue
        if c in _UNICODE:
            sub = tokenize_latex(_UNICODE[c].strip())
            toks.extend(Tok(t.kind, t.value, i, i + 1) for t in sub if t.kind != "EOF")
            i += 1
            continue
        if c == "\\":
            if i + 1 >= n:
                raise ParseError("a lone backslash at the end", text, i)
            d = text[i + 1]
            if d.isalpha() and d.isascii():
                j = i + 1
                while j < n and text[j].isascii() and text[j].isalpha():
                    j += 1
                toks.append(Tok("CMD", text[i + 1:j], i, j))
                i = j
                continue
            if d == "\\":
                toks.append(Tok("OP", "\\\\", i, i + 2))
            elif d in ",;:! >":
                pass  # spacing
            elif d in "{}":
                toks.append(Tok("OP", "\\" + d, i, i + 2))
            elif d == "|":
                toks.append(Tok("OP", "\\|", i, i + 2))
            elif d == "_":
                toks.append(Tok("OP", "_", i, i + 2))
            else:
                raise ParseError(f"unknown command '\\{d}'", text, i)
            i += 2
            continue
        if _starts_number(text, i):
            j = _number_end(text, i, python=False)
            toks.append(Tok("NUM", text[i:j], i, j))
            i = j
            continue
        if c.isascii() and c.isalpha():
            toks.append(Tok("LETTER", c, i, i + 1))
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("<=", ">=", "!=", ":="):
            toks.append(Tok("OP", two, i, i + 2))
            i += 2
            continue
        if c in _SINGLE:
            toks.append(Tok("OP", c, i, i + 1))
            i += 1
            continue
        raise ParseError(f"unexpected character {c!r}", text, i)
    toks.append(Tok("EOF", "", n, n))
    return toks


def tokenize_python(text: str) -> list[Tok]:
    """Tokens of the ``--sympy`` syntax: identifiers, numbers, operators."""
    _check_length(text)
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if _starts_number(text, i):
            j = _number_end(text, i, python=True)
            toks.append(Tok("NUM", text[i:j], i, j))
            i = j
            continue
        if (c.isascii() and c.isalpha()) or c == "_":
            j = i
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            toks.append(Tok("IDENT", text[i:j], i, j))
            i = j
            continue
        two = text[i:i + 2]
        if two in ("**", "==", "<=", ">=", "!="):
            toks.append(Tok("OP", two, i, i + 2))
            i += 2
            continue
        if c in "+-*/^()=<>,'&|~":
            toks.append(Tok("OP", c, i, i + 1))
            i += 1
            continue
        raise ParseError(f"unexpected character {c!r}", text, i)
    toks.append(Tok("EOF", "", n, n))
    return toks
