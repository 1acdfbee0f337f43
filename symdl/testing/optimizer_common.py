"""What every optimizer check shares: the warm-up steps, the dtype suffixes,
the catalog's rules and the hyperparameters a check uses."""
from __future__ import annotations

import numpy as np

#: kernel steps from the initial state before the checked step
WARMUP = 3
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _module():
    """The catalog's rules: a view whose SPECS and kernels import each rule's
    module (symdl.generated.optimizers.<rule>) on first use."""
    from symdl.runtime.family import RULES
    return RULES


def default_hyper(meta, variant) -> dict:
    """The rule's defaults, with 0 replaced by 0.1 (a zero weight_decay,
    momentum or dampening would hide its term) unless the variant drops it."""
    out = {}
    for p in meta["params"]:
        if p["kind"] != "real":
            continue
        v = p["default"]
        if v == 0 and not (p["name"] == "weight_decay" and not variant.get("has_weight_decay", True)):
            v = 0.1
        out[p["name"]] = float(v)
    return out


def _paths(paths) -> tuple:
    """The kernel paths a check runs: "serial", "parallel" or both."""
    paths = (paths,) if isinstance(paths, str) else tuple(paths)
    bad = [x for x in paths if x not in ("serial", "parallel")]
    if bad or not paths:
        raise ValueError(f"paths must name 'serial' and/or 'parallel', not {paths!r}")
    return paths
