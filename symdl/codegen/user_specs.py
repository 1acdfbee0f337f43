"""A user's own specs: ``symdl generate --spec-file FILE --out DIR``.

A spec file defines activations (``symdl.specs.Activation``), elementwise
losses (``symdl.specs.elementwise_loss``) and optimizer rules
(``symdl.specs.OptimizerRule``), in a ``SPECS`` list or as module-level
objects.  Each spec renders into its own module ``DIR/<name>.py`` with the
catalog's templates (the same derivation engine, printer and tests), plus an
index ``DIR/symdl_kernels.json`` naming the spec file, so that
``symdl.load_kernels(DIR)`` and a saved model can say where the kernels came
from.

Mistakes are caught here, before anything is rendered, each with one line
naming the spec: symbols that are neither the input nor a declared parameter,
functions the kernels cannot print (``Max(x, 0)``: write it as a
``Piecewise``), and names of catalog specs.
"""
from __future__ import annotations

import json
from pathlib import Path

import sympy as sp

from symdl.errors import SymdlError

__all__ = ["SpecError", "load_spec_file", "validate", "user_targets", "INDEX_FILE"]

INDEX_FILE = "symdl_kernels.json"

#: functions whose derivative SymPy writes with Heaviside/DiracDelta, which
#: a kernel cannot evaluate: the spec must state its branches (and the
#: convention at the join) as a Piecewise
_NONSMOOTH = {sp.Max: "Max", sp.Min: "Min", sp.Heaviside: "Heaviside", sp.DiracDelta: "DiracDelta"}


class SpecError(SymdlError, ValueError):
    """A mistake in a user's spec file (the message names the spec)."""


def _kinds():
    from symdl.specs.base import Activation
    from symdl.specs.losses import TermLoss
    from symdl.specs.optimizers import OptimizerRule

    return {Activation: "activation", TermLoss: "loss", OptimizerRule: "optimizer"}


def family_of(obj) -> str | None:
    for cls, fam in _kinds().items():
        if isinstance(obj, cls):
            return fam
    return None


def load_spec_file(path) -> list:
    """The specs defined in a user's Python file: ``SPECS`` if it defines
    that list, else every module-level Activation, elementwise loss and
    optimizer rule (validated: see ``validate``)."""
    import importlib.util

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spec file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"symdl_user_specs_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    found = getattr(mod, "SPECS", None)
    if found is None:
        found = [v for v in vars(mod).values() if family_of(v) is not None]
    found = list(found)
    if not found:
        raise SpecError(f"{path} defines no spec: put symdl.specs.Activation, "
                        "symdl.specs.elementwise_loss(...) or symdl.specs.OptimizerRule objects "
                        "in a SPECS list")
    for s in found:
        if family_of(s) is None:
            raise SpecError(f"{path}: SPECS holds a {type(s).__name__} ({s!r:.60}); expected "
                            "symdl.specs.Activation, elementwise_loss(...) or OptimizerRule")
    names = [s.name for s in found]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"{path}: more than one spec is called {', '.join(map(repr, dup))}")
    for s in found:
        validate(s, where=str(path))
    return found


# ----------------------------------------------------------------------------- validation
def _err(where, spec, msg):
    return SpecError(f"{where}: spec {spec.name!r}: {msg}")


def _check_symbols(where, spec, exprs, allowed: dict, what: str):
    """Every free symbol is declared (by name and with the same assumptions)."""
    for e in exprs:
        for s in sorted(sp.sympify(e).free_symbols, key=str):
            if s in allowed.values():
                continue
            if s.name in allowed:
                raise _err(where, spec, f"the symbol {s.name!r} is declared but used with other "
                                        f"assumptions ({s.assumptions0} vs "
                                        f"{allowed[s.name].assumptions0}): use the declared "
                                        f"symbol (Param(...).symbol)")
            raise _err(where, spec, f"the formula uses {s.name!r}, which is not {what}: declare "
                                    f"it (Param({s.name!r}, default)) or replace it by a number")


