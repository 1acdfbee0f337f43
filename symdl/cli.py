"""The ``symdl`` command: list | generate | latex | verify | train | docs.

Subcommands import what they need lazily: ``symdl list`` never imports SymPy.
"""
from __future__ import annotations

import argparse
import json
import sys

from symdl.errors import SymdlError


def _cmd_list(args) -> int:
    from symdl.registry import metadata, names

    rows = []
    for n in (names(args.family) if args.family != "optimizer" else ()):
        meta, _ = metadata(n)
        rows.append({"name": n, "family": meta["family"], "torch": meta["torch"],
                     "params": {p["name"]: p["default"] for p in meta["params"]},
                     "learnable": [p["name"] for p in meta["params"] if p.get("learnable")],
                     "doc": meta["doc"]})
    if args.family in (None, "optimizer"):  # optimizer rules: symdl.generated.optimizers.<rule>
        from symdl.runtime.family import RULES as CATALOG

        OPT = CATALOG.SPECS

        rows += [{"name": n, "family": m["family"], "torch": m["torch"],
                  "params": {p["name"]: p["default"] for p in m["params"]}, "learnable": [],
                  "doc": m["doc"]} for n, m in OPT.items()]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max(len(r["name"]) for r in rows) if rows else 4
    for r in rows:
        params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items())
        torch = f"  [torch: {r['torch']}]" if r["torch"] else ""
        print(f"{r['name']:<{width}}  {r['family']:<10}  {params}{torch}")
    return 0


def _cmd_generate(args) -> int:
    from symdl.codegen import generate as G

    if args.spec_file:
        if not args.out:
            raise SymdlError("--spec-file needs --out DIR (where the kernels are written)")
        targets = G.user_targets(args.spec_file)
        fix = f"symdl generate --spec-file {args.spec_file} --out {args.out}"
        return G.run(check=args.check, out_dir=args.out, targets=targets, full=True, fix_command=fix)
    return G.run(check=args.check, names=args.names, out_dir=args.out, full=args.full)


def _cmd_latex(args) -> int:
    from symdl import specs as S
    from symdl.derive.latex import activation_latex

    if args.spec_file:
        from symdl.codegen.generate import load_spec_file

        found = {s.name: s for s in load_spec_file(args.spec_file)}
        if args.name not in found:
            from symdl.errors import UnknownNameError
            raise UnknownNameError("spec", args.name, found)
        spec = found[args.name]
    else:
        from symdl.specs.objectives import BY_NAME as _NEWTON   # Newton objectives (symdl.newton)

        spec = _NEWTON[args.name] if args.name in _NEWTON else S.get(args.name)
    if getattr(spec, "family", "activation") == "activation":
        text = activation_latex(spec, steps=args.steps)
    elif spec.family == "optimizer":
        from symdl.derive.optimizers import optimizer_latex

        text = optimizer_latex(spec, steps=args.steps)
    elif spec.family == "normalization":
        from symdl.derive.normalization_latex import norm_latex

        text = norm_latex(spec, steps=args.steps)
    elif spec.family == "cell":
        from symdl.derive.cell_latex import cell_latex

        text = cell_latex(spec, steps=args.steps)
    elif spec.family == "regularizer":
        from symdl.derive.regularizer_latex import regularizer_latex

        text = regularizer_latex(spec, steps=args.steps)
    elif spec.family == "objective":
        from symdl.derive.newton_latex import objective_latex

        text = objective_latex(spec, steps=args.steps)
    elif spec.family == "schedule":
        from symdl.derive.regularizer_latex import schedule_latex

        text = schedule_latex(spec)
    else:
        from symdl.derive.reduction_latex import reduction_latex

        text = reduction_latex(spec, steps=args.steps)
    code = _kernel_code(args.name) if (args.steps or args.document) and not args.spec_file else {}
    if args.document or args.pdf:
        from pathlib import Path

        from symdl.codegen.generate import atomic_write
        from symdl.derive.tex import document, render_pdf

        path = Path(args.document or f"{args.name}.tex")
        atomic_write(path, document(text, f"symdl: the derivation of {args.name}", code))
        print(f"LaTeX document written to {path}")
        if args.pdf:
            print(f"PDF written to {render_pdf(path)}")
        return 0
    sys.stdout.write(text)
    for caption, src in code.items():
        sys.stdout.write(f"% ---- {caption}: what the derivation becomes\n")
        sys.stdout.write("".join(f"%   {line}\n" for line in src.splitlines()))
    return 0


def _kernel_code(name: str) -> dict:
    """The fused float64 kernel(s) of a catalog spec, read from generated/."""
    from symdl.codegen.source import kernel_sources
    from symdl.errors import UnknownNameError

    try:
        return kernel_sources(name, limit=2)
    except UnknownNameError:     # optimizer rules and specs without kernels
        return {}


def build_parser() -> argparse.ArgumentParser:
    from symdl import __version__

    p = argparse.ArgumentParser(prog="symdl", description="Neural-network math as verified kernels.")
    p.add_argument("--version", action="version", version=f"symdl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("list", help="list spec names")
    q.add_argument("--family", help="only this family (activation, softmax, loss, optimizer)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_list)

    q = sub.add_parser("generate", help="render specs into generated/ kernels")
    q.add_argument("names", nargs="*", metavar="NAME", help="check these spec names exist first")
    q.add_argument("--check", action="store_true", help="exit 1 with a diff if generated/ is stale")
    q.add_argument("--full", action="store_true", help="with --check: always render and compare")
    q.add_argument("--spec-file", help="a Python file defining your own Activation specs")
    q.add_argument("--out", help="output directory (default: the package's generated/)")
    q.set_defaults(func=_cmd_generate)

    q = sub.add_parser("latex", help="print the LaTeX derivation of a spec")
    q.add_argument("name")
    q.add_argument("--steps", action="store_true", help="show the chain rule step by step")
    q.add_argument("--spec-file", help="look the name up in your own spec file")
    q.add_argument("--document", metavar="TEX", help="write a compilable LaTeX document (with the "
                   "generated kernel) to this file instead of printing")
    q.add_argument("--pdf", action="store_true", help="also compile the document to PDF "
                   "(needs pdflatex, lualatex or xelatex; default document NAME.tex)")
    q.set_defaults(func=_cmd_latex)

    try:
        from symdl.verify.cli import register
    except ImportError:
        pass
    else:
        register(sub)

    from symdl.train_cli import register as register_train
    register_train(sub)
    from symdl.predict import register as register_predict
    register_predict(sub)

    from symdl.docs import register as register_docs
    register_docs(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SymdlError, FileNotFoundError, ValueError) as e:
        print(f"symdl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`symdl list | head`): no traceback, and no
        # second error when Python flushes stdout at exit
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
