"""generated/ and templates/ must work from a built wheel, not only from the
editable checkout (pyproject maps symdl.generated -> generated/)."""
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{r.stdout}\n{r.stderr}")
    (whl,) = out.glob("symdl-*.whl")
    return whl


def test_wheel_contains_generated_kernels_and_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "symdl/generated/activations/gelu.py" in names          # one module per spec
    assert "symdl/generated/registry.py" in names
    import pathlib
    gen = pathlib.Path(__file__).resolve().parents[1] / "generated"
    for f in gen.rglob("*.py"):                                         # every module is packaged
        assert f"symdl/generated/{f.relative_to(gen).as_posix()}" in names, f
    assert "symdl/generated/__init__.py" in names
    src = gen.parent / "symdl"
    for f in src.rglob("*.py"):                                         # every source module too
        assert f"symdl/{f.relative_to(src).as_posix()}" in names, f
    assert "symdl/generated/normalization/batch_norm.py" in names   # a generated subpackage
    assert "symdl/generated/cells/lstm_cell.py" in names and "symdl/templates/cells.py.j2" in names
    assert "symdl/templates/activations.py.j2" in names
    assert not any(n.startswith(("generated/", "templates/", "tests/")) for n in names)


def test_installed_wheel_runs_kernels_and_generates(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    deps = sysconfig.get_paths()["purelib"]
    code = ("import numpy as np, symdl, symdl.generated.activations.gelu as A; "
            "assert A.__file__.startswith(%r), A.__file__; "
            "print(symdl.kernel('gelu').forward(np.array([1.0]))[0]); "
            "from symdl.codegen.render import templates_dir; print(templates_dir())") % str(site)
    # -S: no site hooks, so the editable install of this checkout is invisible
    env = {"PYTHONPATH": f"{site}:{deps}", "PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(tmp_path / "nbcache")}
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    value, tdir = r.stdout.split()
    assert abs(float(value) - 0.8413447460685429) < 1e-15
    assert tdir.startswith(str(site))
