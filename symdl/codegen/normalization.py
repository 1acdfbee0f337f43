"""Render the normalization specs into ``generated/normalization/<spec>.py``.

Every input is viewed by the runtime as *groups* (one per statistic: a
channel for batch norm, a sample for layer norm, a (sample, group) for group
norm, ...) of O x I elements, the inner axis contiguous: element (o, i) of
group r is at

    r·rs + o·os + i,

(``symdl.runtime.normalization.layout``).  How the affine index moves along a
group is a property of the spec ("row", "block", "elem": ``norm_plan``), so
the loops are specialized to it at generation time; each contiguous run is a
slice walked by a range index (unit stride, no wraparound: LLVM vectorizes),
and the sums use ``add_reassoc`` (float64, split over vector lanes).  Batch
norm on (N, C) inputs has column kernels (``_cols``).  The math comes from
``derive_norm``:

* ``forward_train``: the statistics' sums level by level (sum x, then
  sum (x - mean)^2: the two-pass variance), the row lines (mean, var, rstd),
  then the output per element in mean and rstd; float32 kernels sum x - K
  and (x - K)^2 in one pass, in float64 (``_one_pass_plan``);
* ``normalize``: the output from given per-group mean and rstd (eval mode);
* ``backward``: the group sums the derived dx reads (sum ĝ, sum ĝ·(x - mean)),
  then dx per element, and dweight/dbias accumulated per affine index into
  per-block float64 partials summed in block order (serial and prange
  kernels agree bit for bit); where the weight is constant along each
  contiguous run (group norm), the first pass sums each per-element factor
  once per run and adds c·sum to the group sums and the parameter partials
  (linearity: ``_run_plan``), so the second pass only writes dx; layer and
  RMS norm accumulate their parameter gradients in the first pass;
* ``rstd``: rstd from a variance (eval: from the running variance);
* ``running``: torch's running-estimate update (in place).

Sums accumulate in float64 and float32 kernels compute in float64 (a
float32 x - mean of 1e4 + N(0, 1) data would lose three digits); results are
stored in the arrays' dtype.  The mean is shifted (K + mean(x - K), K the
group's first element) and kept as a double-float, so x - mean is exact near
the mean and the outputs keep full precision when |mean| >> std.
"""
from __future__ import annotations

import re

import sympy as sp

from symdl.derive.normalization import derive_norm
from symdl.specs.softmax import RSum, Shifted

from .header import make_header
from .printer import DTYPES, print_block
from .reductions import _hoist
from .render import _pyrepr, environment, generator_hash

__all__ = ["render_norm_module", "normalization_targets", "norm_plan", "TEMPLATE"]

TEMPLATE = "normalization.py.j2"
PACKAGE = "symdl.generated.normalization"
GENERATOR_FILES = ("derive/graph.py", "derive/axes.py", "derive/reduce_rules.py", "derive/normalization.py",
                   "codegen/normalization.py", "codegen/printer.py", "codegen/header.py", "runtime/bits.py",
                   "specs/normalization.py", "specs/softmax.py")

ARITH = "f64"          # statistics in float64; float32 kernels' per-element lines also in f32 (_elem_lines)
M = sp.Symbol("M", positive=True, integer=True)      # elements per group
#: per-element loads from the slices of one contiguous run (``i``: the element in
#: it; ``wr``, ``br``: the affine arrays' run, where they vary along it).  ``xc`` is x - mean
#: with the mean a double-float (mean_ + mlo_): x - mean_ is exact near the mean
#: (Sterbenz), so x - mean keeps full precision when |mean| >> std; ``xs`` is x - K,
#: K the group's first element (the shift of the shifted mean, see ``norm_plan``)
LOADS = {"f64": {"x": "f64(xr[i])", "g": "f64(grad_r[i])", "weight": "f64(wr[i])", "bias": "f64(br[i])",
                 "xc": "(f64(xr[i]) - mean_) - mlo_", "xs": "f64(xr[i]) - K_"},
         "f32": {"x": "xr[i]", "g": "grad_r[i]", "weight": "wr[i]", "bias": "br[i]",
                 "xc": "(xr[i] - mean_s) - mlo_s", "xs": "xr[i] - K_s"}}
