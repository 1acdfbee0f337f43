r"""Check the notes' equations for a loss, an optimizer rule or a learning-rate
schedule against its spec (catalog or a user's ``--spec-file``).

The claim is ``LEFT = RIGHT``.  The left side names what is defined:

* a loss (an elementwise ``TermLoss``): the term ``\ell``, ``L``,
  ``\mathcal{L}``, ``f`` (arguments optional: ``\ell(x, y)``), or its
  derivative ``\frac{\partial \ell}{\partial x}``, ``\frac{d L}{d\hat{y}}``,
  ``\ell'(x)`` (wrt the input: ``x`` or ``\hat{y}``; wrt the target: ``y``);
* an optimizer rule: the new value of the parameter (``\theta_t``,
  ``\theta_{t+1}``, ``w_{t+1}``, ``\theta``) or of a state (``m_t``, ``v_t``,
  the state's symbol or torch key), after one step;
* a schedule: the learning rate ``\eta_t`` (``\eta``, ``\alpha_t``, ``lr``).

The right side is written in the notes' symbols, which are read as the spec's:
for a rule ``X_{t-1}`` (or a bare ``X``) is the state before the step and
``X_t`` after it (θ: the left side's index is the new value, any other the
old one), ``g``/``g_t`` the gradient, ``\hat{m}_t``, ``\hat{v}_t`` Adam's
bias-corrected moments, Greek letters the usual hyperparameters (η, α → lr
unless the rule has its own α; β₁, β₂; ε → eps; λ → weight_decay; μ →
momentum); for a schedule ``t`` (or ``T_{cur}``) the step, ``\eta_0``
(``\eta_{max}``) the base rate.  The spec's side is then the composed update
(or the closed form, or the term and its derivative by ``sympy.diff``) and the
usual ``verify`` decides ``RIGHT = spec side``.
"""
from __future__ import annotations

import re

import sympy as sp

from .kinks import as_expr as _as_expr   # a spec value as SymPy, exactly
from .verdict import REFUTED, UNDECIDED, Verdict
from .nodes import Node

FAMILIES = ("loss", "optimizer", "schedule")

_TIME = re.compile(r"^(?P<base>.+?)(?:_\{(?P<inner>[^{}]*?),\s*(?P<t1>t|t-1|t\+1)\}"
                   r"|_\{?(?P<t2>t|t-1|t\+1)\}?)$")


def split_time(name: str):
    """('m', 't-1') for m_{t-1}; ('m_g', 't') for m_{g,t}; (name, None) otherwise."""
    m = _TIME.match(name)
    if not m:
        return name, None
    base = m.group("base") + (f"_{m.group('inner')}" if m.group("inner") else "")
    return base, m.group("t1") or m.group("t2")


def _norm_lhs(text: str) -> str:
    s = re.sub(r"\\left|\\right|\\[,;!:]|\\displaystyle|\s+", "", text)
    s = s.replace("\\mathrm", "").replace("\\operatorname", "").replace("\\text", "")
    return s


def split_claim(text: str):
    """(left, right) at the first '=' outside braces and environments; None if none."""
    depth = env = 0
    i = 0
    while i < len(text):
        if text.startswith("\\begin", i):
            env += 1
        elif text.startswith("\\end", i):
            env -= 1
        ch = text[i]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif ch == "=" and depth == 0 and env == 0 and (i == 0 or text[i - 1] not in "<>!:"):
            if i + 1 < len(text) and text[i + 1] == "=":   # SymPy's ==
                return text[:i], text[i + 2:]
            return text[:i], text[i + 1:]
        i += 1
    return None


def _undecided(text, reason) -> Verdict:
    v = Verdict(UNDECIDED, claim=text)
    v.reason = reason
    return v


def _rebuild(node, fn):
    """A copy of the tree with each sym node replaced by fn(node) (or kept)."""
    if not isinstance(node, Node):
        return node
    if node.k == "sym":
        return fn(node)
    args = []
    for x in node.a:
        if isinstance(x, Node):
            args.append(_rebuild(x, fn))
        elif isinstance(x, list):
            args.append([tuple(_rebuild(z, fn) for z in y) if isinstance(y, tuple) else _rebuild(y, fn)
                         for y in x])
        else:
            args.append(x)
    return Node(node.k, *args, pos=node.pos)