def _check_functions(where, spec, exprs):
    for e in exprs:
        e = sp.sympify(e)
        for cls, fname in _NONSMOOTH.items():
            hit = next(iter(e.atoms(cls)), None)
            if hit is not None:
                raise _err(where, spec, f"{fname}(...) ({hit}) has no derivative a kernel can "
                                        f"evaluate: write it as a Piecewise, e.g. "
                                        f"Piecewise((x, x > 0), (0, True)) for Max(x, 0)")
        undefined = [f for f in e.atoms(sp.Function) if isinstance(f.func, sp.core.function.UndefinedFunction)]
        if undefined:
            raise _err(where, spec, f"{undefined[0]} is an undefined function: write its formula")


def _catalog_names() -> set:
    from symdl import specs as S

    return {s.name for s in S.all_specs()}


def validate(spec, where="spec file") -> None:
    """Raise ``SpecError`` (one line naming the spec) for an undeclared
    symbol, a function the kernels cannot print, or a catalog name."""
    if not isinstance(spec.name, str) or not spec.name.isidentifier():
        raise _err(where, spec, "the name must be a Python identifier (it names the kernels)")
    if spec.name in _catalog_names():
        raise _err(where, spec, f"{spec.name!r} is the name of a catalog spec (`symdl latex "
                                f"{spec.name}`): give yours another name")
    fam = family_of(spec)
    if fam == "activation":
        _validate_activation(where, spec)
    elif fam == "loss":
        _validate_loss(where, spec)
    else:
        _validate_rule(where, spec)


def _validate_activation(where, spec):
    from symdl.specs.base import x

    allowed = {"x": x, **spec.symbols()}
    exprs = []
    for v in spec.variants():
        exprs.append(spec.definition(v))
        if spec.stable is not None:
            exprs.append(spec.stable_form(v))
    _check_symbols(where, spec, exprs, allowed, "x nor a parameter")
    _check_functions(where, spec, exprs)


def _validate_loss(where, spec):
    allowed = {a.sym: a.symbol for a in spec.args}
    allowed.update({p.name: p.symbol for p in spec.scalars})
    exprs = []
    for v in spec.variants():
        exprs.append(spec.row(v, stable=False))
        if spec.stable is not None:
            exprs.append(spec.row(v))
    _check_symbols(where, spec, exprs, allowed, "an argument (x, y) nor a parameter")
    _check_functions(where, spec, exprs)


def _validate_rule(where, spec):
    from symdl.specs import optimizers as O

    if not spec.kernels:
        raise _err(where, spec, "kernels=False: a notation has no kernels to generate")
    if "lr" not in {p.name for p in spec.hyper}:
        raise _err(where, spec, "an optimizer rule needs an 'lr' hyperparameter")
    base = {"theta": O.theta, "g": O.g, "t": O.t}
    base.update({p.name: p.symbol for p in spec.hyper})
    base.update({s.symbol.name: s.symbol for s in spec.state})
    base.update({s.symbol.name: s.symbol for s in spec.scalar_state})
    for sym, e in spec.scalars.items():
        _check_symbols(where, spec, [e], base, "t, a hyperparameter or an earlier step scalar")
        base[sym.name] = sym
    for v in spec.variants():
        known = dict(base)
        for lhs, rhs in spec.update(v):
            _check_symbols(where, spec, [rhs], known,
                           "θ, g, t, a hyperparameter, a state, a step scalar or an earlier temporary")
            known[lhs.name] = lhs
        for s in spec.states(v):
            init = sp.sympify(s.init)
            if not (init.is_Number or (init.is_Symbol and init.name in {p.name for p in spec.hyper})):
                raise _err(where, spec, f"state {s.key!r} starts at {init}: use a number or a "
                                        "hyperparameter")


# ----------------------------------------------------------------------------- targets
def _friendly(spec, render):
    """Render, turning a printer error into one line naming the spec."""
    def go():
        from .printer import UnsupportedFunction

        try:
            return render()
        except UnsupportedFunction as err:
            msg = str(err).splitlines()[0]
            hint = " (write it as a Piecewise)" if "Heaviside" in msg or "Max" in msg else ""
            raise SpecError(f"spec {spec.name!r}: {msg}{hint}") from None
    return go


