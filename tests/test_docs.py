"""The documentation site (symdl.docs): catalog pages generated from the specs,
their staleness check, the accuracy measurement, the plots, and one page
rendered in headless Chromium (MathJax typeset, plot loaded).

Fast tests generate pages for a few specs into a temporary docs tree; the
full ``symdl docs build`` is ``@pytest.mark.slow``.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symdl import specs as S
from symdl.docs import accuracy as A
from symdl.docs import pages as P

ROOT = Path(__file__).resolve().parents[1]
FEW = ["relu", "softmax", "mse_loss", "sgd", "logistic_regression"]


def test_one_committed_page_per_spec():
    """The page count equals the spec count, family by family, name by name."""
    from symdl.specs.objectives import OBJECTIVES

    on_disk = {(p.parent.name, p.stem) for p in (ROOT / "docs" / P.CATALOG).glob("*/*.md")
               if p.name != "index.md" and p.parent.name != "modules"}
    registered = {(fam, s.name) for fam in S.FAMILIES for s in S.all_specs(fam)}
    expected = {(fam, s.name) for fam, specs in P.families().items() for s in specs}
    # every registered spec, and the Newton objectives (not in the runtime's registry)
    assert expected == registered | {("objective", o.name) for o in OBJECTIVES}
    assert P.spec_page_count(ROOT / "docs") == len(S.all_specs()) + len(OBJECTIVES) == len(expected)
    assert on_disk == expected, (sorted(expected - on_disk), sorted(on_disk - expected))


def test_getting_started_has_the_readmes_two_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)
    assert len(commands) == 2
    page = (ROOT / "docs" / "index.md").read_text()
    for c in commands:
        assert f"```sh\n{c}\n```" in page, c


def test_families_discovered_from_the_registry(monkeypatch):
    """A family added to symdl.specs.FAMILIES gets pages with no other change."""
    fams = dict(S.FAMILIES)
    fams["toy_family"] = ["relu"]
    monkeypatch.setattr(S, "FAMILIES", fams)
    assert "toy_family" in P.families()
    assert P.family_title("toy_family") == "Toy family"
    paths = [p.path for p in P.expected_pages({}, measure=False)]
    assert "catalog/toy_family/relu.md" in paths and "catalog/toy_family/index.md" in paths


@pytest.fixture(scope="module")
def few(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs")
    (root / P.CATALOG).mkdir()
    shutil.copy(ROOT / "docs" / A.CACHE, root / A.CACHE)
    assert P.run(root=root, names=FEW, measure=False, log=lambda *a: None) == 0
    return root


def test_pages_hold_the_derivation_and_facts(few):
    relu = (few / "catalog/activation/relu.md").read_text()
    assert relu.startswith(P.MARK)
    for part in ("# relu", "**torch:** `relu`", "**source:** all seeds", "## Parameters",
                 "**definition**", "**derivative**", r"\text{convention at the kink } x = 0",
                 "## Accuracy of the kernels", "| forward | float64 |",
                 "[`symdl.generated.activations.relu`](../modules/activations__relu.md)",
                 "(`generated/activations/relu.py`)",
                 "def _py_relu_forward_backward_f64", "(kernel relu\\_forward\\_backward\\_f64, serial and parallel)",
                 "](../plots/relu.svg)"):
        assert part in relu, part
    # display math blocks are balanced and non-empty
    blocks = re.findall(r"^\$\$\n(.*?)\n\$\$$", relu, re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 3 and all(b.strip() for b in blocks)
    sgd = (few / "catalog/optimizer/sgd.md").read_text()
    assert r"| $\mu$ | `momentum` | `0.0` |" in sgd         # symbol -> argument map
    assert r"\leftarrow" in sgd and "update (in order)" in sgd
    # the measured accuracy of its kernels, with the bounds named per dtype
    assert "## Accuracy of the kernels" in sgd and "| output | dtype | worst relative error |" in sgd
    assert "the pure relative bound (float64: 1e-12; float32: 1e-06" in sgd
    mse = (few / "catalog/loss/mse_loss.md").read_text()
    assert r"\text{gradient" in mse and "torch.nn.functional.mse_loss" in mse
    assert "](../plots/mse_loss.svg)" in mse
    # measured on the test suite's cases, with where the worst error occurs
    assert "| options | output | dtype | worst relative error | where | values | failures |" in mse
    assert "| defaults | d target | float32 |" in mse and "Not measured" not in mse
    newton = (few / "catalog/objective/logistic_regression.md").read_text()
    for part in (r"\nabla L(\theta) =", r"\nabla^2 L(\theta) =", r"\leftarrow", "| `damping` | `0.0` |",
                 "[`symdl.generated.newton.logistic_regression`](../modules/newton__logistic_regression.md)",
                 "| Hessian | float64 |", "**family:** [Newton objectives](index.md)"):
        assert part in newton, part
    assert "**definition**" in (few / "catalog/softmax/softmax.md").read_text()


def test_staleness_check(few):
    quiet = dict(log=lambda *a: None)
    assert P.run(root=few, names=FEW, check=True, **quiet) == 0
    page = few / "catalog/activation/relu.md"
    text = page.read_text()
    page.write_text(text.replace("**derivative**", "**derivative (edited)**"))
    assert P.run(root=few, names=FEW, check=True, **quiet) == 0      # hashes still match ...
    assert P.run(root=few, names=FEW, check=True, full=True, **quiet) == 1   # ... --full sees it
    page.write_text(text.replace('"spec_hash": "', '"spec_hash": "0'))       # a changed spec
    out = []
    assert P.run(root=few, names=FEW, check=True, log=out.append) == 1
    assert "symdl docs generate" in out[-1]
    assert P.run(root=few, names=FEW, measure=False, **quiet) == 0
    assert page.read_text() == text
    page.unlink()                                                        # a missing page
    assert P.run(root=few, names=FEW, check=True, **quiet) == 1
    assert P.run(root=few, names=FEW, measure=False, **quiet) == 0


def test_accuracy_measured_by_the_ground_truth_harness():
    e = A.measure_activation(S.get("softsign"))
    assert {(r["which"], r["dtype"]) for r in e["rows"]} == {
        ("forward", "float64"), ("derivative", "float64"), ("forward", "float32"), ("derivative", "float32")}
    assert all(r["failures"] == 0 for r in e["rows"])
    f64 = [r["worst"] for r in e["rows"] if r["dtype"] == "float64"]
    f32 = [r["worst"] for r in e["rows"] if r["dtype"] == "float32"]
    assert max(f64) < 1e-12 and 1e-9 < max(f32) < 1e-5     # float32 really is float32
    assert e["points"] > 100


def test_softmax_family_accuracy_measured_and_sensitive(monkeypatch):
    import symdl

    e = A.measure_rows(S.get("logsumexp"))
    assert len(e["rows"]) == 4 and all(r["failures"] == 0 for r in e["rows"])
    worst = {(r["which"], r["dtype"]): r["worst"] for r in e["rows"]}
    assert worst["forward", "float64"] < 1e-14 and 1e-9 < worst["forward", "float32"] < 1e-5
    real = symdl.kernel

    class Off:                       # a kernel 1e-9 off in float64
        def __init__(self, k):
            self.k = k

        def forward(self, x):
            return self.k.forward(x) * (1 + 1e-9)

        def backward(self, x, g):
            return self.k.backward(x, g)

    monkeypatch.setattr(symdl, "kernel", lambda name, **kw: Off(real(name, **kw)))
    bad = A.measure_rows(S.get("logsumexp"))
    r = next(r for r in bad["rows"] if r["which"] == "forward" and r["dtype"] == "float64")
    assert r["worst"] > 5e-10 and r["failures"] > 0


def test_accuracy_cache_is_keyed_by_spec_and_generator():
    cache = json.loads((ROOT / "docs" / A.CACHE).read_text())
    spec = S.get("relu")
    meta, mod = P.kernel_meta("relu")
    key = A.cache_key(spec, P.module_header(mod))
    assert A.entry(spec, "activation", meta, key, cache, measure=False)["status"] == "measured"
    assert A.entry(spec, "activation", meta, key + "x", cache, measure=False)["status"] == "stale"


def test_latex_to_markdown():
    md = P.latex_to_markdown("% symdl derivation of f (x)\n% doc\n% variant: a=1\n"
                             r"\text{definition:}\quad f = x_1" "\n"
                             "% stabilization rules applied: log1p, expm1\n% a*b_c\n")
    assert "### variant: a=1" in md
    assert "**definition**\n\n$$\nf = x_1\n$$" in md
    assert "`log1p`, `expm1`" in md and r"a\*b\_c" in md


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from symdl.docs import plots

    for name, fam in (("relu6", "activation"), ("mse_loss", "loss")):
        meta, _ = P.kernel_meta(name)
        path = tmp_path / f"{name}.svg"
        assert plots.draw(S.get(name), fam, meta, path)
        svg = path.read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        assert len(re.findall(r"<path[^>]*clip-path", svg)) >= 2       # the curves
        first = svg
        plots.draw(S.get(name), fam, meta, path)
        assert path.read_text() == first                                # deterministic
    assert plots.plot_kind(S.get("sgd"), "optimizer", P.kernel_meta("sgd")[0]) is None


def test_schedules_page_and_curves():
    import symdl.optim as O
    from symdl.docs import schedules

    classes = schedules.schedulers()
    assert O.StepLR in classes and O.CosineAnnealingLR in classes and O.LRScheduler not in classes
    lr = schedules.curve(O.StepLR)
    assert lr[0] == lr[29] == pytest.approx(0.1) and lr[30] == pytest.approx(0.01)
    text = (ROOT / "docs" / schedules.PAGE).read_text()
    for c in classes:
        assert f"## {c.__name__}" in text
        assert f"(plots/schedule_{c.__name__}.svg)" in text or "Not plotted" in text


def test_build_checks_every_image_link(tmp_path):
    from symdl.docs.build import check_images
    from symdl.errors import SymdlError

    docs, site = tmp_path / "docs", tmp_path / "site"
    (docs / "catalog/loss").mkdir(parents=True)
    (docs / "catalog/loss/ce.md").write_text("![ce of input[target] − input[other]](../plots/ce.svg)\n")
    (site / "catalog/plots").mkdir(parents=True)
    with pytest.raises(SymdlError, match="ce.svg"):
        check_images(docs, site)
    (site / "catalog/plots/ce.svg").write_text("<svg/>")
    assert check_images(docs, site) == 1


# ----------------------------------------------------------------------------- a page in a browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


_PROBE = """<script>
window.addEventListener('load', function () {
  var done = function () {
    var imgs = Array.prototype.slice.call(document.querySelectorAll('article img'));
    var r = {mjx: document.querySelectorAll('mjx-container').length,
             arith: document.querySelectorAll('.arithmatex').length,
             errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
             raw: (document.querySelector('article').innerText.match(/\\\\\\[/g) || []).length,
             imgs: imgs.map(function (i) { return [i.getAttribute('src'), i.complete, i.naturalWidth]; })};
    var pre = document.createElement('pre'); pre.id = 'symdl-probe';
    pre.textContent = JSON.stringify(r); document.body.appendChild(pre);
  };
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(done, done);
  else done();
});
</script>"""


def _mini_site(tmp_path, name="relu6", family="activation"):
    """The real page, plot, MathJax bundle, theme and extensions: mkdocs.yml
    with the nav cut down to one catalog page."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("matplotlib")
    import yaml
    from symdl.docs import build as B
    from symdl.docs import plots

    if shutil.which("npm") is None and not (ROOT / "build/mathjax/node_modules/mathjax").exists():
        pytest.skip("npm is needed to install MathJax")
    docs = tmp_path / "docs"
    (docs / P.CATALOG).mkdir(parents=True)
    shutil.copy(ROOT / "docs" / A.CACHE, docs / A.CACHE)
    P.run(root=docs, names=[name], measure=False, log=lambda *a: None)
    (docs / "catalog" / family / "index.md").write_text(f"# {family}\n")
    (docs / "catalog" / "modules").mkdir()
    (docs / P.module_path(P.kernel_meta(name)[1])).write_text("# module\n")
    shutil.copytree(ROOT / "docs/javascripts", docs / "javascripts")
    (docs / "index.md").write_text(f"# test\n\n[{name}](catalog/{family}/{name}.md)\n")
    meta, _ = P.kernel_meta(name)
    assert plots.draw(S.get(name), family, meta, docs / plots.PLOTS / f"{name}.svg")
    B.install_mathjax(docs, ROOT / "build" / "mathjax", log=lambda *a: None)
    cfg = (ROOT / "mkdocs.yml").read_text()
    cfg = cfg.split("\nnav:")[0] + f"\nnav:\n  - index.md\n  - catalog/{family}/{name}.md\n"
    cfg = re.sub(r"  - mkdocstrings:\n(?:      .*\n)*", "", cfg)        # no API pages here
    cfg = re.sub(r"not_in_nav: \|\n(?:  .*\n)*", "", cfg)
    yaml.safe_load(cfg)
    (tmp_path / "mkdocs.yml").write_text(cfg)
    B.mkdocs_build(tmp_path, tmp_path / "site", log=lambda *a: None)
    return tmp_path / "site" / "catalog" / family / f"{name}.html"


def test_catalog_page_in_headless_chromium(tmp_path):
    """What a person checks by looking: the formulas are typeset by MathJax
    (served from the site), the plot is loaded, no TeX error."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    page = _mini_site(tmp_path)
    html = page.read_text()
    assert "cdn" not in html.lower() and "googleapis" not in html
    probe = page.with_name("probe.html")
    probe.write_text(html.replace("</body>", _PROBE + "</body>"))
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                        "--virtual-time-budget=20000", "--dump-dom", probe.as_uri()],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="symdl-probe">(.*?)</pre>', r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert res["arith"] >= 5 and res["mjx"] >= res["arith"], res      # every formula typeset
    assert res["errors"] == 0 and res["raw"] == 0, res
    assert res["imgs"] and all(c and w > 0 for _, c, w in res["imgs"]), res    # the plot loaded
    assert any(src.endswith("plots/relu6.svg") for src, _, _ in res["imgs"])


@pytest.mark.slow
def test_full_docs_build(tmp_path):
    """``symdl docs build`` (pages, plots, MathJax, mkdocs --strict) on the repository."""
    pytest.importorskip("mkdocs")
    r = subprocess.run([sys.executable, "-m", "symdl", "docs", "build", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    site = tmp_path / "site"
    n = len([p for p in (site / "catalog").glob("*/*.html")
             if p.name != "index.html" and p.parent.name != "modules"])
    from symdl.specs.objectives import OBJECTIVES

    assert n == len(S.all_specs()) + len(OBJECTIVES)
    assert (site / "assets/mathjax/tex-svg-full.js").exists()
    assert len(list((site / "catalog/plots").glob("*.svg"))) >= len(S.all_specs("activation"))