class _Family:
    """A spec's symbols for the reader: canonical symbol -> the names it goes by."""

    def __init__(self, spec, variant):
        self.spec, self.variant = spec, variant or {}
        self.aliases: dict = {}        # normalized claim name -> canonical Symbol
        self.bounds: dict = {}         # canonical Symbol -> [(op, value)] / "integer"
        self.defaults: dict = {}       # canonical Symbol -> value used when the claim omits it
        self.notes: list = []

    def alias(self, sym, *names):
        for n in (sym.name,) + names:
            self.aliases.setdefault(n, sym)

    # resolve a claim's symbol name: an expression in canonical symbols, or None
    def resolve(self, name: str, lhs_key):
        s = self.aliases.get(name)
        return s if s is not None else None

    def known_names(self) -> list:
        return sorted({n for n in self.aliases if len(n) < 20})


# ---- losses ------------------------------------------------------------------------------
_LOSS_NAMES = r"(?:\\ell|L|\\mathcal\{L\}|f|l|J|loss|\{NAME\}|NAME)"


class _Loss(_Family):
    def __init__(self, spec, variant):
        super().__init__(spec, variant)
        if getattr(spec, "kind", None) != "term" or spec.classes:
            raise ValueError(f"{spec.name} is a class loss (a sum over classes); `verify --spec` "
                             "checks elementwise losses' terms")
        opts = spec.options({**{p.name: p.default for p in spec.choices}, **self.variant})
        self.term = spec._pick(spec.term, opts)
        args = spec.args
        self.x, self.y = args[0].symbol, (args[1].symbol if len(args) > 1 else None)
        self.alias(self.x, "yhat", "input", "z")
        if self.y is not None:
            self.alias(self.y, "target")
        for a in args[2:]:
            self.alias(a.symbol, a.name)
        for p in spec.scalars:
            sym = p.symbol
            self.alias(sym, p.name)
            self.defaults[sym] = sp.nsimplify(p.default) if p.default is not None else None
            if p.positive:
                self.bounds[sym] = [(">", 0)]

    def lhs(self, text):
        s = _norm_lhs(text)
        name = re.escape(self.spec.name).replace("_", r"\\?_")
        names = _LOSS_NAMES.replace("NAME", name)
        args = r"(?:\([^()]*\))?"
        if re.fullmatch(names + args, s):
            return "forward", self.term, f"{self.spec.name}'s term"
        m = (re.fullmatch(r"\\frac\{(?:\\partial|d)" + names + r"\}\{(?:\\partial|d)(?P<v>[^{}]+|\\hat\{y\})\}", s)
             or re.fullmatch(r"\\frac\{(?:\\partial|d)\}\{(?:\\partial|d)(?P<v>[^{}]+|\\hat\{y\})\}" + names + args, s)
             or re.fullmatch(r"\\partial_\{?(?P<v>[^{}]+|\\hat\{y\})\}?" + names + args, s))
        if m:
            var = m.group("v").replace("\\hat{y}", "yhat").replace("\\hat y", "yhat")
            sym = self.aliases.get(var)
            if sym is None or sym not in (self.x, self.y):
                return None
            return (f"d/d{sym}", sp.diff(self.term, sym),
                    f"d/d{sym} of {self.spec.name}'s term (sympy.diff)")
        if re.fullmatch(names + r"'" + args, s):
            return "d/dx", sp.diff(self.term, self.x), f"d/dx of {self.spec.name}'s term (sympy.diff)"
        return None

    def lhs_help(self):
        return (r"the loss's term (\ell, L, f, \ell(x, y)) or its derivative "
                r"(\frac{\partial \ell}{\partial x}, \frac{\partial \ell}{\partial \hat{y}}, "
                r"\frac{\partial \ell}{\partial y})")


# ---- optimizer rules -------------------------------------------------------------------------
_HYPER_ALIASES = {"lr": ("eta", "alpha", "eta_0", "alpha_0"), "beta1": ("beta_1",),
                  "beta2": ("beta_2",), "eps": ("epsilon", "varepsilon"),
                  "weight_decay": ("lambda",), "momentum": ("mu", "beta", "gamma"),
                  "alpha": ("beta", "rho", "gamma"), "rho": ("gamma",)}
