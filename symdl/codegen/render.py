"""Render activation specs into the source of ``generated/activations.py``."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import sympy as sp

from symdl.derive.elementwise import Derived, derive_all

from .header import make_header, sha
from .printer import DTYPES, LIMITED, KernelPrinter, expand_primitives, print_block

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def templates_dir() -> Path:
    """templates/ of a checkout, or symdl/templates of an installed wheel."""
    for cand in (PACKAGE_ROOT.parent / "templates", PACKAGE_ROOT / "templates"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("symdl's templates/ directory is missing from this installation")


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


#: The files whose content shapes generated/activations.py (besides the specs,
#: hashed one by one): a change to any of them makes the file stale.
ACTIVATION_GENERATOR_FILES = (
    "derive/elementwise.py", "derive/rules.py", "derive/timeout.py", "derive/accuracy.py", "derive/exact.py",
    "codegen/printer.py", "codegen/render.py", "codegen/header.py",
    "specs/functions.py", "specs/base.py", "runtime/eft.py", "runtime/bits.py", "runtime/blocks.py",
)


def elementary_extra(names) -> str:
    """The generator-hash input for a module whose kernels inline the
    generated elementary functions ``names``: the names and a hash of the
    elementary module's code.  When that code changes, the modules that
    inline it are stale too -- and re-rendering them also invalidates their
    Numba cache, which tracks only a module's own file."""
    from .targets import elementary_source
    from .header import sha, split_body

    src = elementary_source()
    return ",".join(sorted(names)) + ("@" + sha(split_body(src)) if src and names else "")


def generator_hash(extra: str = "", files=ACTIVATION_GENERATOR_FILES,
                   templates=("activations.py.j2",)) -> str:
    """Hash of the code that turns specs into this module's source (computed
    once per process: one module per spec asks for it many times)."""
    return _generator_hash(extra, tuple(files), tuple(templates))


@functools.lru_cache(maxsize=None)
def _generator_hash(extra: str, files: tuple, templates: tuple) -> str:
    h = hashlib.sha256(extra.encode())
    for rel in files:
        h.update(rel.encode())
        h.update((PACKAGE_ROOT / rel).read_bytes())
    for t in templates:
        h.update(t.encode())
        h.update((templates_dir() / t).read_bytes())
    return h.hexdigest()[:16]


@dataclass
class KernelSource:
    key: str
    arrays: list
    scalar_params: list
    learnable: list
    fwd: dict = field(default_factory=dict)
    bwd: dict = field(default_factory=dict)
    fb: dict = field(default_factory=dict)
    #: the derivative is identically 0: dx = 0 whatever the incoming gradient
    #: (torch's zeros; g is not read, so the kernel moves a quarter less data)
    zero_dx: bool = False
    #: the same blocks printed with libm only, when the vector blocks use a
    #: range-limited elementary function (LIMITED): the kernel counts results
    #: that are nan for a non-nan x and recomputes exactly those with these
    fix: dict = field(default_factory=dict)

    @property
    def grad_in(self):
        return "dx_" if self.zero_dx else "g[i] * dx_"

    @property
    def array_args(self):
        return "".join(f"{a}, " for a in self.arrays)

    @property
    def param_args(self):
        return "".join(f"{p}, " for p in self.scalar_params)

    @property
    def learn_args(self):
        return "".join(f"{w}, " for w in self.learnable)


def _post(outputs: dict, d: Derived, dtype: str, names: dict, elementary, used: set) -> list:
    """Limits at ±inf (derived by SymPy) and NaN propagation for each output."""
    lines = []
    keys = {"y_": "forward", "dx_": "dx"}
    for out in outputs:
        which = keys.get(out, out[2:])
        lim = d.limits.get(which)
        if lim is not None:
            # limits are constants in the params (SymPy's limit): printed inline
            p = KernelPrinter(dtype, names, frozenset(elementary) - LIMITED)
            expr = out
            pos, neg = lim
            if neg is not None:
                expr = f"({p.doprint(expand_primitives(neg))} if x_i == -np.inf else {expr})"
            if pos is not None:
                expr = f"({p.doprint(expand_primitives(pos))} if x_i == np.inf else {expr})"
            used |= p.used
            lines.append(f"{out} = {expr}")
        lines.append(f"{out} = {out} if x_i == x_i else x_i")
    return lines