#: the float32 kernels' one-pass statistics: x - K in float64 (exact for float32 x, K)
LOADS["f32_wide"] = {**LOADS["f32"], "xs": "f64(xr[i]) - K_"}
X, MEAN = sp.Symbol("x", real=True), sp.Symbol("mean", real=True)
XC, XS = sp.Symbol("xc", real=True), sp.Symbol("xs", real=True)
NAMES = {"a0": "a0", "a1": "a1", "x": "x_", "xc": "xc_", "xs": "xs_", "g": "g_", "weight": "w_", "bias": "b_",
         "mean": "mean_", "rstd": "rstd_",
         "eps": "eps", "var": "var_", "M": "M", "factor": "factor",
         "running_mean": "rm_", "running_var": "rv_"}


def _chain(e):
    """(axes, body) of a nested RSum chain."""
    axes = []
    while isinstance(e, RSum):
        axes.append(e.axis)
        e = e.args[0]
    return axes, e


class Lifter:
    """Group sums (RSum chains over exactly the statistics axes) -> atoms."""

    def __init__(self, d):
        self.d = d
        self.stat = set(d.spec.stat_axes)
        self.atoms: dict = {}   # body -> symbol

    def sizes(self, e):
        first, *rest = self.d.spec.stat_axes
        rep = {sp.Symbol(f"N_{first}", positive=True, integer=True): M}
        rep.update({sp.Symbol(f"N_{a}", positive=True, integer=True): 1 for a in rest})
        return e.xreplace(rep)

    def lift(self, e):
        def one(red):
            axes, body = _chain(red)
            if set(axes) != self.stat:
                raise NotImplementedError(f"a sum over {axes} in a row expression")
            body = self.saved(body)
            if body not in self.atoms:
                self.atoms[body] = sp.Symbol(f"a{len(self.atoms)}", real=True)
            return self.atoms[body]
        return self._outer(e, one)

    def _outer(self, e, fn):
        if isinstance(e, RSum):
            return fn(e)
        if not e.args:
            return e
        return e.func(*[self._outer(a, fn) for a in e.args])

    def saved(self, e):
        return _centered(self.sizes(self.d.to_saved(e)))


def _centered(e):
    """e with the engine's x - mean (kept whole by the rule ``center``) as one
    symbol xc, loaded as a compensated difference (``LOADS``)."""
    e = e.xreplace({Shifted(X, MEAN): XC, X - MEAN: XC})
    if {X, MEAN} <= e.free_symbols:
        raise NotImplementedError(f"x and mean apart in {e}: x - mean is not a unit")
    return e


def _element_level(e, spec) -> bool:
    names = {s.name for s in e.free_symbols}
    if names & {"x", "xc", "g"}:
        return True
    return bool(names & {"weight", "bias"}) and bool(set(spec.affine_axes) & set(spec.stat_axes))


def _param_body(d, grad):
    """A parameter gradient: sum over the non-affine axes of a body.  The
    sums over the statistics axes go inside (sums commute) and the rules pull
    the per-group factors out of them; the outer sums are the kernel's
    per-affine-index accumulation."""
    from symdl.derive.reduce_rules import ReductionSimplifier

    spec = d.spec
    if grad.is_Mul:   # k·sum(b) with k constant along the sum (linearity): sum(k·b)
        sums = [f for f in grad.args if isinstance(f, RSum)]
        if len(sums) == 1 and not (grad / sums[0]).has(RSum):
            axes, body = _chain(sums[0])
            inner = body * (grad / sums[0])
            for a in axes:
                inner = RSum(inner, sp.Symbol(a))
            grad = inner
    if not isinstance(grad, RSum):
        return grad
    axes, body = _chain(grad)
    stat = [a for a in spec.stat_axes if a in axes]
    if len(stat) != len(spec.stat_axes):   # stays a plain per-element accumulation
        return body
    inner = body
    for a in stat:
        inner = RSum(inner, sp.Symbol(a))
    return ReductionSimplifier(d.graph).reduce(inner)


