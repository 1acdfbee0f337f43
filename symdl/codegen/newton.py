"""Render the Newton objectives (``symdl.specs.objectives``) into
``generated/newton/<name>.py`` through ``templates/newton.py.j2``: the term's
(or expression's) value, gradient and Hessian from ``sympy.diff``, stabilized
by the derivation engine's rules (softplus, sigmoid) and printed by the
kernel printer (float64), plus an index module.

``load_objective(objective, out_dir)`` renders a user's objective into its own
module and imports it (``symdl.newton.newton_step`` takes the module).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import sympy as sp

from .header import make_header

MODULE = "symdl.generated.newton"
TEMPLATE = "newton.py.j2"
FILES = ("codegen/newton.py", "codegen/printer.py", "derive/rules.py", "specs/objectives.py",
         "specs/regularizers.py")


def _generator_hash() -> str:
    from .render import generator_hash

    return generator_hash("newton", files=FILES, templates=(TEMPLATE,))


def _meta(o, module) -> dict:
    return {"name": o.name, "family": "objective", "kind": o.kind, "doc": o.doc,
            "hash": o.content_hash(), "module": module,
            "params": [p.name for p in o.params] if o.kind == "expression" else ["lam"]}


def derived(o) -> dict:
    """name -> the (stabilized) expression each kernel line computes."""
    from symdl.derive.rules import stabilize

    if o.kind == "glm":
        from symdl.specs.regularizers import LAM, w

        lt = [stabilize(e) for e in o.term_derivatives()]
        rt = [stabilize(e) for e in o.penalty_derivatives()]
        return {"l_0": lt[0], "l_1": lt[1], "l_2": lt[2], "r_0": rt[0], "r_1": rt[1], "r_2": rt[2],
                "_penalty_symbols": (w, LAM.symbol)}
    out = {"f_0": stabilize(o.expr)}
    grad, hess = o.gradient(), o.hessian()
    for i, gi in enumerate(grad):
        out[f"g_{i}"] = gi
    d = len(o.params)
    for i in range(d):
        for j in range(i + 1):
            out[f"h_{j}_{i}"] = hess[i, j]
    return out


def render_module(o, module: str | None = None) -> str:
    from symdl.specs.objectives import s

    from .printer import print_block
    from .render import environment

    module = module or f"{MODULE}.{o.name}"
    e = derived(o)
    ctx = dict(name=o.name, doc=o.doc, kind=o.kind, spec=repr(_meta(o, module)))
    if o.kind == "glm":
        w, lam = e.pop("_penalty_symbols")
        term_lines, _ = print_block({k: e[k] for k in ("l_0", "l_1", "l_2")}, "f64",
                                    {"s": "s", "y": "y_i"}, prefix="t")
        pen_lines, _ = print_block({k: e[k] for k in ("r_0", "r_1", "r_2")}, "f64",
                                   {"w": "w", "lam": "lam"}, prefix="p")
        ctx.update(term_lines=term_lines, penalty_lines=pen_lines,
                   math=[f"term  l(s, y) = {o.expr}", f"dl/ds = {sp.diff(o.expr, s)}",
                         f"d2l/ds2 = {sp.diff(o.expr, s, 2)}",
                         "L = sum_i l(x_i.theta, y_i) + sum_j r(theta_j), r = l2 spec",
                         "grad = X^T l'(X theta, y) + r'(theta);  "
                         "Hessian = X^T diag(l''(X theta, y)) X + diag(r''(theta))"])
    else:
        names = {p.name: p.name for p in o.params}
        lines, _ = print_block(e, "f64", names, prefix="t")
        ctx.update(params=[p.name for p in o.params], d=len(o.params), lines=lines,
                   math=[f"f = {o.expr}", "grad, Hessian: sympy.diff of f, entry by entry"])
    body = environment().get_template(TEMPLATE).render(**ctx)
    header = make_header(module=module, template=TEMPLATE, specs={o.name: o.content_hash()},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    return header + body


def render_index(objectives) -> str:
    body = ('"""Newton objectives: value, gradient and Hessian kernels, one module per objective '
            '(generated; DO NOT EDIT)."""\n\n'
            "#: metadata of every objective (its code: SPECS[name]['module'])\n"
            f"SPECS = {({o.name: _meta(o, f'{MODULE}.{o.name}') for o in objectives})!r}\n")
    header = make_header(module=MODULE, template="-", specs={o.name: o.content_hash() for o in objectives},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    return header + body


def newton_targets() -> list:
    """``symdl generate`` targets: generated/newton/__init__.py and one module per objective."""
    from symdl.specs.objectives import OBJECTIVES

    from .targets import Target

    out = [Target("newton/__init__.py", lambda: render_index(OBJECTIVES),
                  lambda: {o.name: o.content_hash() for o in OBJECTIVES}, _generator_hash)]
    for o in OBJECTIVES:
        out.append(Target(f"newton/{o.name}.py", lambda o=o: render_module(o),
                          lambda o=o: {o.name: o.content_hash()}, _generator_hash))
    return out


def load_objective(objective, out_dir):
    """Render a user's objective (``symdl.specs.objectives.expression_objective``)
    into ``out_dir/symdl_newton_<name>.py`` and import it (a module with
    ``value_grad_hess``, for ``symdl.newton.newton_step``)."""
    from .targets import atomic_write

    mod_name = f"symdl_newton_{objective.name}"
    path = Path(out_dir) / f"{mod_name}.py"
    src = render_module(objective, module=mod_name)
    if not path.exists() or path.read_text(encoding="utf-8") != src:
        atomic_write(path, src)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    spec.loader.exec_module(mod)
    return mod
