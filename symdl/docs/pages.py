"""The catalog pages: one Markdown page per registered spec, generated.

Families are discovered from ``symdl.specs.FAMILIES`` (never a hand list),
so a family registered there gets its pages on the next
``symdl docs generate``.  A page shows the spec's derivation exactly as
``symdl latex NAME`` prints it -- the same derivation engine, no math typed
here -- as display math (MathJax), plus its parameters, source, torch
equivalent, measured kernel accuracy (``accuracy.py``), its plot (``plots.py``)
and its generated module.

Each page starts with a header comment holding the hashes it was generated
from (the spec's content hash, the generated module's generator hash, this
generator's own hash, the accuracy entry); ``check`` compares them (cheap) and
``--full`` renders every page again and diffs it, like ``symdl generate
--check``.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from symdl.codegen.header import read_header, sha

MARK = "<!-- symdl-docs: "
CATALOG = "catalog"
FIX = "symdl docs generate"
#: seconds one spec's derivation may take before its page says so instead
DERIVATION_SECONDS = 120.0
#: sources whose text decides what a page says (beside the spec itself)
GENERATOR_FILES = ("docs/pages.py", "docs/plots.py", "docs/accuracy.py", "derive/latex.py", "derive/reduction_latex.py",
                   "derive/optimizers.py", "derive/tex.py")

FAMILY_TITLES = {"activation": "Activations", "softmax": "Softmax family", "loss": "Losses",
                 "optimizer": "Optimizer rules", "objective": "Newton objectives"}
#: the generated package of the Newton objectives (not a runtime family of the registry)
NEWTON = "symdl.generated.newton"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def docs_dir() -> Path:
    return repo_root() / "docs"


def generator_hash() -> str:
    import sympy

    pkg = Path(__file__).resolve().parents[1]
    text = "".join((pkg / f).read_text(encoding="utf-8") for f in GENERATOR_FILES)
    return sha(text + sympy.__version__)


# ----------------------------------------------------------------------------- the registry
def families() -> dict[str, list]:
    """{family: [spec, ...]} of every registered spec, in registry order, and
    the Newton objectives (``symdl.specs.objectives``; rendered into
    ``generated/newton/`` but not in the runtime's spec registry)."""
    from symdl import specs as S
    from symdl.specs.objectives import OBJECTIVES

    fams = {fam: S.all_specs(fam) for fam in S.FAMILIES}
    fams.setdefault("objective", list(OBJECTIVES))
    return fams


def family_title(fam: str) -> str:
    return FAMILY_TITLES.get(fam, fam.replace("_", " ").capitalize())


@functools.lru_cache(maxsize=None)
def kernel_meta(name: str) -> tuple[dict | None, str | None]:
    """(metadata, module name holding its kernels) of a spec with generated
    kernels, else (None, None).  Looks in every runtime family and in every
    generated module's SPECS table (optimizer rules and families the runtime
    registry does not list)."""
    from symdl import registry

    newton = importlib.import_module(NEWTON).SPECS
    if name in newton:
        return newton[name], newton[name]["module"]
    try:
        meta, mod = registry.metadata(name)
        return meta, meta.get("module") or mod.__name__
    except Exception:
        pass
    try:                      # one module per spec: the generated registry names it
        entry = registry.registered().get(name)
    except Exception:
        entry = None
    if entry is not None:
        mod = importlib.import_module(entry[1])
        if isinstance(getattr(mod, "SPECS", {}).get(name), dict):
            return mod.SPECS[name], entry[1]
    for modname in _generated_modules():
        try:
            mod = importlib.import_module(modname)
        except Exception:
            continue
        table = getattr(mod, "SPECS", {})
        if name in table and isinstance(table[name], dict):
            return table[name], table[name].get("module") or modname
    return None, None


def _generated_modules() -> list[str]:
    gen = importlib.import_module("symdl.generated")
    return sorted(f"symdl.generated.{p.stem}" for p in Path(gen.__file__).parent.glob("*.py")
                  if p.stem != "__init__" and not p.stem.endswith("_d2"))


def module_file(modname: str) -> Path | None:
    spec = importlib.util.find_spec(modname)
    return Path(spec.origin) if spec is not None and spec.origin else None


@functools.lru_cache(maxsize=None)
def module_header(modname: str) -> dict:
    path = module_file(modname)
    if path is None or not path.exists():
        return {}
    with path.open(encoding="utf-8") as f:
        head = "".join(f.readline() for _ in range(6))
    return read_header(head) or {}


# ----------------------------------------------------------------------------- derivations
def derivation_latex(spec) -> str:
    """What ``symdl latex NAME`` prints -- the command itself is run, so a
    family whose printer the command learns appears here too -- time-limited."""
    import contextlib
    import io

    from symdl.cli import main
    from symdl.derive.timeout import TimeLimit, time_limit

    out, err = io.StringIO(), io.StringIO()
    try:
        with time_limit(DERIVATION_SECONDS), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["latex", spec.name])
    except TimeLimit:
        return f"% the derivation took longer than {DERIVATION_SECONDS:g} s: see `symdl latex {spec.name}`\n"
    except Exception as e:       # a family the command does not print (yet)
        rc, err = 1, io.StringIO(f"{type(e).__name__}: {e}")
    if rc != 0:
        msg = " ".join(err.getvalue().split())[:300]
        return f"% no derivation printed ({msg}); see `symdl latex {spec.name}`\n"
    return out.getvalue()


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_text(s: str) -> str:
    """Plain text safe inside Markdown (no emphasis, links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", s)


def latex_to_markdown(text: str, name: str | None = None) -> str:
    """``symdl latex`` output as Markdown: ``% comment`` lines become text
    (``% variant: ...`` a heading), ``\\text{label:}\\quad eq`` a bold label
    and display math, any other line display math."""
    out: list[str] = []
    lines = text.splitlines()
    # the first two comment lines (title, doc) are on the page already
    if lines and lines[0].startswith("% symdl"):
        lines = lines[2:] if len(lines) > 1 and lines[1].startswith("%") else lines[1:]
    elif name and lines and lines[0].startswith(f"% {name}: "):   # a Newton objective's "% name: doc"
        lines = lines[1:]
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("%"):
            body = line.lstrip("% ").rstrip()
            if body.startswith(("parameters:", "hyperparameters:", "torch:")):
                continue            # the page's parameter table and header say it
            if body.startswith("variant:"):
                out.append(f"### {md_text(body)}")
            elif body.startswith("stabilization rules applied:"):
                head, _, rules = body.partition(":")
                names = ", ".join(f"`{r.strip()}`" for r in rules.split(",") if r.strip())
                out.append(f"*{head}:* {names}")
            else:
                out.append(md_text(body))
            out.append("")
            continue
        label, sep, eq = line.partition(r"\quad ")
        m = re.fullmatch(r"\\text\{(.*)\}", label.strip())
        if sep and m and "\\" not in m.group(1).replace(r"\ ", "").replace(r"\_", "_"):
            out.append("**" + md_text(m.group(1).replace(r"\_", "_").rstrip(": ")) + "**")
            out.append("")
            line = eq
        out += ["$$", line.strip(), "$$", ""]
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- parameters
def param_rows(spec, meta: dict | None) -> list[tuple]:
    """(name, default, kind, note) per parameter: the generated metadata's
    (the runtime's argument names) where there is one, else the spec's."""
    rows = []
    if meta and meta.get("family") == "objective":
        return objective_param_rows(meta)
    if meta and meta.get("params") is not None:
        for p in meta["params"]:
            note = []
            if p.get("learnable"):
                note.append("learnable")
            if p.get("choices"):
                note.append("one of " + ", ".join(repr(c) for c in p["choices"]))
            sp_param = _spec_param(spec, p["name"])
            if sp_param is not None and getattr(sp_param, "doc", ""):
                note.append(sp_param.doc)
            rows.append((p["name"], repr(p.get("default")), p.get("kind", "real"), "; ".join(note)))
        return rows
    for p in getattr(spec, "params", ()) or ():
        note = []
        if getattr(p, "learnable", False):
            note.append("learnable")
        if getattr(p, "choices", ()):
            note.append("one of " + ", ".join(repr(c) for c in p.choices))
        if getattr(p, "doc", ""):
            note.append(p.doc)
        rows.append((p.name, repr(p.default), getattr(p, "kind", "real"), "; ".join(note)))
    return rows


def objective_param_rows(meta: dict) -> list[tuple]:
    """A Newton objective's arguments: those of ``symdl.newton.newton_step``
    (defaults from its signature), θ's entries for an expression objective."""
    import inspect

    from symdl.newton import newton_step

    sig = inspect.signature(newton_step).parameters
    if meta["kind"] == "glm":
        rows = [("theta", "—", "array (d,)", "the parameters θ"),
                ("X", "—", "array (n, d)", "the rows xᵢ of the design matrix"),
                ("y", "—", "array (n,)", "the targets yᵢ")]
        rows += [(p, repr(sig[p].default), "real", "λ of the l2 regularizer spec, ½λ‖θ‖²")
                 for p in meta["params"]]
    else:
        rows = [("theta", "—", f"array ({len(meta['params'])},)",
                 "θ = (" + ", ".join(meta["params"]) + ")")]
    rows.append(("damping", repr(sig["damping"].default), "real", "δ of the step θ ← θ − (H + δI)⁻¹ g"))
    return rows


def _spec_param(spec, name):
    for p in getattr(spec, "params", ()) or ():
        if getattr(p, "name", None) == name:
            return p
    return None


def symbol_rows(spec) -> list[tuple]:
    """Optimizer rules: (LaTeX symbol, argument) -- the map optax's docs give."""
    from symdl.derive.optimizers import _latex

    return [(_latex(p.symbol), p.name, repr(p.default)) for p in getattr(spec, "hyper", ())]


# ----------------------------------------------------------------------------- one page
@dataclass
class Page:
    path: str                       # relative to docs/
    hashes: dict                    # what the page was generated from
    render: Callable[[], str]       # the page's text (header included)


def _header(meta: dict) -> str:
    return MARK + json.dumps(meta, sort_keys=True) + " -->\n" + \
        f"<!-- Generated by symdl from the specs. DO NOT EDIT: run `{FIX}`. -->\n"


def read_page_header(text: str) -> dict | None:
    m = re.search("^" + re.escape(MARK) + r"(\{.*\}) -->$", text, re.MULTILINE)
    if not m:
        return None
    try:
        return json.loads(m.group(1))
    except ValueError:
        return None


def spec_path(family: str, name: str) -> str:
    return f"{CATALOG}/{family}/{name}.md"


def module_slug(modname: str) -> str:
    """A generated module's page name: symdl.generated.activations_d2.gelu ->
    activations_d2__gelu (one flat folder; per-spec modules share stems)."""
    return modname.removeprefix("symdl.generated.").replace(".", "__")


def module_relpath(modname: str) -> str:
    """The module's file under generated/: activations/gelu.py."""
    return modname.removeprefix("symdl.generated.").replace(".", "/") + ".py"


def module_path(modname: str) -> str:
    return f"{CATALOG}/modules/{module_slug(modname)}.md"


def spec_hash(spec) -> str:
    h = getattr(spec, "content_hash", None)
    if callable(h):
        return h()
    return sha(repr(spec))


def render_spec_page(spec, family: str, hashes: dict, accuracy_entry: dict | None) -> str:
    from symdl.codegen.source import kernel_sources

    from . import plots
    from .accuracy import accuracy_markdown

    name = spec.name
    meta, modname = kernel_meta(name)
    out = [_header(hashes), f"# {name}", ""]
    facts = [f"**family:** [{family_title(family)}](index.md)"]
    torch = getattr(spec, "torch", None)
    if torch:
        facts.append(f"**torch:** `{torch}`")
    else:
        facts.append("**torch:** no equivalent")
    source = getattr(spec, "source", "")
    facts.append(f"**source:** {md_text(source) if source else 'not recorded'}")
    out += [" · ".join(facts), ""]
    doc = getattr(spec, "doc", "")
    if doc:
        out += [md_text(doc), ""]
    plot = plots.plot_kind(spec, family, meta)
    if plot is not None:
        out += [f"![{plot.caption}](../plots/{name}.svg)", "", f"*{md_text(plot.caption)}*", ""]

    rows = param_rows(spec, meta)
    out += ["## Parameters", ""]
    if rows:
        out += ["| argument | default | kind | notes |", "|---|---|---|---|"]
        out += [f"| `{n}` | `{d}` | {k} | {md_text(note)} |" for n, d, k, note in rows]
    else:
        out.append("None.")
    out.append("")
    if family == "optimizer" and getattr(spec, "hyper", ()):
        out += ["**Symbols and arguments** (the update equations below use these symbols):", "",
                "| symbol | argument | default |", "|---|---|---|"]
        out += [f"| ${s}$ | `{n}` | `{d}` |" for s, n, d in symbol_rows(spec)]
        out.append("")

    out += ["## Derivation", "",
            f"Printed by the derivation engine from the spec (`symdl latex {name}`; "
            f"`symdl latex {name} --steps` walks the chain rule).", ""]
    out.append(latex_to_markdown(derivation_latex(spec), name))

    out += ["## Accuracy of the kernels", ""]
    out.append(accuracy_markdown(accuracy_entry))
    out += ["## Kernels", ""]
    if modname:
        out.append(f"Generated module: [`{modname}`](../modules/{module_slug(modname)}.md) "
                   f"(`generated/{module_relpath(modname)}`).")
        out.append("")
        try:
            code = kernel_sources(name, limit=1) if family != "optimizer" else {}
        except Exception:
            code = {}
        for caption, src in code.items():
            out += [f"The fused float64 kernel ({md_text(caption.rsplit(' (', 1)[0])}):", "",
                    "```python", src, "```", ""]
    else:
        out += ["No generated kernels: this spec is a notation (checked symbolically, "
                "not rendered into code).", ""]
    return "\n".join(out).rstrip() + "\n"


def family_index(fam: str, specs: list) -> str:
    out = [_header({"page": f"{fam}/index"}), f"# {family_title(fam)}", "",
           f"{len(specs)} specs, each with its derivation, parameters, measured accuracy "
           f"and generated kernels.", "", "| spec | torch | what it is |", "|---|---|---|"]
    for s in specs:
        torch = getattr(s, "torch", None)
        doc = getattr(s, "doc", "").split(". ")[0].rstrip(".")
        out.append(f"| [{s.name}]({s.name}.md) | {f'`{torch}`' if torch else '—'} | {md_text(doc)} |")
    return "\n".join(out) + "\n"


def catalog_index(fams: dict) -> str:
    total = sum(len(v) for v in fams.values())
    out = [_header({"page": "index"}), "# The catalog", "",
           f"Every formula symdl knows: {total} specs in {len(fams)} families, one page each, "
           "generated from the specs by `symdl docs generate` (nothing on these pages is typed "
           "by hand). Each page gives the definition, each derivative, the simplified and "
           "stable forms with the names of the rules that produced them, the conventions at "
           "kinks, the parameters with their torch names and defaults, the source, the torch "
           "equivalent, the measured worst error of the kernels in float32 and float64, and the "
           "generated module.", "", "| family | specs |", "|---|---|"]
    for fam, specs in fams.items():
        out.append(f"| [{family_title(fam)}]({fam}/index.md) | {len(specs)} |")
    out += ["", "Beside the specs: the [learning-rate schedules](schedules.md) of `symdl.optim`, "
            "each with a plot of its learning rate over epochs."]
    out += ["", "The generated modules: " + ", ".join(
        f"[`{module_relpath(m)[:-3]}`](modules/{module_slug(m)}.md)" for m in _linked_modules(fams)) + "."]
    return "\n".join(out) + "\n"


def _linked_modules(fams: dict) -> list[str]:
    mods = []
    for specs in fams.values():
        for s in specs:
            _, m = kernel_meta(s.name)
            if m and m not in mods:
                mods.append(m)
    return sorted(mods)


def module_page(modname: str, fams: dict) -> str:
    head = module_header(modname)
    path = module_file(modname)
    names = []
    for fam, specs in fams.items():
        for s in specs:
            if kernel_meta(s.name)[1] == modname:
                names.append((fam, s.name))
    fns: dict[str, list[str]] = {}
    if path is not None and path.exists():
        text = path.read_text(encoding="utf-8")
        for fam, n in names:
            pat = re.compile(r"^def (%s(?:__\w+?)?_(?:forward|backward|forward_backward|step)\w*)\(" % re.escape(n)
                             if fam != "objective" else r"^def (\w+)\(", re.MULTILINE)
            fns[n] = sorted(set(pat.findall(text)))
    out = [_header({"page": f"modules/{module_slug(modname)}", "module_header": {k: head.get(k) for k in
                                                                   ("generator_hash", "body_hash")}}),
           f"# `{modname}`", "",
           f"File `generated/{module_relpath(modname)}`, rendered by `symdl generate` from the template "
           f"`templates/{head.get('template', '?')}` with SymPy {head.get('sympy', '?')} "
           "(DO NOT EDIT: `symdl generate --check` fails when it is stale).", "",
           f"Generator hash `{head.get('generator_hash', '?')}`, body hash `{head.get('body_hash', '?')}`.", "",
           "| spec | content hash | kernel functions |", "|---|---|---|"]
    spec_hashes = head.get("specs", {})
    for fam, n in names:
        f = fns.get(n, [])
        shown = ", ".join(f"`{x}`" for x in f[:6]) + (f" and {len(f) - 6} more" if len(f) > 6 else "")
        out.append(f"| [{n}](../{fam}/{n}.md) | `{spec_hashes.get(n, '-')}` | {shown or '—'} |")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- all pages
def expected_pages(accuracy_cache: dict | None = None, measure: bool = False, names=None) -> list[Page]:
    """Every catalog page (``names``: only these specs' pages, no indexes)."""
    from . import accuracy as A

    fams = families()
    cache = A.load_cache() if accuracy_cache is None else accuracy_cache
    gen = generator_hash()
    pages = []
    for fam, specs in fams.items():
        if not names:
            pages.append(Page(f"{CATALOG}/{fam}/index.md", {},
                              lambda fam=fam, specs=specs: family_index(fam, specs)))
        for s in specs:
            if names and s.name not in names:
                continue
            meta, modname = kernel_meta(s.name)
            mh = module_header(modname) if modname else {}
            key = A.cache_key(s, mh)
            entry = A.entry(s, fam, meta, key, cache, measure=measure)
            hashes = {"spec": s.name, "spec_hash": spec_hash(s), "generator": gen,
                      "module_generator": mh.get("generator_hash"),
                      "accuracy": sha(json.dumps(entry, sort_keys=True))}
            pages.append(Page(spec_path(fam, s.name), hashes,
                              lambda s=s, fam=fam, hashes=hashes, entry=entry:
                              render_spec_page(s, fam, hashes, entry)))
    if not names:
        for m in _linked_modules(fams):
            pages.append(Page(module_path(m), {}, lambda m=m: module_page(m, fams)))
        from . import schedules

        pages[0:0] = [Page(f"{CATALOG}/index.md", {}, lambda: catalog_index(fams)),
                      Page(schedules.PAGE, {}, lambda: schedules.page(_header({"page": "schedules"})))]
    return pages


def spec_page_count(root: Path | None = None) -> int:
    """Spec pages on disk (catalog/<family>/<name>.md, indexes excluded)."""
    root = root or docs_dir()
    return sum(1 for p in (root / CATALOG).glob("*/*.md")
               if p.name != "index.md" and p.parent.name != "modules")


def run(check: bool = False, full: bool = False, root: Path | None = None, names=None,
        measure: bool = True, log=print) -> int:
    """Write the catalog pages (or, with ``check``, report stale ones: exit 1).

    A spec page whose header hashes match is not rendered again unless
    ``full``; index and module pages are always rendered (they are cheap)."""
    from symdl.codegen.generate import atomic_write

    from . import accuracy as A

    root = root or docs_dir()
    cache = A.load_cache(root)
    if names:
        from symdl import specs as S

        known = {sp.name for specs in families().values() for sp in specs}
        for n in names:
            if n not in known:
                S.get(n)        # unknown names: an error listing close matches
    pages = expected_pages(cache, measure=measure and not check, names=set(names or ()))
    stale, diffs = [], []
    for page in pages:
        path = root / page.path
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if page.hashes and old is not None and not full and read_page_header(old) == page.hashes:
            continue
        new = page.render()
        if old == new:
            continue
        stale.append(page.path)
        if check:
            diffs.append("".join(difflib.unified_diff(
                (old or "").splitlines(True), new.splitlines(True), f"a/docs/{page.path}",
                f"b/docs/{page.path}", n=1))[:4000])
        else:
            atomic_write(path, new)
    expected = {p.path for p in pages}
    extra = [] if names else [str(p.relative_to(root)) for p in sorted((root / CATALOG).glob("*/*.md"))
                              if str(p.relative_to(root)) not in expected]
    if check:
        if stale or extra:
            for d in diffs:
                log(d)
            for e in extra:
                log(f"docs/{e}: no such spec any more")
            log(f"{len(stale) + len(extra)} catalog page(s) stale: run `{FIX}`")
            return 1
        log(f"docs catalog up to date ({len(pages)} pages)")
        return 0
    for e in extra:
        (root / e).unlink()
    if not check:
        A.save_cache(cache, root)
    log(f"docs catalog: {len(stale)} page(s) written, {len(extra)} removed, "
        f"{len(pages) - len(stale)} up to date")
    return 0


def page_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
