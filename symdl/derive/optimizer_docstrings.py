"""The LaTeX update rule in each ``symdl.optim`` class's docstring, printed
from the rule's spec (optax's style: the equations, then which argument each
symbol stands for).

The runtime never imports SymPy, so the docstrings hold the printed text;
``tests/test_optimizer_docstrings.py`` checks that each docstring contains
exactly what ``docstring_math`` prints from the spec today (no drift), and

    python -m symdl.derive.optimizer_docstrings            # lists the stale ones
    python -m symdl.derive.optimizer_docstrings --write    # rewrites them

puts the printed block into ``symdl/optim/*.py`` between the lines
``$$`` ... ``$$`` and the "Symbols:" paragraph that follows them.
"""
from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

import sympy as sp

from symdl.derive.optimizers import _NAMES
from symdl.derive.tex import tex

#: names beyond the catalog pages' (symdl.derive.optimizers._NAMES)
_MORE = {"etaminus": r"\eta_{-}", "etaplus": r"\eta_{+}", "step_size_min": r"\Delta_{\min}",
         "step_size_max": r"\Delta_{\max}", "g_prev": r"g_{\mathrm{prev}}", "lambd": r"\lambda_{a}",
         "t0": "t_0", "eta_t": r"\eta_t", "mu_avg": r"\mu_t", "theta_avg": r"\bar{\theta}",
         "mu_next": r"\mu_{t+1}", "eps_root": r"\epsilon_{\mathrm{root}}", "phi": r"\phi",
         "w_sq": r"\|\theta\|^{2}", "u_sq": r"\|r\|^{2}", "trust_coefficient": r"\eta_{\mathrm{tc}}",
         "not_first": r"[t > 1]", "eps1": r"\epsilon_{1}", "eps2": r"\epsilon_{2}",
         "beta2_decay": r"\hat{\beta}", "w_t": "w_t", "alpha_t": r"\alpha_t", "D_t": "D_t",
         "R_mean": r"\bar{R}", "u_norm_sq": r"\|u\|^{2}", "g_sq": r"\|g\|^{2}", "v_hat": r"\hat{v}", "s": "s",
         "s_mean": r"\bar{s}", "m_d": r"m_{\Delta}", "beta3": r"\beta_{3}", "bc3": r"bc_{3}"}


def _latex(e) -> str:
    e = sp.sympify(e)
    names = {**_NAMES, **_MORE}
    return tex(e, symbol_names={s: names[s.name] for s in e.free_symbols
                                if getattr(s, "name", None) in names})

#: torch's arguments that hold several hyperparameters of a spec
GROUPED = {"beta1": "betas", "beta2": "betas", "beta3": "betas",
           "etaminus": "etas", "etaplus": "etas",
           "step_size_min": "step_sizes", "step_size_max": "step_sizes",
           "eps1": "eps", "eps2": "eps"}

#: options shown in the docstring where the default would hide a term
SHOWN = {"sgd": {"momentum_mode": "heavy_ball"}}


def doc_variant(spec) -> dict:
    """The variant a docstring shows: weight decay on (when the rule has it)
    and the rule's listed options, the other options at their defaults."""
    want = dict(SHOWN.get(spec.name, {}))
    names = {p.name for p in spec.options}
    if "has_weight_decay" in names:
        want["has_weight_decay"] = True
    return spec.full_variant(want)


def _variant_text(spec, var) -> str:
    parts = []
    for p in spec.options:
        if p.name == "maximize":
            continue
        val = var[p.name]
        if p.name == "has_weight_decay":
            parts.append("weight_decay ≠ 0" if val else "weight_decay = 0")
        else:
            parts.append(f"{p.name}={val!r}")
    return ", ".join(parts)


