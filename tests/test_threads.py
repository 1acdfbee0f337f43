"""symdl.runtime.threads: Numba's OpenMP pool starts with a short spin
(GOMP_SPINCOUNT) unless the user chose a policy, and torch's own libgomp,
imported first, keeps its policy."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from numba.np.ufunc import parallel

from symdl.runtime import threads


@pytest.fixture
def fake_launch(monkeypatch):
    """A not-yet-started threading layer whose start records the environment
    and dlopen flags it sees; the wrapper installed fresh."""
    seen = []

    def launch():
        seen.append((os.environ.get("GOMP_SPINCOUNT"), sys.getdlopenflags()))
        parallel._is_initialized = True

    monkeypatch.setattr(parallel, "_launch_threads", launch)
    monkeypatch.setattr(parallel, "_is_initialized", False)
    monkeypatch.setattr(threads, "_installed", False)
    for v in threads.POLICY_VARS + ("SYMDL_OMP_SPINCOUNT",):
        monkeypatch.delenv(v, raising=False)
    return seen


def test_the_layer_starts_with_the_short_spin_and_deepbind_then_the_env_is_restored(fake_launch):
    flags = sys.getdlopenflags()
    assert threads.install_short_spin()
    parallel._launch_threads()
    assert fake_launch == [(threads.DEFAULT_SPINCOUNT, flags | os.RTLD_DEEPBIND)]
    assert "GOMP_SPINCOUNT" not in os.environ and sys.getdlopenflags() == flags
    parallel._launch_threads()                       # started: a plain call
    assert len(fake_launch) == 2 and fake_launch[1][0] is None


@pytest.mark.parametrize("env, want", [({"OMP_WAIT_POLICY": "active"}, None),
                                       ({"GOMP_SPINCOUNT": "123"}, "123"),
                                       ({"SYMDL_OMP_SPINCOUNT": "off"}, None),
                                       ({"SYMDL_OMP_SPINCOUNT": "0"}, "0")])
def test_the_users_choice_wins(fake_launch, monkeypatch, env, want):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    threads.install_short_spin()
    parallel._launch_threads()
    assert fake_launch[0][0] == want                 # the user's own GOMP_SPINCOUNT is left as set


def test_a_bad_spincount_is_named(fake_launch, monkeypatch):
    monkeypatch.setenv("SYMDL_OMP_SPINCOUNT", "fast")
    with pytest.raises(ValueError, match="SYMDL_OMP_SPINCOUNT='fast'"):
        threads.install_short_spin()


PROGRAM = r"""
import ctypes, json, os, sys, time
if sys.argv[1] == "torch":
    import torch
    torch.ones(4)
import numpy as np
import symdl.nn as nn
relu = nn.ReLU()
x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
relu.forward(x)
import numba
spin = []
for _ in range(5):
    relu.forward(x)                       # a parallel kernel: its worker then spins or sleeps
    c = time.process_time()
    time.sleep(0.03)
    spin.append((time.process_time() - c) * 1e3)
def icvs(lib):
    show = getattr(ctypes.CDLL(lib), "omp_display_env", None)    # OpenMP 5.0; torch's is older
    if show is None:
        return None
    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    show(1)
    os.dup2(saved, 2)
    os.close(w)
    text = os.read(r, 1 << 16).decode()
    return [l.strip() for l in text.splitlines() if "SPINCOUNT" in l]
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libgomp" in l})
print(json.dumps({"layer": numba.threading_layer(), "spin_ms": min(spin),
                  "icvs": {lib: icvs(lib) for lib in libs},
                  "env": os.environ.get("GOMP_SPINCOUNT")}))
"""


def _run(arg, **env):
    e = {k: v for k, v in os.environ.items() if k not in threads.POLICY_VARS + ("SYMDL_OMP_SPINCOUNT",)}
    e.update(env)
    out = subprocess.run([sys.executable, "-c", PROGRAM, arg], env=e, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("first", ["numpy", "torch"])
def test_numbas_pool_sleeps_soon_and_torchs_library_keeps_its_policy(first):
    if first == "torch":
        pytest.importorskip("torch")
    r = _run(first)
    if r["layer"] != "omp":
        pytest.skip(f"Numba's threading layer is {r['layer']!r}, not OpenMP")
    assert r["env"] is None                          # the process environment is restored
    mine = [v for k, v in r["icvs"].items() if "torch" not in k and v is not None]
    assert mine and all(f"'{threads.DEFAULT_SPINCOUNT}'" in " ".join(v) for v in mine), r
    for k, v in r["icvs"].items():                   # torch's libgomp: its own default
        if "torch" in k and v is not None:
            assert f"'{threads.DEFAULT_SPINCOUNT}'" not in " ".join(v), r
    # Numba's worker spins 10,000 pause loops (~0.3 ms), not libgomp's default ~9 ms: with
    # torch imported first this holds only if Numba bound to its own libgomp (RTLD_DEEPBIND)
    assert r["spin_ms"] < 3.0, r
