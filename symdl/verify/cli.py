r"""The ``symdl verify`` subcommand.

Integration: ``symdl.verify.cli.register(subparsers)`` adds the subcommand and
sets ``func=run``; ``run(args) -> int`` returns the exit code
(0 holds / holds numerically, 1 refuted, 2 undecided or unparsable).
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from . import MAX_FILE_BYTES, MAX_TIMEOUT

HELP = "check a formula (LaTeX) from your notes: holds / refuted / undecided"

EPILOG = r"""examples (single quotes keep the backslashes of LaTeX intact in bash):
  symdl verify '\tanh(x) = \frac{2}{1+e^{-2x}} - 1'
  symdl verify '\frac{d}{dx}\mathrm{softplus}(x) = \sigma(x)' --json
  symdl verify '\frac{d}{dp} p^2 = 2p' --assume 'p>0'
  symdl verify '\text{Precision} = \frac{TP}{TP+FP}'
  symdl verify --sympy 'diff(tanh(x), x) == 1 - tanh(x)**2'
  symdl verify --spec softsign --derivative '\frac{1}{(1+|x|)^2}'
  symdl verify --spec cosine_annealing '\eta_t = \frac{\eta_0}{2}(1 + \cos(\pi t / T_{max}))'
  symdl verify --spec adam 'm_t = \beta_1 m_{t-1} + (1-\beta_1) g_t'
  symdl verify --file notes.md      (claims marked "% verify" or in ```verify blocks)

exit codes: 0 holds (symbolically or numerically), 1 refuted, 2 undecided/unparsable
"""


class _VerifyParser(argparse.ArgumentParser):
    """The subcommand's parser: a claim that begins with '-' ('-x=-x',
    '-\\sigma(x) = ...') is the claim, not an unknown option; with --json an
    argument error is JSON too."""

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(args or [])
        return super().parse_known_args(args, namespace)

    def _parse_optional(self, arg_string):
        if arg_string.startswith("-") and _looks_like_claim(arg_string, self._option_string_actions):
            return None
        return super()._parse_optional(arg_string)

    def error(self, message):
        if "--json" in getattr(self, "_argv", ()):
            sys.stdout.write(_error_json(f"symdl verify: {message}") + "\n")
            sys.exit(2)
        super().error(message)


def _looks_like_claim(arg: str, options) -> bool:
    head = arg.split("=", 1)[0]
    if head in options:
        return False
    if arg.startswith("--") and any(o.startswith(head) for o in options if o.startswith("--")):
        return False   # an abbreviated long option
    return any(ch in arg for ch in "=\\^{}()+*/ ") or (len(arg) > 1 and arg[1].isdigit())


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help=HELP, description=HELP, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.__class__ = _VerifyParser
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("claim", nargs="?", help="the equation, in LaTeX (or SymPy syntax with --sympy); "
                   "put LaTeX in single quotes")
    p.add_argument("--assume", default="", metavar="CONDS",
                   help="declarations, e.g. 'a>0, 0<\\beta_1<1, t integer, e symbol'")
    p.add_argument("--sympy", action="store_true", dest="sympy_syntax",
                   help="the claim is in Python/SymPy syntax (tanh(x)**2, diff(f, x), ==)")
    p.add_argument("--json", action="store_true", help="print the verdict(s) as JSON (errors too)")
    p.add_argument("--timeout", default="10", metavar="SECONDS",
                   help=f"time limit per claim (default 10, at most {MAX_TIMEOUT:g})")
    p.add_argument("--spec", metavar="NAME", help="check against a registered spec (f names it; "
                   "a loss, rule or schedule: LEFT names its term, state or rate)")
    p.add_argument("--spec-file", metavar="FILE", help="with --spec: the name is one of your own specs")
    p.add_argument("--forward", metavar="LATEX", help="with --spec: a claimed formula of f(x)")
    p.add_argument("--derivative", metavar="LATEX", help="with --spec: a claimed f'(x)")
    p.add_argument("--variant", metavar="K=V", action="append", default=[],
                   help="with --spec: a choice parameter, e.g. approximate=tanh")
    p.add_argument("--file", metavar="NOTES",
                   help=f"check every marked equation of a notes file (UTF-8, at most "
                        f"{MAX_FILE_BYTES // 1_000_000} MB)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes, verdict lines only")


def _emit(text: str, out) -> None:
    out.write(text + "\n")


class UsageError(Exception):
    """A bad option value: printed as one clear line (JSON with --json), exit 2."""


def _error_json(message: str) -> str:
    return json.dumps({"verdict": "error", "exit_code": 2, "error": message}, indent=2,
                      ensure_ascii=False)


def run(args, out=None) -> int:
    out = out or sys.stdout
    as_json = getattr(args, "json", False)

    def fail(message):
        _emit(_error_json(message) if as_json else message, out)
        return 2

    try:
        return _run(args, out)
    except KeyboardInterrupt:
        return fail("symdl verify: interrupted")
    except UsageError as err:
        return fail(f"symdl verify: {err}")
    except Exception as err:  # never crash
        return fail(f"symdl verify: internal error: {type(err).__name__}: {err}")


def parse_timeout(text) -> float:
    try:
        t = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"--timeout must be a number of seconds, got {text!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise UsageError(f"--timeout must be a positive, finite number of seconds, got {text!r}")
    if t > MAX_TIMEOUT:
        raise UsageError(f"--timeout {text} is more than the longest limit, {MAX_TIMEOUT:g} s")
    return t


def parse_variant(spec_name, items) -> dict:
    """--variant K=V pairs, checked against the spec's choice parameters."""
    from . import check_variant

    variant = {}
    for kv in items or []:
        k, eq, val = kv.partition("=")
        if not eq or not k.strip():
            raise UsageError(f"--variant wants NAME=VALUE (e.g. approximate=tanh), got {kv!r}")
        variant[k.strip()] = val.strip()
    if variant and not spec_name:
        raise UsageError("--variant needs --spec NAME")
    if variant:
        try:
            check_variant(spec_name, variant)
        except ValueError as err:
            raise UsageError(str(err)) from None
    return variant


def _run(args, out) -> int:
    from . import FileError, verify_claim, verify_file, verify_spec
    from .report import format_file_report, format_text, to_json

    g = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    timeout = parse_timeout(g("timeout", "10"))
    as_json, quiet = g("json", False), g("quiet", False)
    if g("file"):
        try:
            verdicts = verify_file(g("file"), timeout=timeout, sympy_syntax=g("sympy_syntax", False))
        except FileError as err:
            raise UsageError(str(err)) from None
        if as_json:
            _emit(to_json({"file": g("file"), "claims": [v.to_dict() for v in verdicts],
                           "exit_code": _worst(verdicts)}), out)
        else:
            _emit(format_file_report(verdicts), out)
        return _worst(verdicts)
    from symdl.specs import FAMILIES
    if g("spec") in FAMILIES.get("cell", ()):   # a recurrent cell's equation (symdl.verify.cells)
        from .cells import verify_cell_equation

        cell_variant = dict(kv.partition("=")[::2] for kv in (g("variant") or []))
        claim = g("claim") or g("forward") or ""
        if not claim:
            raise UsageError(f"--spec {g('spec')} needs a claim: one of the cell's equations")
        verdicts = [verify_cell_equation(g("spec"), claim, timeout=timeout,
                                         variant=cell_variant.get("variant"))]
        _print(verdicts, as_json, quiet, out, format_text, to_json)
        return _worst(verdicts)
    variant = parse_variant(g("spec"), g("variant"))
    if g("spec"):
        from symdl.errors import UnknownNameError

        if g("spec_file"):
            from symdl.codegen.user_specs import use_spec_file

            err = use_spec_file(g("spec_file"), g("spec"))
            if err:
                _emit(f"symdl verify: {err}", out)
                return 2

        forward, derivative = g("forward"), g("derivative")
        try:
            if forward is None and derivative is None:
                if not g("claim"):
                    raise UsageError("--spec needs --forward LATEX, --derivative LATEX or a "
                                     "claim in which f names the spec")
                verdicts = [verify_claim(g("claim"), assume=g("assume", ""), timeout=timeout,
                                         sympy_syntax=g("sympy_syntax", False), spec=g("spec"),
                                         variant=variant or None)]
            else:
                verdicts = verify_spec(g("spec"), forward=forward, derivative=derivative,
                                       assume=g("assume", ""), timeout=timeout,
                                       sympy_syntax=g("sympy_syntax", False),
                                       variant=variant or None)
        except UnknownNameError as err:
            raise UsageError(str(err)) from None
        _print(verdicts, as_json, quiet, out, format_text, to_json)
        return _worst(verdicts)
    if not g("claim"):
        raise UsageError("give a CLAIM, --spec NAME --derivative LATEX, or --file NOTES")
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
    args = parser.parse_args(["verify", *(sys.argv[1:] if argv is None else list(argv))])
    return args.func(args)
