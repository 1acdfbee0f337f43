r"""The ``symdl verify`` subcommand.

Integration: ``symdl.verify.cli.register(subparsers)`` adds the subcommand and
sets ``func=run``; ``run(args) -> int`` returns the exit code
(0 holds / holds numerically, 1 refuted, 2 undecided or unparsable).
"""
from __future__ import annotations

import argparse
import sys

HELP = "check a formula (LaTeX) from your notes: holds / refuted / undecided"

EPILOG = r"""examples:
  symdl verify "\tanh(x) = \frac{2}{1+e^{-2x}} - 1"
  symdl verify "\frac{d}{dx}\mathrm{softplus}(x) = \sigma(x)" --json
  symdl verify "\frac{d}{dp} p^2 = 2p" --assume "p>0"
  symdl verify --sympy "diff(tanh(x), x) == 1 - tanh(x)**2"
  symdl verify --spec softsign --derivative "\frac{1}{(1+|x|)^2}"
  symdl verify --file notes.md      (claims marked "% verify" or in ```verify blocks)

exit codes: 0 holds (symbolically or numerically), 1 refuted, 2 undecided/unparsable
"""


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help=HELP, description=HELP, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("claim", nargs="?", help="the equation, in LaTeX (or SymPy syntax with --sympy)")
    p.add_argument("--assume", default="", metavar="CONDS",
                   help='declarations, e.g. "a>0, 0<\\beta_1<1, t integer, e symbol"')
    p.add_argument("--sympy", action="store_true", dest="sympy_syntax",
                   help="the claim is in Python/SymPy syntax (tanh(x)**2, diff(f, x), ==)")
    p.add_argument("--json", action="store_true", help="print the verdict(s) as JSON")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="time limit per claim (default 10)")
    p.add_argument("--spec", metavar="NAME", help="check against a registered spec (f names it)")
    p.add_argument("--forward", metavar="LATEX", help="with --spec: a claimed formula of f(x)")
    p.add_argument("--derivative", metavar="LATEX", help="with --spec: a claimed f'(x)")
    p.add_argument("--variant", metavar="K=V", action="append", default=[],
                   help="with --spec: a choice parameter, e.g. approximate=tanh")
    p.add_argument("--file", metavar="NOTES", help="check every marked equation of a notes file")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes, verdict lines only")


def _emit(text: str, out) -> None:
    out.write(text + "\n")


def run(args, out=None) -> int:
    out = out or sys.stdout
    try:
        return _run(args, out)
    except KeyboardInterrupt:
        _emit("interrupted", out)
        return 2
    except Exception as err:  # never crash
        _emit(f"symdl verify: internal error: {type(err).__name__}: {err}", out)
        return 2


def _run(args, out) -> int:
    from . import verify_claim, verify_file, verify_spec
    from .report import format_file_report, format_text, to_json

    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    timeout = g("timeout") or 10.0
    as_json, quiet = g("json", False), g("quiet", False)
    if g("file"):
        try:
            verdicts = verify_file(g("file"), timeout=timeout, sympy_syntax=g("sympy_syntax", False))
        except OSError as err:
            _emit(f"symdl verify: cannot read {g('file')}: {err.strerror or err}", out)
            return 2
        if as_json:
            _emit(to_json({"file": g("file"), "claims": [v.to_dict() for v in verdicts],
                           "exit_code": _worst(verdicts)}), out)
        else:
            _emit(format_file_report(verdicts), out)
        return _worst(verdicts)
    if g("spec"):
        from symdl.errors import UnknownNameError

        forward, derivative = g("forward"), g("derivative")
        if g("claim") and not forward and not derivative:
            derivative = None
            forward = None
        variant = {}
        for kv in g("variant") or []:
            k, _, val = kv.partition("=")
            variant[k.strip()] = val.strip()
        from symdl.specs import FAMILIES
        if g("spec") in FAMILIES["cell"]:   # a recurrent cell's equation (symdl.verify.cells)
            from .cells import verify_cell_equation
            verdicts = [verify_cell_equation(g("spec"), g("claim") or forward or "", timeout=timeout,
                                             variant=variant.get("variant"))]
            _print(verdicts, as_json, quiet, out, format_text, to_json)
            return _worst(verdicts)
        try:
            if forward is None and derivative is None:
                if not g("claim"):
                    _emit("symdl verify: --spec needs --forward LATEX, --derivative LATEX or a "
                          "claim in which f names the spec", out)
                    return 2
                verdicts = [verify_claim(g("claim"), assume=g("assume", ""), timeout=timeout,
                                         sympy_syntax=g("sympy_syntax", False), spec=g("spec"),
                                         variant=variant or None)]
            else:
                verdicts = verify_spec(g("spec"), forward=forward, derivative=derivative,
                                       assume=g("assume", ""), timeout=timeout,
                                       sympy_syntax=g("sympy_syntax", False),
                                       variant=variant or None)
        except UnknownNameError as err:
            _emit(f"symdl verify: {err}", out)
            return 2
        _print(verdicts, as_json, quiet, out, format_text, to_json)
        return _worst(verdicts)
    if not g("claim"):
        _emit("symdl verify: give a CLAIM, --spec NAME --derivative LATEX, or --file NOTES", out)
        return 2
    v = verify_claim(g("claim"), assume=g("assume", ""), sympy_syntax=g("sympy_syntax", False),
                     timeout=timeout)
    _print([v], as_json, quiet, out, format_text, to_json)
    return v.exit_code


def _print(verdicts, as_json, quiet, out, format_text, to_json):
    if as_json:
        _emit(to_json(verdicts[0] if len(verdicts) == 1 else verdicts), out)
        return
    _emit("\n\n".join(format_text(v, verbose=not quiet) for v in verdicts), out)


def _worst(verdicts) -> int:
    codes = [v.exit_code for v in verdicts]
    if 1 in codes:
        return 1
    if 2 in codes:
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="symdl")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["verify", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