#: symbols constant along one contiguous run of a "block" affine group (one
#: channel of a group-norm group): the affine parameters and the group's statistics
RUN_CONST = frozenset({"weight", "bias", "rstd", "mean", "eps", "M"})


def _split_run(e):
    """``e = c·u`` with ``c`` constant along a contiguous run (``RUN_CONST``)
    and ``u`` the per-element factor (a split of ``e``'s factors)."""
    c, u = [], []
    for f in sp.Mul.make_args(e):
        (c if {s.name for s in f.free_symbols} <= RUN_CONST else u).append(f)
    return sp.Mul(*c), sp.Mul(*u)


def _run_plan(bw_atoms, params: dict) -> dict:
    """Block affine (the weight constant along each contiguous run): every sum
    of the first pass and every parameter gradient in ``params`` (summands
    reading only the element and the saved statistics) is, by linearity,
    Σ_runs c·Σ_run u with c constant along the run.  The first pass sums each
    distinct u once per run (``u<j>``) and adds c·u<j> to the group sums and
    to the parameters' per-block partials; the second pass then only writes dx."""
    units: dict = {}   # per-element factor -> run accumulator name
    post: list = []

    def unit(u):
        if u not in units:
            units[u] = f"u{len(units)}"
        return units[u]

    for body, acc in bw_atoms:
        c, u = _split_run(body)
        post.append((acc.name, c, unit(u)))
    for name, e in params.items():
        c, u = _split_run(e)
        post.append((f"pw_{name}[aff]", c, unit(u)))
    lines = []
    for k, (target, c, uname) in enumerate(post):
        coef = _print({f"c{k}_": c}, prefix=f"tc{k}_")
        lines += coef + [f"{target} += c{k}_ * {uname}"]
    sums = [{"acc": n, **_elem_lines({f"b_{n}": u}, "body"), "uses": _uses(u)} for u, n in units.items()]
    return {"sums": sums, "uses": sorted(set().union(*[set(s["uses"]) for s in sums])), "post": lines}


def _backward_plan(d, lf, affine: str) -> dict:
    """Printed lines of a backward kernel: the group sums its gradients read,
    the per-group lines, dx per element, the parameter accumulations."""
    spec = d.spec
    plan = {}
    dx = lf.saved(lf.lift(d.grads[spec.x]))
    params = {}
    for w in (spec.weight, spec.bias) if spec.has_bias else (spec.weight,):
        params[w.name] = lf.saved(lf.lift(_param_body(d, d.grads[w])))
    atoms = sorted(lf.atoms.items(), key=lambda kv: kv[1].name)
    plan["bw_sums"] = [{"acc": s.name, **_elem_lines({f"b_{s.name}": b}, "body"), "uses": _uses(b)}
                       for b, s in atoms]
    plan["bw_sum_uses"] = sorted(set().union(*[_uses(b) for b, _ in atoms])) if atoms else []
    # row-invariant parts of the element expressions: computed once per group
    hoisted: dict = {}
    elem = {"dx_": dx, **{f"d{k}_": v for k, v in params.items() if _element_level(v, spec)}}
    elem = {k: _hoist(v, lambda u: _element_level(u, spec), hoisted, "h") for k, v in elem.items()}
    plan["bw_row"] = _print({h.name: v for v, h in hoisted.items()}) if hoisted else []
    plan["bw_row_names"] = [h.name for h in hoisted.values()]
    plan["h32"] = [h.name for h in hoisted.values()]
    plan.update(_elem_lines({"dx_": elem["dx_"]}, "dx", plan["h32"]))
    plan["dx_uses"] = _uses(dx)
    plan["params"] = [{"name": k, "elem": f"d{k}_" in elem,
                       **(_elem_lines({f"d{k}_": elem[f"d{k}_"]}, "lines", plan["h32"]) if f"d{k}_" in elem
                          else {"lines": _print({f"d{k}_": v})}), "uses": _uses(v)}
                      for k, v in params.items()]
    # per-element parameter gradients that read no group sum move to the first
    # pass, which reads the same x and g from memory (the second pass rereads
    # the group from cache): summed per run (block affine, ``_run_plan``) or per
    # element (elem affine); row affine ones are per-group lines already
    sums = {s for _, s in atoms}
    movable = {k: v for k, v in params.items() if _element_level(v, spec) and not (v.free_symbols & sums)}
    for q in plan["params"]:
        q["moved"] = affine in ("block", "elem") and q["name"] in movable
    plan["run"] = _run_plan(atoms, movable) if affine == "block" else None
    return plan


