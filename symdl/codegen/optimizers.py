"""Render optimizer rules into ``generated/optimizers.py``.

For each rule variant:

1. the sequential assignments are composed into one new value per output
   (θ and each state array) in terms of the old values;
2. every subexpression that does not depend on the element (bias corrections,
   ``lr/bc1``, ``1 - beta1``, a branch on ``rho_t > 5``...) is *hoisted* into a
   scalar function, printed from the same expressions and evaluated once per
   step in float64 on the Python side;
3. what remains is printed (CSE, dtype-typed constants) into one fused
   kernel body per dtype, ``_py_<key>_<dtype>``, that updates θ and the state
   arrays in place in a single pass; it compiles on first use as the serial
   kernel ``<key>_<dtype>`` and, from the same body, as the ``prange`` kernel
   ``<key>_<dtype>_par`` (runtime/jitcache.lazy_kernels).

Nothing here is optimizer-specific: the math is in ``symdl.specs.optimizers``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .header import make_header
from .printer import DTYPES, KernelPrinter, print_block
from .render import _pyrepr, environment, generator_hash

MODULE = "symdl.generated.optimizers"
TEMPLATE = "optimizers.py.j2"
#: runtime/prefetch.py is inlined into the kernels: a change to it must change
#: the generated file, or Numba's cache would keep the old machine code
GENERATOR_FILES = ("specs/optimizers.py", "specs/optimizers_tensor.py", "specs/optimizers_more.py",
                   "specs/optimizers_factored.py",
                   "specs/base.py", "codegen/optimizers.py",
                   "codegen/printer.py", "codegen/header.py", "runtime/prefetch.py")


class ScalarPrinter(KernelPrinter):
    """float64 Python for the per-step scalar functions (symbolic exponents
    parenthesized: ``0.96**(t*momentum_decay)``)."""

    def __init__(self):
        super().__init__("f64")

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_number:
            return super()._print_Pow(expr, rational)
        return f"({self.parenthesize(expr.base, 100)}**({self._print(expr.exp)}))"


def optimizer_specs() -> list:
    from symdl.specs.optimizers import NOTATIONS, OPTIMIZER_SPECS
    from symdl.specs.optimizers_more import MORE_RULES
    from symdl.specs.optimizers_factored import FACTORED_RULES
    from symdl.specs.optimizers_tensor import TENSOR_RULES

    return (list(OPTIMIZER_SPECS) + list(MORE_RULES) + list(TENSOR_RULES) + list(FACTORED_RULES)
            + list(NOTATIONS))


class Hoister:
    """Replace element-independent subexpressions by scalar symbols h_0, h_1, ...

    Within a sum or product the element-independent terms are grouped into one
    hoisted scalar; a relational free of elements becomes an indicator scalar
    (1.0 / 0.0, computed in float64) so that float32 kernels branch exactly as
    the float64 reference does."""

    def __init__(self, elem: set, keep: set = frozenset()):
        self.elem = set(elem)
        self.keep = set(keep)   # scalar symbols passed to the kernel as they are
        self.table: dict = {}   # expr -> symbol

    def _new(self, e):
        if e not in self.table:
            self.table[e] = sp.Symbol(f"h_{len(self.table)}", real=True)
        return self.table[e]

    def scalar(self, e) -> bool:
        return not (e.free_symbols & self.elem)

    def __call__(self, e):
        if isinstance(e, sp.Piecewise):
            pieces = []
            for val, cond in e.args:
                if cond == sp.true:
                    pieces.append((self(val), cond))
                elif self.scalar(cond):
                    ind = self._new(sp.Piecewise((1, cond), (0, True)))
                    pieces.append((self(val), sp.Gt(ind, 0)))
                else:
                    pieces.append((self(val), cond.func(*[self(x) for x in cond.args])))
            return sp.Piecewise(*pieces)
        if self.scalar(e):
            if e.is_Number or e in self.keep:
                return e
            return self._new(e)
        if e.is_Add or e.is_Mul:
            sc = [x for x in e.args if self.scalar(x)]
            el = [self(x) for x in e.args if not self.scalar(x)]
            if sc:
                s = e.func(*sc)
                if not (s.is_Number or s in self.keep):
                    s = self._new(s)
                return e.func(s, *el)
            return e.func(*el)
        if not e.args:
            return e
        return e.func(*[self(x) for x in e.args])

    def items(self):
        return [(s, ex) for ex, s in self.table.items()]


@dataclass
class VariantSource:
    key: str
    variant: dict
    states: list            # state keys (kernel array args after param, grad)
    scalar_args: list       # kernel scalar args, in order (returned by the scalar fn)
    fn_args: list           # scalar fn args: t, hyper..., scalar state...
    scalar_lines: list      # body of the scalar fn
    returns: str
    outputs: list           # [(array name, output variable)]
    body: dict = field(default_factory=dict)   # dtype -> printed loop body
    #: rules with per-tensor reductions (TensorRule): pass 1's body and the
    #: sums it accumulates, the per-tensor lines (float64), pass 2's body
    tensor: bool = False
    sums: list = field(default_factory=list)           # [(accumulator, term variable)]
    body2: dict = field(default_factory=dict)
    outputs1: list = field(default_factory=list)
    outputs2: list = field(default_factory=list)
    tensor_lines: list = field(default_factory=list)
    tensor_casts: list = field(default_factory=list)   # tensor scalar names, cast to the dtype
    tstate: list = field(default_factory=list)   # [(per-tensor state key, its new value's name)]
    #: factored rules (Adafactor): printed snippets by (block, dtype)
    factored: bool = False
    snippets: dict = field(default_factory=dict)

    @property
    def array_args(self):
        return "".join(f"{a}, " for a in ["param", "grad", *self.states])

    @property
    def param_args(self):
        return ", ".join(self.scalar_args)


def _order_by_deps(defs: list) -> list:
    """(symbol, expr) pairs in dependency order (Kahn)."""
    defined = {s for s, _ in defs}
    done, out, pending = set(), [], list(defs)
    while pending:
        ready = [(s, e) for s, e in pending if not ((sp.sympify(e).free_symbols & defined) - done)]
        if not ready:
            raise RuntimeError("cyclic step scalars")
        for s, e in ready:
            out.append((s, e))
            done.add(s)
        pending = [p for p in pending if p[0] not in done]
    return out


def _compose(eqs) -> dict:
    env: dict = {}
    for lhs, rhs in eqs:
        env[lhs] = sp.sympify(rhs).xreplace(env) if env else sp.sympify(rhs)
    return env


def tensor_variant_source(rule, variant: dict) -> VariantSource:
    """Pass 1 (states, the summed terms), the per-tensor scalars (float64),
    pass 2 (θ and the states it assigns), for one fused kernel."""
    from symdl.specs.optimizers import g, theta

    states = rule.states(variant)
    state_syms = {s.symbol for s in states}
    env1, env2 = _compose(rule.pass1(variant)), _compose(rule.pass2(variant))
    out1 = {s: env1[s] for s in state_syms if s in env1}
    # pass 1's temporaries the sums use (LAMB's r) are computed once, by name
    temps = {lhs: env1[lhs] for lhs, _ in rule.pass1(variant)
             if lhs not in state_syms and lhs not in (theta, g)}
    keep = {k: v for k, v in env1.items() if k not in temps}
    sums = {k: sp.sympify(e).xreplace(keep) for k, e in rule.reductions.items()}
    temps = {k: e for k, e in temps.items() if any(k in s.free_symbols for s in sums.values())}
    out2 = {s: env2[s] for s in [theta, *[s.symbol for s in states]] if s in env2}
    tsyms = list(rule.tensor_scalars)
    tstate = list(getattr(rule, "tensor_state", ()))
    elem = {theta, g} | state_syms | set(tsyms) | set(rule.reductions) | set(temps) | {s.symbol for s in tstate}
    hoist = Hoister(elem, keep=set(rule.hyper_symbols.values()))
    out1 = {k: hoist(e) for k, e in out1.items()}
    temps = {k: hoist(e) for k, e in temps.items()}
    sums = {k: hoist(e) for k, e in sums.items()}
    out2 = {k: hoist(e) for k, e in out2.items()}
    tens = {k: hoist(sp.sympify(e)) for k, e in rule.tensor_scalars.items()}
    hyper_syms = set(rule.hyper_symbols.values())
    hoisted = hoist.items()
    hoisted_syms = {s for s, _ in hoisted}
    exprs = list(out1.values()) + list(temps.values()) + list(sums.values()) + list(out2.values()) + list(tens.values())
    used = set().union(*(e.free_symbols for e in exprs)) - elem
    unknown = used - hyper_syms - hoisted_syms
    if unknown:
        raise ValueError(f"{rule.name}: kernel uses undeclared scalars {sorted(map(str, unknown))}")
    scalar_args = [p.name for p in rule.hyper if p.symbol in used] + \
                  [s.name for s, _ in hoisted if s in used]
    p = ScalarPrinter()
    lines = [f"{s.name} = {p.doprint(e)}" for s, e in _order_by_deps(list(rule.scalars.items()))]
    lines += [f"{s.name} = {p.doprint(e)}" for s, e in hoisted]
    fn_args = ["t"] + [h.name for h in rule.hyper]
    returns = f"({''.join(a + ', ' for a in scalar_args)}), ()"
    names = {theta.name: "p_i", g.name: "g_i"}
    names.update({s.symbol.name: f"{s.key}_i" for s in states})
    names.update({a: f"{a}_" for a in scalar_args})
    names.update({k.name: f"{k.name}_" for k in tsyms})
    names.update({k.name: f"{k.name}_t" for k in temps})
    st1 = [s for s in states if s.symbol in out1]
    st2 = [s for s in states if s.symbol in out2]
    vs = VariantSource(rule.variant_key(variant), rule.full_variant(variant),
                       [s.key for s in states] + [s.key for s in tstate], scalar_args, fn_args, lines,
                       returns, [], tensor=True,
                       outputs1=[(s.key, f"{s.key}_new") for s in st1],
                       outputs2=[("param", "p_new")] + [(s.key, f"{s.key}_new") for s in st2])
    sum_vars = [f"term_{k}" for k in range(len(sums))]
    vs.sums = [(f"acc_{k}", tv) for k, tv in enumerate(sum_vars)]
    # the per-tensor scalars, float64, from the sums (red_k) and the raw scalar args
    tnames = {k.name: f"red_{i}" for i, k in enumerate(rule.reductions)}
    tnames.update({a: a for a in scalar_args})
    tnames.update({k.name: k.name for k in tsyms})
    tnames.update({s.symbol.name: f"{s.key}_old" for s in tstate})
    vs.tstate = [(s.key, rule.tensor_state_update[s.symbol].name) for s in tstate]
    tlines, used_fns = print_block({k.name: e for k, e in tens.items()}, "f64", tnames,
                                   frozenset(), prefix="z")
    if used_fns:
        raise ValueError(f"{rule.name}: unexpected helper functions {used_fns}")
    vs.tensor_lines = tlines
    vs.tensor_casts = [k.name for k in tsyms]
    loads = ["p_i = param[i]", "g_i = grad[i]"] + [f"{s.key}_i = {s.key}[i]" for s in states]
    for dt in DTYPES:
        b1, f1 = print_block({**{f"{k.name}_t": e for k, e in temps.items()},
                              **{f"{s.key}_new": out1[s.symbol] for s in st1},
                              **dict(zip(sum_vars, sums.values()))}, dt, names, frozenset(), prefix="w")
        b2, f2 = print_block({"p_new": out2[theta], **{f"{s.key}_new": out2[s.symbol] for s in st2}},
                             dt, names, frozenset(), prefix="x")
        if f1 or f2:
            raise ValueError(f"{rule.name}: unexpected helper functions {f1 | f2}")
        vs.body[dt] = "\n".join(loads + b1)
        vs.body2[dt] = "\n".join(loads + b2)
    return vs


def variant_source(rule, variant: dict) -> VariantSource:
    from symdl.specs.optimizers import g, t, theta

    if getattr(rule, "reductions", None):
        return tensor_variant_source(rule, variant)
    if getattr(rule, "vhat_matrix", None) is not None:
        return factored_variant_source(rule, variant)

    states = rule.states(variant)
    composed = rule.composed(variant)
    elem = {theta, g} | {s.symbol for s in states}
    hoist = Hoister(elem, keep=set(rule.hyper_symbols.values()))
    outs = {sym: hoist(e) for sym, e in composed.items()}
    hyper = [p.name for p in rule.hyper]
    hyper_syms = set(rule.hyper_symbols.values())
    hoisted = hoist.items()
    hoisted_syms = {s for s, _ in hoisted}
    used = set().union(*(e.free_symbols for e in outs.values())) - elem
    unknown = used - hyper_syms - hoisted_syms
    if unknown:
        raise ValueError(f"{rule.name}: kernel uses undeclared scalars {sorted(map(str, unknown))}")
    scalar_args = [p.name for p in rule.hyper if p.symbol in used] + \
                  [s.name for s, _ in hoisted if s in used]
    # the scalar function: step scalars, scalar-state updates, hoisted values
    p = ScalarPrinter()
    lines = [f"{s.name} = {p.doprint(e)}" for s, e in _order_by_deps(list(rule.scalars.items()))]
    lines += [f"{ss.symbol.name} = {p.doprint(sp.sympify(ss.update))}" for ss in rule.scalar_state]
    lines += [f"{s.name} = {p.doprint(e)}" for s, e in hoisted]
    fn_args = ["t"] + hyper + [ss.symbol.name for ss in rule.scalar_state]
    ret_state = "".join(f"{ss.symbol.name}, " for ss in rule.scalar_state)
    returns = f"({''.join(a + ', ' for a in scalar_args)}), ({ret_state})"
    del t
    names = {theta.name: "p_i", g.name: "g_i"}
    names.update({s.symbol.name: f"{s.key}_i" for s in states})
    names.update({a: f"{a}_" for a in scalar_args})
    out_names = {theta: "p_new", **{s.symbol: f"{s.key}_new" for s in states}}
    vs = VariantSource(rule.variant_key(variant), rule.full_variant(variant),
                       [s.key for s in states], scalar_args, fn_args, lines, returns,
                       [("param", "p_new")] + [(s.key, f"{s.key}_new") for s in states])
    for dt in DTYPES:
        body, used_fns = print_block({out_names[k]: e for k, e in outs.items()}, dt, names,
                                     frozenset(), prefix="w")
        if used_fns:
            raise ValueError(f"{rule.name}: unexpected helper functions {used_fns}")
        loads = ["p_i = param[i]", "g_i = grad[i]"] + [f"{s.key}_i = {s.key}[i]" for s in states]
        vs.body[dt] = "\n".join(loads + body)
    return vs


def _init_repr(e):
    e = sp.sympify(e)
    if e.is_Number:
        return float(e)
    if e.is_Symbol:
        return e.name
    raise ValueError(f"state initial value must be a number or a hyperparameter, not {e}")


def _equivalence_note(rule) -> str:
    nt = rule.notation
    if nt is None:
        return ""
    opts = "".join(f", {k}={v}" for k, v in nt.variant.items())
    hyper = ", ".join(f"{k}={sp.sympify(v)}" for k, v in nt.hyper.items())
    fix = ", ".join(f"{k}={v}" for k, v in nt.fix.items())
    return f" Equals torch's {nt.rule}({hyper}{opts})" + (f" at {fix}" if fix else "") + "."


def spec_table(rules) -> dict:
    table = {}
    for r in rules:
        table[r.name] = {
            "family": r.family,
            "params": [{"name": p.name, "default": p.default, "kind": p.kind,
                        "choices": list(p.choices)} for p in r.params],
            "hyper": [p.name for p in r.hyper],
            "state": [{"key": s.key, "init": _init_repr(s.init)}
                      for s in (*r.state, *getattr(r, "tensor_state", ()))],
            **({"tensor_state": [s.key for s in r.tensor_state]} if getattr(r, "tensor_state", ()) else {}),
            "scalar_state": [{"key": s.key, "init": _init_repr(s.init)} for s in r.scalar_state],
            "variants": ([[r.full_variant(v), r.variant_key(v),
                           [s.key for s in r.states(v)] + [s.key for s in getattr(r, "tensor_state", ())]]
                          for v in r.variants()] if r.kernels else []),
            "kernels": r.kernels,
            **({"reductions": True} if getattr(r, "reductions", None) else {}),
            **({"factored": True} if getattr(r, "vhat_matrix", None) is not None else {}),
            "torch": r.torch,
            "doc": r.doc + _equivalence_note(r),
            "hash": r.content_hash(),
        }
    return table


def _generator_hash() -> str:
    return generator_hash("optimizers", files=GENERATOR_FILES, templates=(TEMPLATE,))


def render_optimizers(rules=None, *, module=MODULE) -> str:
    rules = optimizer_specs() if rules is None else list(rules)
    variants = [variant_source(r, v) for r in rules if r.kernels for v in r.variants()]
    body = environment().get_template(TEMPLATE).render(
        variants=variants, dtypes=DTYPES, specs_table=_pyrepr(spec_table(rules)))
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    header = make_header(module=module, template=TEMPLATE,
                         specs={r.name: r.content_hash() for r in rules},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    source = header + body
    compile(source, module, "exec")
    return source


def optimizer_targets() -> list:
    """The ``symdl generate`` targets: generated/optimizers/<rule>.py, one per rule."""
    from .targets import Target, filename_of, module_of

    return [Target(filename_of("optimizer", r.name),
                   lambda r=r: render_optimizers([r], module=module_of("optimizer", r.name)),
                   lambda r=r: {r.name: r.content_hash()}, _generator_hash)
            for r in optimizer_specs()]


# ---------------------------------------------------------------- factored rules (Adafactor)
def factored_variant_source(rule, variant: dict) -> VariantSource:
    """The snippets of a FactoredRule's two kernels, printed per dtype; the
    loops are the template's.  Matrix: the row/column statistics, each row's
    and column's factor of 1/√v̂ (float64, stored in the dtype), then the two
    element passes with u in its split form (``direction_split``); vector:
    the moving average and u, then the update.  θ's step is θ·h + h'·u with
    the element-free factors hoisted into per-tensor float64 scalars (as
    torch: ``param.add_(update, alpha=-alpha/denom)``)."""
    from symdl.specs import optimizers_factored as F
    from symdl.specs.optimizers import g, t, theta

    g_eff = -g if variant.get("maximize") else g
    hyper = [p.name for p in rule.hyper]
    scalar_args = hyper + [s.name for s in rule.scalars]
    p = ScalarPrinter()
    lines = [f"{s.name} = {p.doprint(e)}" for s, e in _order_by_deps(list(rule.scalars.items()))]
    vs = VariantSource(rule.variant_key(variant), rule.full_variant(variant), [], scalar_args,
                       ["t"] + hyper, lines, f"({''.join(a + ', ' for a in scalar_args)}), ()", [])
    del t
    vs.factored = True
    split = sp.Mul(rule.row_factor, rule.col_factor)
    if sp.simplify(split**-2 - sp.sympify(rule.vhat_matrix)) != 0:     # (the clamp: tests/)
        raise ValueError(f"{rule.name}: row_factor·col_factor is not 1/√vhat_matrix")
    # θ's new value: the element-free factors become per-tensor scalars
    hoist = Hoister({theta, F.u})
    new_theta = hoist(sp.sympify(rule.new_theta(variant)))
    hoisted = hoist.items()
    names = {theta.name: "p_i", g.name: "g_i", F.old.name: "s_old", F.mean.name: "s_mean",
             F.v.name: "v_i", F.u.name: "u_ij", F.a_row.name: "a_i", F.b_col.name: "b_j"}
    names.update({a: f"{a}_" for a in scalar_args})
    names.update({s.name: f"{s.name}_" for s, _ in hoisted})
    u_vec = rule.direction.xreplace({F.vhat: F.v, g: g_eff})
    u_mat = rule.direction_split.xreplace({g: g_eff})
    blocks = {"stat": {"s_ij": rule.stat.xreplace({g: g_eff})}, "ema": {"s_new": rule.ema},
              "u_mat": {"u_ij": u_mat}, "u_vec": {"u_ij": u_vec}, "theta": {"p_new": new_theta}}
    vs.snippets = {}
    for dt in DTYPES:
        for k, exprs in blocks.items():
            body, used = print_block(exprs, dt, names, frozenset(), prefix=f"w{k[0]}")
            if used:
                raise ValueError(f"{rule.name}: unexpected helper functions {used}")
            vs.snippets[(k, dt)] = "\n".join(body)
    # the row and column factors, float64 (R, C read from the dtype's state)
    fnames = {F.R.name: "r_i", F.C.name: "c_j", F.rbar.name: "rbar", **{a: a for a in scalar_args}}
    for k, out, e in (("row", "a_i", rule.row_factor), ("col", "b_j", rule.col_factor)):
        body, used = print_block({out: e}, "f64", fnames, frozenset(), prefix=f"f{k[0]}")
        if used:
            raise ValueError(f"{rule.name}: unexpected helper functions {used}")
        vs.snippets[(k, "f64")] = "\n".join(body)
    tnames = {F.w_sq.name: "red_w", F.u_sq.name: "red_u", F.N.name: "nf"}
    tnames.update({a: a for a in scalar_args})
    tnames.update({k.name: k.name for k in rule.tensor_scalars})
    tl, used = print_block({k.name: e for k, e in rule.tensor_scalars.items()}, "f64", tnames,
                           frozenset(), prefix="z")
    hl, used2 = print_block({s.name: e for s, e in hoisted}, "f64", tnames, frozenset(), prefix="y")
    if used or used2:
        raise ValueError(f"{rule.name}: unexpected helper functions {used | used2}")
    vs.tensor_lines = tl + hl
    vs.tensor_casts = [s.name for s, _ in hoisted]
    return vs