_UNIT = ("beta1", "beta2", "momentum", "alpha", "rho", "dampening")
_THETA = ("theta", "w", "W")


class _Rule(_Family):
    def __init__(self, spec, variant):
        super().__init__(spec, variant)
        from symdl.specs.optimizers import g, t, theta

        self.theta, self.g, self.t = theta, g, t
        full = spec.full_variant(self.variant)
        composed = spec.composed(full)
        scal = spec.step_scalars()
        self.new = {k: _as_expr(v).xreplace(scal) for k, v in composed.items()}
        self.states = [s for s in spec.states(full)]
        self.alias(theta, *_THETA)
        self.alias(g, "grad", "nabla")
        self.alias(t)
        self.bounds[t] = ["integer", (">=", 1)]
        own = {p.name for p in spec.hyper}
        for p in spec.hyper:
            self.alias(p.symbol, p.name)
            if p.name in _UNIT:
                self.bounds[p.symbol] = [(">", 0), ("<", 1)]
            elif p.name in ("lr", "eps"):
                self.bounds[p.symbol] = [(">", 0)]
        for p in spec.hyper:
            for al in _HYPER_ALIASES.get(p.name, ()):
                if al not in own and al not in self.aliases:
                    self.alias(p.symbol, al)
        for s in self.states:
            self.alias(s.symbol, s.key)
        for s in getattr(spec, "scalar_state", ()):
            self.alias(s.symbol, s.key)
        self.lhs_time = None
        self.lhs_sym = None

    def lhs(self, text):
        from .latex_parser import parse_latex_claim

        try:
            node = parse_latex_claim(text, expression=True)
        except Exception:   # noqa: BLE001 - not a name
            return None
        if node.k != "sym":
            return None
        base, time = split_time(node.a[0])
        sym = self.aliases.get(base)
        if sym is None or sym not in self.new:
            return None
        if time == "t-1":
            return None
        self.lhs_sym, self.lhs_time = sym, time
        what = "θ" if sym == self.theta else sym.name
        return node.a[0], self.new[sym], f"{self.spec.name}: the new {what} after one step"

    def lhs_help(self):
        names = ", ".join([r"\theta_t"] + [f"{s.symbol.name}_t" for s in self.states])
        return f"the new value of the parameter or a state: {names}"

    def resolve(self, name, lhs_key):
        base, time = split_time(name)
        hat = None
        if base not in self.aliases and base.endswith("hat") and base[:-3] in ("m", "v"):
            hat, base = base[-3:], base[:-3]
        sym = self.aliases.get(base)
        if sym is None:
            return None
        if sym == self.g or sym == self.t or sym not in self.new:
            val = sym
        elif sym == self.theta:
            val = self.new[sym] if (self.lhs_sym == self.theta and time == self.lhs_time
                                    and time is not None) else sym
        elif time == "t":
            val = self.new[sym]
        elif time == "t+1":
            from .build import BuildError

            raise BuildError(f"{name}: a state at t+1 is not defined by one step of "
                             f"{self.spec.name} (write the step's value, {base}_t)")
        else:
            val = sym
        if hat:
            from symdl.specs.optimizers import bc1, bc2

            bc = {"m": bc1, "v": bc2}[base]
            if bc not in self.spec.scalars:
                return None
            val = val / _as_expr(self.spec.scalars[bc])
        return val


# ---- schedules -------------------------------------------------------------------------------
_SCHED_ALIASES = {"T_max": ("T",), "step_size": ("s",), "T_0": ("T_i",), "max_lr": ("eta_max",),
                  "power": ("p",),
                  "base_lr": ("eta_min", "eta_base"), "total_iters": ("T",)}