def docstring_math(spec, arg_names: dict | None = None) -> str:
    """The block for ``spec``'s class docstring: one line naming the spec and
    variant, the aligned update (step scalars first, then the assignments in
    order), and the symbol-to-argument map."""
    var = doc_variant(spec)
    arg_names = {**GROUPED, **(arg_names or {})}
    rows = [r"%s &= %s" % (_latex(s), _latex(e)) for s, e in spec.scalars.items()]
    rows += [r"%s &\leftarrow %s" % (_latex(ss.symbol), _latex(ss.update)) for ss in spec.scalar_state]
    if getattr(spec, "vhat_matrix", None) is not None:   # factored (Adafactor): the matrix form
        rows += [r"%s &\leftarrow %s" % (_latex(lhs), _latex(rhs)) for lhs, rhs in spec.update(var)
                 if lhs.name != "theta"]
        rows += [r"%s &= %s" % (_latex(k), _latex(e)) for k, e in spec.tensor_scalars.items()]
        rows += [r"\theta &\leftarrow %s" % _latex(spec.new_theta(var))]
    elif getattr(spec, "reductions", None):    # two passes around the per-tensor scalars
        first = list(spec.pass1(var))
        rows += [r"%s &\leftarrow %s" % (_latex(lhs), _latex(rhs)) for lhs, rhs in first]
        rows += [r"%s &= \textstyle\sum_i %s" % (_latex(k), _latex(e)) for k, e in spec.reductions.items()]
        rows += [r"%s &= %s" % (_latex(k), _latex(e)) for k, e in spec.tensor_scalars.items()]
        rows += [r"%s &\leftarrow %s" % (_latex(lhs), _latex(rhs)) for lhs, rhs in spec.pass2(var)
                 if (lhs, rhs) not in first]
    else:
        rows += [r"%s &\leftarrow %s" % (_latex(lhs), _latex(rhs)) for lhs, rhs in spec.update(var)]
    shown = _variant_text(spec, var)
    out = [f"Update rule (spec ``{spec.name}``{'; ' + shown if shown else ''}), one step:", "",
           "$$", r"\begin{aligned}"]
    out += [r + (r" \\" if k < len(rows) - 1 else "") for k, r in enumerate(rows)]
    out += [r"\end{aligned}", "$$", ""]
    by_arg: dict = {}
    for p in spec.hyper:
        by_arg.setdefault(arg_names.get(p.name, p.name), []).append(_latex(p.symbol))
    syms = [f"${', '.join(s)}$ = ``{a}``" for a, s in by_arg.items()]
    states = [f"${_latex(s.symbol)}$ = ``{s.key}``"
              + (f" (initially ``{s.init}``)" if isinstance(s.init, sp.Symbol) else "")
              for s in spec.states(var)]
    states += [f"${_latex(s.symbol)}$ = ``{s.key}``" for s in spec.scalar_state]
    states += [f"${_latex(s.symbol)}$ = ``{s.key}`` (one number per tensor, ${_latex(s.symbol)} "
               f"\\leftarrow {_latex(spec.tensor_state_update[s.symbol])}$)"
               for s in getattr(spec, "tensor_state", ())]
    text = ("Symbols: " + ", ".join(syms) + "; state: " + (", ".join(states) or "none")
            + r"; $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).")
    out.append(textwrap.fill(text, 92, break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def classes() -> list:
    """(class, spec) for every torch-named optimizer class of symdl.optim."""
    import symdl.optim as O
    from symdl.specs import get

    return [(cls, get(cls.rule)) for cls in O.OPTIMIZERS.values()]


def stale() -> list:
    """The classes whose docstring lacks the block printed from their spec."""
    return [cls for cls, spec in classes()
            if docstring_math(spec, getattr(cls, "_doc_args", None)) not in inspect.getdoc(cls)]


_BLOCK = re.compile(r"(?ms)^( *)Update rule \(spec ``[^`]+``.*?^\1Symbols: .*?step\)\.\n")


def write() -> list:
    """Rewrite stale docstrings in their source files; returns the class names."""
    done = []
    for cls, spec in classes():
        block = docstring_math(spec, getattr(cls, "_doc_args", None))
        if block in inspect.getdoc(cls):
            continue
        path = Path(inspect.getsourcefile(cls))
        src = path.read_text()
        lines, start = inspect.getsourcelines(cls)
        head = "".join(lines)
        indent = " " * 4
        new_block = "".join((indent + ln if ln else "") + "\n" for ln in block.splitlines())
        if _BLOCK.search(head):
            new_head = _BLOCK.sub(lambda m: new_block, head, count=1)
        else:   # insert at the end of the docstring (made raw: LaTeX has backslashes)
            q = head.index('"""')
            end = head.index('"""', q + 3)
            pre = head[:q - 1] if head[q - 1] == "r" else head[:q]
            new_head = (pre + 'r"""' + head[q + 3:end].rstrip() + "\n\n" + new_block
                        + indent + head[end:])
        path.write_text(src.replace(head, new_head, 1))
        done.append(cls.__name__)
    return done


if __name__ == "__main__":   # pragma: no cover - a maintenance command
    if "--write" in sys.argv:
        print("rewrote:", ", ".join(write()) or "nothing")
    else:
        names = [c.__name__ for c in stale()]
        print("stale:", ", ".join(names) or "none")
        sys.exit(1 if names else 0)