def _activation_target(spec):
    from .targets import Target, _elementary_available
    from .render import elementary_extra, generator_hash, render_activations

    return Target(f"{spec.name}.py",
                  _friendly(spec, lambda: render_activations(
                      [spec], elementary=_elementary_available(), module=spec.name)),
                  lambda: {spec.name: spec.content_hash()},
                  lambda: generator_hash(elementary_extra(_elementary_available())))


def render_loss(spec, *, module, elementary) -> str:
    """A module with one user loss's kernels (as ``reductions.render_module``,
    whose table points catalog losses at symdl.generated.losses_<group>; a
    user loss's kernels are in its own module)."""
    from .reductions import (TEMPLATE, _finish, derive_reduction, kernel_plans, record_plan,
                             render_body, spec_table)

    used: set = set()
    kernels = []
    table = spec_table([spec])
    table[spec.name]["module"] = None
    for v in spec.variants():
        d = derive_reduction(spec, v)
        for plan in kernel_plans(d, elementary, used):
            kernels.append(plan)
            record_plan(table[spec.name], d.key, plan)
    return _finish(render_body(kernels, table, module, used), module, TEMPLATE, [spec], elementary)


def _loss_target(spec):
    from .targets import Target, _elementary_available
    from .reductions import TEMPLATE, _generator_hash

    return Target(f"{spec.name}.py",
                  _friendly(spec, lambda: render_loss(spec, module=spec.name,
                                                      elementary=_elementary_available())),
                  lambda: {spec.name: spec.content_hash()},
                  lambda: _generator_hash(_elementary_available(), TEMPLATE, spec.name))


def _rule_target(spec):
    from .targets import Target
    from .optimizers import _generator_hash, render_optimizers

    return Target(f"{spec.name}.py", _friendly(spec, lambda: render_optimizers([spec], module=spec.name)),
                  lambda: {spec.name: spec.content_hash()}, _generator_hash)


def _index_target(specs, spec_file):
    from .targets import Target

    index = {"spec_file": str(Path(spec_file).resolve()),
             "specs": {s.name: family_of(s) for s in specs}}
    return Target(INDEX_FILE, lambda: json.dumps(index, indent=1, sort_keys=True) + "\n", None)


def user_targets(spec_file) -> list:
    """One target per spec (``DIR/<name>.py``) and the index."""
    specs = load_spec_file(spec_file)
    make = {"activation": _activation_target, "loss": _loss_target, "optimizer": _rule_target}
    return [make[family_of(s)](s) for s in specs] + [_index_target(specs, spec_file)]


def default_out(spec_file) -> Path:
    p = Path(spec_file)
    return p.with_name(p.stem + "_kernels")


def ensure_generated(spec_file, out=None, quiet=False) -> Path:
    """Render the spec file's kernels into ``out`` (default FILE's name +
    ``_kernels``) where they are stale -- the cheap header check first, so an
    up-to-date directory costs no rendering -- and return the directory."""
    import sys

    from .targets import atomic_write, up_to_date

    out = Path(out) if out else default_out(spec_file)
    for t in user_targets(spec_file):
        path = out / t.filename
        if up_to_date(path, t):
            continue
        text = t.render()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        atomic_write(path, text)
        if not quiet:
            print(f"wrote    {path}", file=sys.stderr)
    return out


def use_spec_file(spec_file, name) -> str | None:
    """Let the spec registry (``symdl.specs.get``: ``symdl latex``, ``symdl
    verify --spec``) find the file's specs; an error message, or None."""
    from symdl import specs as S

    found = {s.name: s for s in load_spec_file(spec_file)}
    if name not in found:
        from symdl.errors import UnknownNameError
        return str(UnknownNameError(f"spec of {spec_file}", name, found))
    S.use_specs(found.values())   # activations, losses and rules: symdl.verify.families
    return None
