r"""``symdl verify``: check the formulas in a student's notes.

>>> verify_claim(r"\tanh(x) = \frac{2}{1+e^{-2x}} - 1").status
'holds'

Public API:
  verify_claim(text, *, assume="", sympy_syntax=False, timeout=10.0) -> Verdict
  verify_spec(name, *, forward=None, derivative=None, ...) -> list[Verdict]
  verify_file(path, *, timeout=10.0) -> list[Verdict]
"""
from __future__ import annotations

import re
import time
import traceback

# no SymPy at import: `symdl train` and the other subcommands build their
# parser with this package imported (symdl.verify.cli); check loads it on use
from .lexer import ParseError
from .nodes import Node, render
from .parse import _spec_names, parse_claim  # noqa: F401  (public: symdl.verify.parse_claim)
from .run import _capital_note, _parse_error_verdict, _run  # noqa: F401  (run.py: one claim under a time limit)
from .timelimit import ClaimTimeout, time_limit  # noqa: F401
from .verdict import HOLDS, HOLDS_NUM, REFUTED, UNDECIDED, Verdict

__all__ = ["verify_claim", "verify_spec", "verify_file", "Verdict", "ParseError",
           "HOLDS", "HOLDS_NUM", "REFUTED", "UNDECIDED", "parse_claim", "FileError",
           "check_variant"]

#: the longest time limit per claim (seconds); longer asks are refused, not clipped
MAX_TIMEOUT = 3600.0
#: the largest notes file read by verify_file (bytes); /dev/zero stops here
MAX_FILE_BYTES = 4_000_000


class FileError(ValueError):
    """A notes file that cannot be read as UTF-8 text within the size limit."""


def _check_timeout(timeout) -> float:
    import math

    t = float(timeout)
    if not math.isfinite(t) or t <= 0 or t > MAX_TIMEOUT:
        raise ValueError(f"timeout must be a finite number of seconds in (0, {MAX_TIMEOUT:g}], "
                         f"got {timeout!r}")
    return t


def check_variant(spec_name: str, variant: dict) -> None:
    """ValueError naming the valid choices unless ``variant`` picks real choices of the spec."""
    import symdl.specs as S

    spec = S.get(spec_name)
    if getattr(spec, "family", "activation") == "cell":
        return
    params = {p.name: p for p in (getattr(spec, "choice_params", None) or getattr(spec, "choices", ()))}
    for k, val in variant.items():
        if k not in params:
            have = ", ".join(sorted(params)) or "none"
            raise ValueError(f"{spec.name} has no choice parameter {k!r} (its choice parameters: "
                             f"{have})")
        if isinstance(val, str) and all(isinstance(c, bool) for c in params[k].choices) \
                and val.lower() in ("true", "false", "1", "0"):
            val = variant[k] = val.lower() in ("true", "1")   # --variant amsgrad=True
        if val not in params[k].choices:
            raise ValueError(f"{spec.name}: {k}={val!r} is not a choice; valid choices for {k}: "
                             + ", ".join(map(str, params[k].choices)))


def verify_claim(text: str, *, assume: str = "", sympy_syntax: bool = False,
                 timeout: float = 10.0, spec: str | None = None, variant: dict | None = None) -> Verdict:
    """Check one claim.  ``spec`` binds the letter f to a registered spec."""
    timeout = _check_timeout(timeout)
    if spec and variant:
        check_variant(spec, variant)
    if spec and _family_of(spec):   # a loss, an optimizer rule or a schedule
        from .families import verify_family_claim
        return verify_family_claim(spec, text, assume=assume, timeout=timeout, variant=variant)
    functions = {"f": spec} if spec else None

    def make():
        if spec:
            import symdl.specs as S
            S.get(spec, family="activation")
        return parse_claim(text, assume=assume, sympy_syntax=sympy_syntax, functions=functions)

    return _run(text, make, timeout, variants={spec: variant} if spec and variant else None)


def verify_spec(name: str, *, forward: str | None = None, derivative: str | None = None,
                assume: str = "", sympy_syntax: bool = False, timeout: float = 10.0,
                variant: dict | None = None) -> list:
    """Check a claimed forward formula and/or derivative against spec ``name``.

    Each text is either an expression (compared with f(x) or f'(x)) or an
    equation in which f names the spec (``f'(x) = f(x)(1-f(x))``)."""
    import symdl.specs as S

    if name in S.FAMILIES["normalization"]:   # batch_norm, ...: a per-group backward formula
        from .normalization import verify_norm_spec
        return verify_norm_spec(name, forward=forward, derivative=derivative, sympy_syntax=sympy_syntax)
    if _family_of(name):   # a loss's term and derivative, a schedule's closed form
        return _verify_family_spec(name, forward=forward, derivative=derivative, assume=assume,
                                   timeout=_check_timeout(timeout), variant=variant)
    S.get(name, family="activation")  # UnknownNameError with close matches
    timeout = _check_timeout(timeout)
    if variant:
        check_variant(name, variant)
    out = []
    for order, text in ((0, forward), (1, derivative)):
        if text is None:
            continue

        def make(text=text, order=order):
            functions = {"f": name}
            try:
                return parse_claim(text, assume=assume, sympy_syntax=sympy_syntax,
                                   functions=functions)
            except ParseError as err:
                if "expected '='" not in err.message:
                    raise
            expr, a = parse_claim(text, assume=assume, sympy_syntax=sympy_syntax,
                                  functions=functions, expression=True)
            lhs = Node("spec", name, order, [Node("sym", "x", False)])
            return Node("claim", [lhs, expr]), a

        label = f"{name}{chr(39) * order}(x) = {text}" if "=" not in text else text
        v = _run(text, make, timeout, variants={name: variant} if variant else None)
        v.claim = label
        out.append(v)
    return out