class _Schedule(_Family):
    def __init__(self, spec, variant):
        super().__init__(spec, variant)
        from symdl.specs.schedules import eta_0, t

        self.t, self.eta_0 = t, eta_0
        self.alias(t, "T_cur")
        self.bounds[t] = ["integer", (">=", 0)]
        own = {p.name for p in spec.params}
        self.alias(eta_0, "eta_0", "alpha_0", "lr_0", "base_lr", "eta_max", "eta_init")
        self.bounds[eta_0] = [(">", 0)]
        self.expr = spec.expr
        syms = spec.symbols()
        for p in spec.params:
            sym = syms[p.name]
            self.alias(sym, p.name)
            for al in _SCHED_ALIASES.get(p.name, ()):
                if al not in own:
                    self.aliases[al] = sym
            self.defaults[sym] = sp.nsimplify(p.default)
            self.bounds[sym] = [(">=", 0)] if p.name == "eta_min" else [(">", 0)]
        if "max_lr" in own or "base_lr" in own:   # CyclicLR/OneCycleLR: these are parameters
            for al in ("eta_max", "base_lr"):
                if self.aliases.get(al) is eta_0:
                    del self.aliases[al]
            if "base_lr" in own:
                self.aliases["base_lr"] = syms["base_lr"]
        if "T_0" in own:   # SGDR's T_cur: the epochs since the last restart
            self.aliases["T_cur"] = sp.Mod(t, syms["T_0"])
        if "gamma" in own and "k" not in own:   # the notes' e^{-kt}: γ = e^{-k}
            self.reparam = (syms["gamma"], sp.Symbol("k", positive=True))
        else:
            self.reparam = None

    def lhs(self, text):
        s = _norm_lhs(text)
        if re.fullmatch(r"(?:\\eta|\\alpha|lr|\\gamma)(?:_\{?t\}?|_\{?n\}?|\(t\))?", s):
            return "eta_t", self.expr, f"{self.spec.name}'s closed form"
        return None

    def lhs_help(self):
        return r"the learning rate: \eta_t (or \eta, \alpha_t, lr)"

    def resolve(self, name, lhs_key):
        val = self.aliases.get(name)
        if val is None and self.reparam and name == "k":
            gam, k = self.reparam
            self.expr = self.expr.xreplace({gam: sp.exp(-k)})
            self.bounds[k] = [(">", 0)]
            self.notes.append(f"{self.spec.name}: γ = e^(-k) (the notes' decay rate k)")
            return k
        return val


def family_of(spec) -> str | None:
    fam = getattr(spec, "family", None)
    return fam if fam in FAMILIES else None


def _family(spec, variant):
    return {"loss": _Loss, "optimizer": _Rule, "schedule": _Schedule}[spec.family](spec, variant)


def verify_family_claim(name: str, text: str, *, assume: str = "", timeout: float = 10.0,
                        variant: dict | None = None, lhs_text: str | None = None) -> Verdict:
    """Check ``LEFT = RIGHT`` (or ``RIGHT`` alone with ``lhs_text``) against the
    loss, rule or schedule ``name``; never raises for a bad claim."""
    import symdl.specs as S

    from .run import _run

    spec = S.get(name)
    label = text if lhs_text is None else f"{lhs_text} = {text}"
    try:
        fam = _family(spec, variant)
    except (ValueError, KeyError) as err:
        return _undecided(label, str(err).strip("'\""))
    if lhs_text is None:
        parts = split_claim(text)
        if parts is None:
            return _undecided(label, f"expected '=': write LEFT = RIGHT, the left side "
                                     f"{fam.lhs_help()}")
        lhs_text, rhs_text = parts
    else:
        rhs_text = text
    got = fam.lhs(lhs_text.strip())
    if got is None:
        return _undecided(label, f"the left side '{lhs_text.strip()}' names nothing of {name}; "
                                 f"write {fam.lhs_help()}")
    key, spec_side, what = got
    from .build import BuildError
    from .lexer import ParseError

    try:
        prepared = _prepare(name, fam, key, spec_side, rhs_text, assume)
    except ParseError as err:
        from .run import _parse_error_verdict

        return _parse_error_verdict(label, err)
    except BuildError as err:
        return _undecided(label, f"cannot interpret: {err.message}")
    claim_ast, a, spec_expr = prepared
    v = _run(label, lambda: (claim_ast, a), timeout)
    v.claim = label
    v.notes = [f"compared with {what}: {spec_expr}"] + fam.notes + v.notes
    if v.status == REFUTED and not v.diagnosis:
        v.diagnosis = _why(claim_ast, a, spec_expr, fam)
    return v