def kernel_source(d: Derived, elementary=frozenset(), used=None) -> KernelSource:
    spec = d.spec
    arrays = ["x"] + ([spec.noise] if spec.noise else [])
    learn = d.learnable
    scalars = [p.name for p in spec.real_params if not p.learnable]
    names = {"x": "x_i"}
    if spec.noise:
        names[spec.noise] = f"{spec.noise}_i"
    names.update({p: f"{p}_" for p in scalars + learn})
    loads = [f"{a}_i = {a}[i]" for a in arrays]
    ks = KernelSource(d.key, arrays, scalars, learn, zero_dx=(d.dx == 0 and not learn))
    used = set() if used is None else used
    blocks = {
        "fwd": {"y_": d.forward},
        "bwd": {"dx_": d.dx, **{f"d_{w}": d.dparams[w] for w in learn}},
    }
    blocks["fb"] = {**blocks["fwd"], **blocks["bwd"]}
    limited = not learn  # learnable kernels have no recompute pass
    for dt in DTYPES:
        for kind, exprs in blocks.items():
            lines, u = print_block(exprs, dt, names, elementary, limited=limited)
            post = _post(exprs, d, dt, names, elementary, used)
            getattr(ks, kind)[dt] = "\n".join(loads + lines + post)
            if any(f"{fn}_{dt}" in u for fn in LIMITED):
                flines, fu = print_block(exprs, dt, names, elementary)
                used |= fu
                ks.fix.setdefault(kind, {})[dt] = "\n".join(loads + flines + post)
            used |= u
    return ks


def _pyrepr(obj) -> str:
    """repr() that stays valid Python for inf/nan floats."""
    if isinstance(obj, float) and obj != obj:
        return 'float("nan")'
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return 'float("inf")' if obj > 0 else '-float("inf")'
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{_pyrepr(k)}: {_pyrepr(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        inner = ", ".join(_pyrepr(v) for v in obj)
        return f"[{inner}]" if isinstance(obj, list) else f"({inner}{',' if len(obj) == 1 else ''})"
    return repr(obj)


def spec_table(specs) -> dict:
    table = {}
    for s in specs:
        table[s.name] = {
            "family": s.family,
            "params": [{"name": p.name, "default": p.default, "kind": p.kind,
                        "choices": list(p.choices), "learnable": p.learnable,
                        "positive": p.positive, "nonzero": p.nonzero} for p in s.params],
            "variants": [[v, _key(s, v)] for v in s.variants()],
            "noise": s.noise,
            "piecewise_polynomial": piecewise_polynomial(s),
            "torch": s.torch,
            "doc": s.doc,
            "hash": s.content_hash(),
        }
    return table


def piecewise_polynomial(spec) -> bool:
    """Is every branch of the definition a polynomial in x (relu, hardswish,
    sqnl...)?  Then f' is cheaper to recompute than to store: ``nn.Activation``
    runs forward and backward as separate kernels instead of the fused one."""
    for v in spec.variants():
        e = sp.sympify(spec.definition(v))
        if any(not isinstance(f, (sp.Abs, sp.sign, sp.Piecewise)) for f in e.atoms(sp.Function)):
            return False
        if any(p.base.has(spec.x) and not (p.exp.is_Integer and p.exp > 0) for p in e.atoms(sp.Pow)):
            return False
    return True


def _key(spec, variant):
    from symdl.derive.elementwise import variant_key
    return variant_key(spec, variant)


def render_activations(specs, *, elementary=frozenset(), module="symdl.generated.activations",
                       derive=None, gen_hash=None, spec_hashes=None) -> str:
    """Full source text (header + body) for the given activation specs.

    ``derive(spec)`` lists a spec's derived variants (default: the elementwise
    engine's ``derive_all``); ``gen_hash`` overrides the header's generator
    hash (the second-derivative module hashes more generator files);
    ``spec_hashes`` the header's spec hashes (default: each spec's own)."""
    used: set = set()
    derive = derive or derive_all
    kernels = [kernel_source(d, elementary, used) for s in specs for d in derive(s)]
    body = environment().get_template("activations.py.j2").render(
        kernels=kernels, dtypes=DTYPES, elementary=sorted(u for u in used if not u.startswith("two_prod")),
        eft=sorted(u for u in used if u.startswith("two_prod")),
        any_learnable=any(k.learnable for k in kernels),
        specs_table=_pyrepr(spec_table(specs)))
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    header = make_header(module=module, template="activations.py.j2",
                         specs=spec_hashes or {s.name: s.content_hash() for s in specs},
                         generator_hash=gen_hash or generator_hash(elementary_extra(elementary)),
                         sympy_version=sp.__version__, body=body)
    source = header + body
    compile(source, module, "exec")
    return source


def activation_targets(specs=None) -> list:
    """The ``symdl generate`` targets: generated/activations/<name>.py, one per spec."""
    from .targets import Target, elementary_available, filename_of, module_of

    if specs is None:
        import symdl.specs as S

        specs = S.all_specs("activation")

    def gen_hash():
        return generator_hash(elementary_extra(elementary_available()))

    return [Target(filename_of("activation", s.name),
                   lambda s=s: render_activations([s], elementary=elementary_available(),
                                                  module=module_of("activation", s.name)),
                   lambda s=s: {s.name: s.content_hash()}, gen_hash)
            for s in specs]
