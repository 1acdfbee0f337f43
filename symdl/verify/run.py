"""One claim, parsed and decided under one time limit: the verdict for every
outcome (a parse error, an undefined term, the time limit, an internal error);
shared by verify_claim and the loss/rule/schedule checks (families)."""
from __future__ import annotations

import time
import traceback

from .lexer import ParseError
from .nodes import render
from .timelimit import ClaimTimeout, time_limit
from .verdict import UNDECIDED, Verdict


def _capital_note(ast) -> str:
    """Say how runs of capitals were read (TP is one symbol, not T*P)."""
    runs = sorted({n.a[0] for n in ast.walk() if n.k == "sym" and len(n.a[0].split("_")[0]) > 1
                   and n.a[0].split("_")[0].isascii() and n.a[0].split("_")[0].isupper()
                   and n.a[0].split("_")[0].isalpha()})
    if not runs:
        return ""
    return "   [" + ", ".join(runs) + (" is one symbol" if len(runs) == 1 else " are symbols") \
        + ": a run of capitals is a name, not a product]"


def _parse_error_verdict(text, err: ParseError, v: Verdict | None = None) -> Verdict:
    v = v or Verdict(UNDECIDED, claim=text)
    v.status = UNDECIDED
    v.reason = f"cannot parse: {err.message}"
    v.parse_error = {"message": err.message, "column": err.pos + 1, "caret": err.caret(),
                     "text": err.text}
    return v


def _run(text: str, make_ast, timeout: float, variants=None) -> Verdict:
    """Parse (via make_ast) and decide under one time limit; never raises."""
    from .build import BuildError, UndefinedTerm
    from .check import decide

    t0 = time.monotonic()
    v = Verdict(UNDECIDED, claim=text)
    try:
        with time_limit(timeout) as lim:
            try:
                ast, assume = make_ast()
            except ParseError as err:
                _parse_error_verdict(text, err, v)
            else:
                v.reading = render(ast) + _capital_note(ast)
                try:
                    got = decide(ast, assume, timeout=max(timeout - (time.monotonic() - t0), 0.05),
                                 variants=variants)
                    got.claim, got.reading = text, v.reading
                    v = got
                except UndefinedTerm as err:
                    v.status = UNDECIDED
                    v.reason = f"{err.message}, so the claim cannot be compared"
                    v.undefined = err.term
                except BuildError as err:
                    v.status = UNDECIDED
                    v.reason = f"cannot interpret: {err.message}"
                except ParseError as err:
                    _parse_error_verdict(text, err, v)
        if lim.expired:
            v.status = UNDECIDED
            v.reason = f"time limit of {timeout:g} s reached"
            v.counterexample = None
    except ClaimTimeout:   # a timer that fired while a limit was being left
        v.status, v.reason = UNDECIDED, f"time limit of {timeout:g} s reached"
        v.counterexample = None
    except RecursionError:
        v.status, v.reason = UNDECIDED, "internal error: expression nested too deeply"
    except MemoryError:
        v.status, v.reason = UNDECIDED, "internal error: out of memory"
    except Exception as err:  # no claim crashes the tool
        v.status = UNDECIDED
        v.reason = f"internal error: {type(err).__name__}: {err}"
        v.notes.append(traceback.format_exc(limit=3).strip().splitlines()[-1])
    v.elapsed = time.monotonic() - t0
    return v