def _prepare(name, fam, key, spec_side, rhs_text, assume):
    """(claim AST with the spec's side, assumptions, the spec's side in the claim's names)."""
    from .parse import parse_claim
    from .build import BuildError

    ast, a = parse_claim(rhs_text, assume=assume, expression=True)
    unknown, renamed = [], {}
    for n in ast.walk():
        if n.k == "sym" and n.a[0] not in renamed:
            val = fam.resolve(n.a[0], key)
            if val is None:
                unknown.append(n.a[0])
            renamed[n.a[0]] = val
    if unknown:
        u = sorted(set(unknown))
        raise BuildError(f"{', '.join(u)} {'is not a symbol' if len(u) == 1 else 'are not symbols'} "
                         f"of {name} (its symbols: {', '.join(fam.known_names())})")
    # the canonical symbols take the claim's names (so --assume names them too)
    names = {}
    for nm, val in renamed.items():
        if isinstance(val, sp.Symbol) and val not in names:
            names[val] = nm
    side = _as_expr(fam.expr if key == "eta_t" else spec_side)
    # parameters the claim does not mention take their defaults (losses, schedules)
    for sym, d in fam.defaults.items():
        if sym not in names and sym in side.free_symbols and d is not None:
            side = side.xreplace({sym: d})
            fam.notes.append(f"{name}: {sym.name} = {d} (default; not in the claim)")
    rename = {s: sp.Symbol(names.get(s, s.name)) for s in side.free_symbols}
    for val in renamed.values():
        for s in _as_expr(val).free_symbols:
            rename.setdefault(s, sp.Symbol(names.get(s, s.name)))
    for sym, bounds in fam.bounds.items():
        nm = names.get(sym, sym.name)
        if nm in a.bounds or nm in a.kinds or sym not in rename:
            continue
        for b in bounds:
            if b == "integer":
                a.add_kind(nm, "integer")
            else:
                a.add_bound(nm, b[0], sp.Integer(b[1]))

    def sub(node):
        val = renamed[node.a[0]]
        if isinstance(val, sp.Symbol):
            return Node("sym", rename[val].name, node.a[1], pos=node.pos)
        return Node("expr", _as_expr(val).xreplace(rename), node.a[0], pos=node.pos)

    spec_expr = side.xreplace(rename)
    sides = [_rebuild(ast, sub), Node("expr", spec_expr, str(spec_expr))]
    if sides[0].k == "sym":   # 'x = ...' would read as a definition of x: the spec's side first
        sides.reverse()
    return Node("claim", sides), a, spec_expr


def _why(claim_ast, a, spec_expr, fam) -> str:
    """A short reason for a refuted claim: a constant factor or offset, a flipped
    sign, or a wrong value at the first step."""
    from .build import Builder
    from .timelimit import time_limit

    try:
        with time_limit(2.0):
            b = Builder(a)
            lhs = _as_expr(b.build(claim_ast.a[0][0]))
            rhs = _as_expr(b.build(claim_ast.a[0][1]))
            if sp.simplify(lhs + rhs) == 0:
                return "the claim is the spec's value with the sign flipped"
            ratio = sp.simplify(lhs / rhs)
            if ratio.is_number and ratio.is_finite and ratio != 1:
                return f"the claim is {ratio} times the spec's value (a constant factor)"
            diff = sp.simplify(lhs - rhs)
            if diff.is_number and diff.is_finite:
                return f"the claim is the spec's value plus {diff} (a constant offset)"
            t = getattr(fam, "t", None)
            if isinstance(fam, _Schedule):
                tt = {s.name: s for s in (lhs.free_symbols | rhs.free_symbols)}.get(t.name)
                if tt is not None:
                    l0, r0 = sp.simplify(lhs.subs(tt, 0)), sp.simplify(rhs.subs(tt, 0))
                    if sp.simplify(l0 - r0) != 0:
                        return f"at t = 0 the claim gives {l0}, the schedule {r0}"
    except Exception:   # noqa: BLE001 - the reason is optional
        return ""
    return ""