def _family_of(name: str):
    """'loss', 'optimizer' or 'schedule' when ``name`` is such a spec (catalog or user)."""
    import symdl.specs as S
    from symdl.errors import UnknownNameError

    from .families import family_of

    try:
        return family_of(S.get(name))
    except UnknownNameError:
        return None


def _verify_family_spec(name, *, forward, derivative, assume, timeout, variant) -> list:
    from .families import verify_family_claim

    fam = _family_of(name)
    if variant:
        check_variant(name, variant)
    lhs = {"loss": (r"\ell", r"\frac{\partial \ell}{\partial x}"),
           "schedule": (r"\eta_t", None), "optimizer": (None, None)}[fam]
    out = []
    for text, side in ((forward, lhs[0]), (derivative, lhs[1])):
        if text is None:
            continue
        if side is None:
            v = Verdict(UNDECIDED, claim=text)
            v.reason = (f"{name} is {'an optimizer rule' if fam == 'optimizer' else 'a schedule'}: "
                        "give its equation as the claim (" + (r"m_t = \beta_1 m_{t-1} + ..."
                        if fam == "optimizer" else r"\eta_t = ...") + ")")
            out.append(v)
            continue
        from .families import split_claim
        if split_claim(text) is not None:
            out.append(verify_family_claim(name, text, assume=assume, timeout=timeout,
                                           variant=variant))
        else:
            out.append(verify_family_claim(name, text, assume=assume, timeout=timeout,
                                           variant=variant, lhs_text=side))
    return out


# ---- notes files ---------------------------------------------------------------------------
_MARK = re.compile(r"%\s*verify\b(.*)$", re.M)


def extract_claims(text: str) -> list:
    """[(line, claim, assume)] from marked display equations and ```verify blocks."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```") and s[3:].strip().lower().startswith("verify"):
            block_assume = _assume_of(s[3:].strip()[6:])
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body = lines[i].strip()
                if body and not body.startswith(("#", "%")):
                    m = _MARK.search(body)
                    assume = block_assume
                    if m:
                        body = body[:m.start()].strip()
                        assume = _assume_of(m.group(1)) or assume
                    out.append((i + 1, _strip_math(body), assume))
                elif body.startswith("%") and "assume" in body:
                    block_assume = _assume_of(body.lstrip("%").strip())
                i += 1
            i += 1
            continue
        # display math: $$ ... $$ or \[ ... \] (possibly several lines)
        for open_, close in (("$$", "$$"), ("\\[", "\\]")):
            if s.startswith(open_):
                start = i
                buf = [line.split(open_, 1)[1]]
                j = i
                while close not in buf[-1] and j + 1 < len(lines):
                    j += 1
                    buf.append(lines[j])
                joined = "\n".join(buf)
                body, _, after = joined.partition(close)
                mark = _MARK.search(after) or _MARK.search(body) or (
                    _MARK.search(lines[start - 1]) if start > 0 and lines[start - 1].strip().startswith("%") else None)
                if mark:
                    m_in = _MARK.search(body)
                    if m_in:
                        body = body[:m_in.start()] + body[m_in.end():]
                    body = "\n".join(b for b in body.split("\n") if not b.strip().startswith("%"))
                    out.append((start + 1, body.strip(), _assume_of(mark.group(1))))
                i = j
                break
        i += 1
    return out


def _assume_of(rest: str) -> str:
    rest = rest.strip()
    m = re.match(r"(?:assume|assuming)\s*[:=]?\s*(.*)$", rest)
    return m.group(1).strip() if m else ""


def _strip_math(body: str) -> str:
    b = body.strip()
    for o, c in (("$$", "$$"), ("\\[", "\\]"), ("$", "$")):
        if b.startswith(o) and b.endswith(c) and len(b) >= len(o) + len(c):
            return b[len(o):len(b) - len(c)].strip()
    return b


def read_notes(path) -> str:
    """The text of a notes file: at most MAX_FILE_BYTES bytes read, UTF-8 required."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise FileError(f"cannot read {path}: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileError(f"{path} is larger than the limit of {MAX_FILE_BYTES:,} bytes for a "
                        "notes file (split it, or check only the marked part)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileError(f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} at offset "
                        f"{err.start} cannot be decoded (save the notes as UTF-8)") from None


def verify_file(path, *, timeout: float = 10.0, sympy_syntax: bool = False) -> list:
    """Verdicts for every marked claim of a notes file, with ``location`` file:line.

    Raises FileError (a ValueError) for an unreadable, non-UTF-8 or too large file."""
    text = read_notes(path)
    out = []
    for line, claim, assume in extract_claims(text):
        v = verify_claim(claim, assume=assume, timeout=timeout, sympy_syntax=sympy_syntax)
        v.location = f"{path}:{line}"
        out.append(v)
    return out