#: the one-pass variance falls back to the second pass over a group when
#: M·(mean - K)² > CANCEL·Σ(x - mean)² (the shift identity's cancellation
#: would cost more than log2(CANCEL) of float64's 53 bits)
CANCEL = 2.0 ** 10
A_SQ, D_ = sp.Symbol("a_sq", real=True), sp.Symbol("d_", real=True)


def shifted_sum_of_squares(a_sq, d, m):
    """Σ(x - mean)² from the shifted sums of one pass, a_sq = Σ(x - K)² and
    d = mean - K = Σ(x - K)/M: Σ(x - mean)² = Σ(x - K)² - M·(mean - K)²
    (proven for symbolic data by tests/test_normalization_derive.py)."""
    return a_sq - m * d**2


def _one_pass_plan() -> dict:
    """float32 kernels' statistics in one pass (``x`` read once for both):
    Σ(x - K) and Σ(x - K)² in float64, where x - K (two float32 values) is
    exact and its square rounds at 2^-53; the variance's sum is then
    ``shifted_sum_of_squares``, clamped at 0.  Since (K - mean)² <= M·var, its
    cancellation costs at most log2(1 + M) bits, and a group past CANCEL (or
    with a nan or inf, where the bound's comparison fails) is summed again in
    the two-pass form (the template's fallback)."""
    body = _elem_lines({"b_a_mean": XS, "b_a_sq": XS**2}, "body")["body"]
    return {"body": body, "accs": [("a_mean", "b_a_mean"), ("a_sq", "b_a_sq")], "uses": ["xs"],
            "a_var": _print({"a_var": sp.Max(shifted_sum_of_squares(A_SQ, D_, M), 0)}, prefix="tv"),
            # the one pass stands only where the bound holds: a nan or inf in the group fails
            # the comparison, and the group is summed again as the two-pass form sums it
            "bound": _print({"one_pass_ok": sp.LessThan(M * D_**2, CANCEL * sp.Symbol("a_var", real=True))},
                            prefix="tf")}


def _affine_mode(spec) -> str:
    stat, affine = set(spec.stat_axes), set(spec.affine_axes)
    return "row" if not (affine & stat) else ("elem" if affine == stat else "block")


