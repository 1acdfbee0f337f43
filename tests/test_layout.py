"""generated/ holds one module per spec, loaded lazily (issue 17): the
registry names each spec's module without importing it; ``import symdl``,
``symdl.nn``, ``symdl.optim`` import no generated module; ``symdl.kernel(name)``
imports that spec's module alone; ``symdl generate --check NAME`` touches one file."""
from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from symdl.codegen.header import read_header
from symdl.codegen.targets import FAMILY_DIRS, filename_of, module_of

GEN = Path(__file__).resolve().parents[1] / "generated"


def _modules_after(code: str) -> list:
    prog = (f"import sys\n{code}\nimport json\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('symdl.generated'))))")
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_importing_the_library_imports_no_generated_module():
    mods = _modules_after("import symdl, symdl.nn, symdl.optim, symdl.train")
    assert mods == [], mods


@pytest.mark.parametrize("call, module", [
    ("import numpy as np, symdl; symdl.kernel('gelu').forward(np.zeros(4))", "activations.gelu"),
    ("import symdl; symdl.kernel('cross_entropy')", "losses.cross_entropy"),
    ("import numpy as np, symdl.optim as O; p = np.zeros(3); O.Adam([p]).step([np.ones(3)])",
     "optimizers.adam"),
])
def test_a_kernel_imports_only_its_spec_module(call, module):
    mods = _modules_after(call)
    family = module.split(".")[0]
    allowed = {"symdl.generated", "symdl.generated.registry", "symdl.generated.elementary",
               f"symdl.generated.{family}", f"symdl.generated.{module}"}
    assert f"symdl.generated.{module}" in mods and set(mods) <= allowed, mods


def test_every_registered_name_resolves_to_a_module_holding_it():
    from symdl.generated.registry import KERNELS

    assert set(f for f, _ in KERNELS.values()) == set(FAMILY_DIRS)
    for name, (family, module) in KERNELS.items():
        assert module == module_of(family, name)
        path = GEN / filename_of(family, name)
        assert path.is_file(), path
        with open(path, encoding="utf-8") as f:
            meta = read_header("".join(f.readline() for _ in range(6)))
        assert meta["module"] == module and list(meta["specs"]) == [name], (name, meta)
        # this install (editable: pyproject maps symdl.generated -> generated/) finds it there
        found = importlib.util.find_spec(module)
        assert found is not None and Path(found.origin).resolve() == path.resolve(), module


def test_the_registry_lists_every_catalog_spec():
    import symdl
    from symdl import specs as S
    from symdl.generated.registry import KERNELS

    for family in ("activation", "softmax", "loss"):
        assert set(symdl.names(family, user=False)) == {n for n, (f, _) in KERNELS.items() if f == family}
    assert {s.name for s in S.all_specs("activation")} <= set(KERNELS)
    assert {f"d_{s.name}" for s in S.all_specs("activation")} <= set(KERNELS)


def test_check_one_name_touches_one_file():
    from symdl.codegen import generate as G

    buf = io.StringIO()
    assert G.run(check=True, names=["gelu"], stream=buf) == 0
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("generated/activations/gelu.py"), lines


def test_a_stale_module_left_behind_is_reported(tmp_path):
    from symdl.codegen import generate as G
    from symdl.codegen.header import make_header

    (tmp_path / "losses").mkdir()
    old = tmp_path / "losses" / "gone_loss.py"
    old.write_text(make_header(module="x", template="-", specs={}, generator_hash="0",
                               sympy_version="0", body="X = 1\n") + "X = 1\n")
    assert G.orphans(tmp_path, []) == [old]
    assert G.orphans(tmp_path, [G.Target("losses/gone_loss.py", str, None)]) == []


def _imports(path: Path) -> set:
    """Every module a source file imports (at top level or inside functions), resolved."""
    import ast

    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
            mod = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


ROOT = GEN.parent


@pytest.mark.parametrize("lower, upper", [
    # the family renderers share codegen/targets.py; generate imports them, not the other way
    *[(f"symdl/codegen/{m}.py", "symdl.codegen.generate")
      for m in ("render", "second", "reductions", "optimizers", "normalization", "user_specs", "targets")],
    ("symdl/derive/reduce_rules.py", "symdl.derive.graph"),     # graph uses the rules, not back
    ("symdl/derive/axes.py", "symdl.derive.graph"),
    ("symdl/derive/accuracy.py", "symdl.testing"),             # a pipeline stage, not the test helpers
    ("symdl/derive/exact.py", "symdl.testing"),
    ("symdl/layout.py", "symdl.codegen"),
    ("symdl/runtime/family.py", "symdl.codegen"),
])
def test_imports_go_one_direction(lower, upper):
    bad = {m for m in _imports(ROOT / lower) if m == upper or m.startswith(upper + ".")}
    assert not bad, f"{lower} imports {sorted(bad)}"


def test_names_of_optimizer_rules_match_symdl_list():
    import json
    import subprocess
    import sys

    import symdl
    rules = symdl.names("optimizer")
    assert {"adam", "sgd", "rmsprop"} <= set(rules)
    r = subprocess.run([sys.executable, "-m", "symdl", "list", "--family", "optimizer", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert sorted(x["name"] for x in json.loads(r.stdout)) == sorted(rules)
