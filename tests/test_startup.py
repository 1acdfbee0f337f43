"""A process's first kernel call with a warm Numba cache (issue 17's startup):
symdl's kernels load from the disk cache without Numba's full context refresh
(symdl.runtime.jitcache), and give the same numbers as with it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

PROGRAM = r"""
import json, sys
import numpy as np
import symdl, symdl.nn, symdl.optim
before = 'numba' in sys.modules
k = symdl.kernel('gelu')
x = np.linspace(-6, 6, 4099)
y, dx = k.forward_backward(x, np.ones_like(x))
ce = symdl.kernel('cross_entropy', label_smoothing=0.1)
X = np.cos(np.arange(48.0)).reshape(8, 6)
loss, dX = ce.forward_backward(X, np.arange(8) % 6)
p = [np.linspace(-1, 1, 64, dtype=np.float32)]
opt = symdl.optim.Adam(p, lr=1e-2)
opt.step([np.sin(np.arange(64, dtype=np.float32))])
from symdl.runtime import jitcache
print(json.dumps({"numba_at_import": before, "light": jitcache._installed,
                  # imported by numba's context refresh only
                  "refreshed": "numba.np.linalg" in sys.modules,
                  "numbers": [y.tolist(), dx.tolist(), float(loss), dX.tolist(), p[0].tolist()]}))
"""


def _run(**env):
    e = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=e, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cached_kernels_load_without_numbas_context_refresh_and_agree():
    full = _run(SYMDL_NUMBA_FULL_REFRESH="1")     # also warms the cache
    light = _run()
    assert not light["numba_at_import"]             # import symdl.nn, symdl.optim: no numba
    assert light["light"] and not full["light"]
    assert full["refreshed"]                        # the proxy sees numba's refresh...
    assert not light["refreshed"], "a cached kernel load refreshed numba's whole context"
    assert light["numbers"] == full["numbers"]      # ...and the light loads change no bit


def test_other_functions_keep_numbas_own_cache_load(tmp_path):
    mod = tmp_path / "plain_mod.py"
    mod.write_text("from numba import njit\n@njit(cache=True)\ndef f(x):\n    return x + 1.0\n")
    prog = (f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
            "from symdl.runtime.jitcache import install_light_cache_loads\n"
            "install_light_cache_loads()\n"
            "import plain_mod; print(plain_mod.f(1.0), 'numba.np.linalg' in sys.modules)\n")
    run = [sys.executable, "-c", prog]
    subprocess.run(run, check=True, capture_output=True)          # compile + cache
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout.split()
    assert out == ["2.0", "True"]                   # a cache hit outside symdl: numba's full path