def norm_plan(spec) -> dict:
    """Printed lines of every kernel of ``spec`` (arithmetic in float64)."""
    d = derive_norm(spec)
    lf = Lifter(d)
    mean_s, rstd_s = d.stat_symbols()
    plan = {"centered": spec.centered, "has_bias": spec.has_bias, "running": spec.running}
    # ---- forward_train: statistics level by level, then the output
    levels = []
    if spec.centered:
        # the shifted mean: mean(x) = K + mean(x - K) (linearity), K the group's
        # first element; the sum of x - K (exact near K) loses nothing to |mean|
        # >> std, and the kernel keeps K + d_ as a double-float (mean_, mlo_)
        body = lf.sizes(d.graph.inline(spec.x)).xreplace({X: XS})
        if body != XS:
            raise NotImplementedError(f"{spec.name}: the mean's summand is {body}, not x")
        levels.append(("a_mean", body, {"d_": lf.sizes(
            d.mean_node / d.count).xreplace({d.mean_node: sp.Symbol("a_mean", real=True)})}))
    inner = d.var_node
    while d.graph.nodes[inner].kind == "sum":
        inner = d.graph.nodes[inner].operand
    var_body = lf.saved(inner)
    var_sym = sp.Symbol("a_var", real=True)
    root = lf.sizes(d.var_node_root()).xreplace({d.var_node: var_sym})
    levels.append(("a_var", var_body, {"var_": lf.sizes(d.var_node / d.count).xreplace({d.var_node: var_sym}),
                                       "rstd_": root}))
    plan["levels"] = [{"acc": acc, **_elem_lines({f"b_{acc}": body}, "body"),
                       "row": _print(row), "uses": _uses(body)} for acc, body, row in levels]
    plan["one_pass"] = None
    if spec.centered:
        if var_body != XC**2:
            raise NotImplementedError(f"{spec.name}: the variance's summand is {var_body}, not (x - mean)^2")
        plan["one_pass"] = _one_pass_plan()
    fwd = lf.saved(d.forward_expr)
    plan.update(_elem_lines({"o_": fwd}, "out"))
    plan["out_uses"] = _uses(fwd)
    # ---- backward (training: through the statistics), and in eval mode
    affine = _affine_mode(spec)
    plan.update(_backward_plan(d, lf, affine))
    plan["eval"] = None
    if spec.running:
        from symdl.derive.normalization import derive_norm_eval
        de = derive_norm_eval(spec)
        plan["eval"] = _backward_plan(de, Lifter(de), affine)
    # ---- eval rstd from a variance; running update
    var_in = sp.Symbol("var", nonnegative=True)
    plan["rstd"] = _print({"rstd_": root.xreplace({var_sym: var_in * M})})
    if spec.running:
        from symdl.specs.normalization import running_update
        ru = running_update()
        plan["running"] = _print({"rm_new": ru["running_mean"], "rv_new": ru["running_var"]})
    # how the affine index moves along a group (static per spec: the loops are
    # specialized to it): "row" -- constant over each group (batch, instance
    # norm: loaded once per group); "block" -- constant along the contiguous
    # inner axis (group norm: one weight per channel of the group, loaded per
    # channel); "elem" -- the affine axes are the statistics axes (layer, RMS
    # norm: the weight is indexed like the group's elements)
    plan["affine"] = affine
    plan["row_affine"] = plan["affine"] == "row"
    # statistics across the batch axis (batch norm): kernels for inputs (N, C)
    # that walk rows of channels with one accumulator per channel
    plan["cols"] = plan["row_affine"] and spec.stat_axes[0] == spec.axes[0]
    if plan["affine"] != "elem":
        drop = {"weight", "bias"}
        items = [plan, *plan["levels"], *plan["bw_sums"], *plan["params"]]
        if plan["eval"]:
            items += [plan["eval"], *plan["eval"]["bw_sums"], *plan["eval"]["params"]]
        for p in (plan, plan["eval"]):
            if p and p["run"]:
                items += [p["run"], *p["run"]["sums"]]
        for item in items:
            for key in ("uses", "out_uses", "dx_uses", "bw_sum_uses"):
                if key in item:
                    item[key] = [u for u in item[key] if u not in drop]
    plan["derivation"] = {"dx": str(d.grads[spec.x]), "forward": str(d.forward_expr)}
    return plan


#: rows per iteration of the (N, C) kernels' row loops: each column's
#: accumulator is read and written once per ROWS rows (not once per row), its
#: scalars loaded once for them; the rows' terms are summed pairwise first
ROWS = 2
#: the per-row arrays of the column kernels (a slice of one row each)
ROW_ARRAYS = {"x": ("xr", "input"), "g": ("grad_r", "grad"), "dx": ("dxr", "dx"), "out": ("outr", "out")}


def _assigned(lines) -> set:
    return {m.group(1) for m in (re.match(r"\s*(\w+)\s*=[^=]", ln) for ln in lines) if m}


def unroll_row(lines, u: int, n_rows: int) -> list:
    """``lines`` (one element's loads, arithmetic and stores in one row) for
    row ``u`` of ``n_rows`` walked together: the names they assign and the row
    slices get the suffix ``_r<u>``; every other name (the column's scalars,
    assigned elsewhere) is shared by the rows."""
    if n_rows == 1:
        return list(lines)
    names = _assigned(lines) | {v for v, _ in ROW_ARRAYS.values()}
    pat = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    return [pat.sub(lambda m: f"{m.group(1)}_r{u}", ln) for ln in lines]


def row_terms(term: str, n_rows: int) -> str:
    """The float64 sum of ``term`` over the rows walked together (pairwise)."""
    terms = [f"f64({term if n_rows == 1 else f'{term}_r{u}'})" for u in range(n_rows)]
    while len(terms) > 1:
        terms = [f"({a} + {b})" if len(terms) > 2 else f"{a} + {b}" for a, b in zip(terms[::2], terms[1::2])] + \
            (terms[-1:] if len(terms) % 2 else [])
    return terms[0]


def _uses(e) -> list:
    return sorted(s.name for s in e.free_symbols if s.name in LOADS["f64"])


def _elem_lines(exprs: dict, key: str, row_names=()) -> dict:
    """Per-element lines, twice: ``key`` in float64 (the float64 kernels), and
    ``key_f32`` in float32 arithmetic for the float32 kernels (their loads,
    the group's scalars rounded once to float32: rstd_s, mean_s + mlo_s, the
    hoisted h*_s); sums of float32 terms still accumulate in float64."""
    names32 = {**NAMES, "rstd": "rstd_s", "mean": "mean_s", **{h: h + "_s" for h in row_names}}
    return {key: _print(exprs, prefix="v"), key + "_f32": _print(exprs, "f32", names32, prefix="v")}


def _print(exprs: dict, arith=ARITH, names=NAMES, prefix="t") -> list:
    exprs = {k: v.xreplace({sp.Symbol("eps", positive=True): sp.Symbol("eps", real=True)})
             for k, v in exprs.items()}
    lines, used = print_block(exprs, arith, names, frozenset(), prefix=prefix)
    if used:
        raise NotImplementedError(f"elementary functions in a normalization kernel: {used}")
    return lines


def _generator_hash() -> str:
    return generator_hash("", files=GENERATOR_FILES, templates=(TEMPLATE,))


def _meta(spec) -> dict:
    module = f"{PACKAGE}.{spec.name}"
    return {"family": spec.family, "torch": spec.torch, "doc": spec.doc, "hash": spec.content_hash(),
            "params": [{"name": p.name, "default": p.default, "kind": p.kind} for p in spec.params],
            "axes": list(spec.axes), "stat_axes": list(spec.stat_axes),
            "affine_axes": list(spec.affine_axes), "centered": spec.centered,
            "has_bias": spec.has_bias, "running": spec.running, "module": module}


def render_norm_module(spec) -> str:
    module = f"{PACKAGE}.{spec.name}"
    plan = norm_plan(spec)
    meta = _meta(spec)
    body = environment().get_template(TEMPLATE).render(
        name=spec.name, plan=plan, dtypes=DTYPES, loads=LOADS, names=NAMES, spec_table=_pyrepr({spec.name: meta}),
        rows=ROWS, row_arrays=ROW_ARRAYS, unroll_row=unroll_row, row_terms=row_terms)
    return _finish(body, module, [spec])


def render_index(specs) -> str:
    body = '"""Normalization kernels, one module per spec (generated; DO NOT EDIT)."""\n\n'
    body += "#: metadata of every normalization spec (its kernels: SPECS[name]['module'])\n"
    body += "SPECS = " + _pyrepr({s.name: _meta(s) for s in specs}) + "\n"
    return _finish(body, PACKAGE, specs, template="-")


def _finish(body, module, specs, template=TEMPLATE) -> str:
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    header = make_header(module=module, template=template, specs={s.name: s.content_hash() for s in specs},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    source = header + body
    compile(source, module, "exec")
    return source


def normalization_targets() -> list:
    """``symdl generate`` targets: generated/normalization/__init__.py and one
    module per spec."""
    from symdl.specs.normalization import NORM_SPECS

    from .targets import Target

    targets = [Target("normalization/__init__.py", lambda: render_index(NORM_SPECS),
                      lambda: {s.name: s.content_hash() for s in NORM_SPECS}, _generator_hash)]
    for s in NORM_SPECS:
        targets.append(Target(f"normalization/{s.name}.py", lambda s=s: render_norm_module(s),
                              lambda s=s: {s.name: s.content_hash()}, _generator_hash))
    return targets
