"""Gradient penalties: the critic's gradient wrt its input and its double backward.

WGAN-GP (Gulrajani et al. 2017; seed 001 §9.5 eq 92) trains the critic D on

    L = mean D(x̃) − mean D(x) + λ · mean_i (‖∇_x̂ D(x̂_i)‖₂ − 1)²,
    x̂ = ε x + (1 − ε) x̃,  ε ~ U(0, 1) per sample,

whose gradient wrt D's parameters differentiates through ∇_x̂ D: a double
backward.  For a critic built from symdl layers (``Linear``, ``Activation``,
``Dropout``, nested ``Sequential``) this module runs it on generated kernels
only: the loss and its gradients wrt (∇D, D(x), D(x̃)) come from the
``wgan_gp`` loss kernel (derived from its spec), each activation's f' and f''
(and d f'/d param for prelu and swish) from ``symdl.generated.activations_d2``
(derived by ``sympy.diff`` from the activation specs).  The linear maps use
their transposes.  No SymPy is imported.

>>> loss = symdl.nn.wgan_gp(critic, real, fake, lambda_gp=10.0, rng=rng)
>>> opt.step(critic.gradients())      # critic.grads hold dL/dθ (overwritten)
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError

from .layers import Activation, Dropout, Linear, Module
from .sequential import Sequential

__all__ = ["wgan_gp", "input_gradient", "second_derivative_kernel"]

#: the registry family of the derivative specs d_<name> (symdl.generated.activations_d2.<name>)
SECOND_FAMILY = "activation_d2"
_SUPPORTED = "Linear, Activation and Dropout layers (and Sequential stacks of them)"


# ----------------------------------------------------------------------------- kernels
def second_derivative_kernel(name: str, **params):
    """The kernel bundle of activation ``name``'s derivative spec ``d_<name>``:
    ``forward(x)`` = f'(x), ``backward(x, g)`` = g·f''(x) (with learnable
    parameters a tuple (g·f'', Σ g·∂f'/∂w, ...)), ``forward_backward``."""
    from symdl.runtime.elementwise import Elementwise

    from symdl.registry import registered, spec_module

    key = f"d_{name}"
    if registered().get(key, ("",))[0] != SECOND_FAMILY:
        from symdl.errors import UnknownNameError

        raise UnknownNameError("activation", name,
                               [n[2:] for n, (f, _) in registered().items() if f == SECOND_FAMILY])
    mod = spec_module(key, SECOND_FAMILY)
    return Elementwise(key, mod.SPECS[key], mod, **params)


def _second_of(layer: Activation):
    """The derivative bundle bound to an Activation layer's parameters (its
    learnable arrays by reference); rrelu in eval mode is leaky_relu."""
    k = layer.kernel
    return second_derivative_kernel(layer.name, **k.choices, **k.params)


def _second_eval_rrelu(layer: Activation):
    return second_derivative_kernel("leaky_relu", negative_slope=layer.kernel._eval_slope())


# ----------------------------------------------------------------------------- the tape
def _flatten(critic) -> list:
    if isinstance(critic, Sequential):
        return [leaf for layer in critic.layers for leaf in _flatten(layer)]
    if isinstance(critic, (Linear, Activation, Dropout)):
        return [critic]
    if isinstance(critic, Module):
        raise NotImplementedError(
            f"double backward through {critic._where()} ({type(critic).__name__}) is not implemented; "
            f"critics may use {_SUPPORTED}")
    raise ParameterError(f"the critic must be a symdl.nn layer or Sequential, got {type(critic).__name__}")


class _Pass:
    """One forward pass through the critic's layers, keeping what the
    backward, the input gradient and its double backward need."""

    def __init__(self, layers, dtype, x, training):
        self.layers, self.dtype = layers, dtype
        self.inputs, self.aux = [], []
        a = x
        for layer in layers:
            self.inputs.append(a)
            aux = None
            if isinstance(layer, Linear):
                y = np.matmul(a, layer.params["weight"].T)
                b = layer.params.get("bias")
                if b is not None:
                    y += b
            elif isinstance(layer, Activation):
                if layer.kernel.noise is not None and training:
                    aux = layer.kernel.sample_noise(a.shape, layer.rng, dtype)
                y = layer.kernel.forward(a, noise=aux)
            else:  # Dropout: multiplication by a mask (training) or a constant
                keep = 1.0 - layer.p
                if training and layer.p > 0:
                    u = layer.rng.random(a.shape, dtype=dtype)
                    scale = (1.0 / keep if keep > 0 else 0.0) if layer.mode == "inverted" else 1.0
                    aux = (u >= layer.p).astype(dtype) * dtype.type(scale)
                elif layer.mode == "inverted" or layer.p == 0:
                    aux = None
                else:
                    aux = dtype.type(keep)
                y = a if aux is None else a * aux
            self.aux.append(aux)
            a = np.asarray(y, dtype=dtype)
        self.out = a
        self.d1 = self.h = self.gout = None

    # -- first order ------------------------------------------------------------------------
    def _second(self, i):
        layer = self.layers[i]
        if layer.kernel.noise is not None and self.aux[i] is None:
            return _second_eval_rrelu(layer)
        return _second_of(layer)

    def _noise(self, i):
        layer = self.layers[i]
        return {"noise": self.aux[i]} if layer.kernel.noise is not None and self.aux[i] is not None else {}

    def input_gradient(self, seed):
        """d <seed, D(x)> / dx, keeping f'(a), seed-side g and g·f''(a) per layer."""
        n = len(self.layers)
        self.d1, self.h, self.gout = [None] * n, [None] * n, [None] * n
        g = seed
        for i in reversed(range(n)):
            layer, a = self.layers[i], self.inputs[i]
            self.gout[i] = g
            if isinstance(layer, Linear):
                g = np.matmul(g, layer.params["weight"])
            elif isinstance(layer, Activation):
                r = self._second(i).forward_backward(a, g, **self._noise(i))
                self.d1[i], self.h[i] = r[0], r[1]
                g = g * r[0]
            elif self.aux[i] is not None:
                g = g * self.aux[i]
        return g

    def backward(self, top, acc, inject=None):
        """Reverse mode through the forward pass: cotangent ``top`` at the
        output (None: zero) plus ``inject[i]`` at layer i's input; adds the
        parameter gradients to ``acc``."""
        c = top
        for i in reversed(range(len(self.layers))):
            layer, a = self.layers[i], self.inputs[i]
            if c is not None:
                if isinstance(layer, Linear):
                    out = layer.out_features
                    c2, a2 = c.reshape(-1, out), a.reshape(-1, layer.in_features)
                    acc[id(layer)]["weight"] += np.matmul(c2.T, a2)
                    if "bias" in acc[id(layer)]:
                        acc[id(layer)]["bias"] += c2.sum(axis=0, dtype=np.float64)
                    c = np.matmul(c, layer.params["weight"])
                elif isinstance(layer, Activation):
                    if layer._learnable:
                        r = layer.kernel.backward(a, c, **self._noise(i))
                        for pname, gp in zip(layer._learnable, r[1:]):
                            acc[id(layer)][pname] += gp
                        c = r[0]
                    elif self.d1 is not None and self.d1[i] is not None:
                        c = c * self.d1[i]
                    else:
                        c = layer.kernel.backward(a, c, **self._noise(i))
                elif self.aux[i] is not None:
                    c = c * self.aux[i]
            if inject is not None and inject[i] is not None:
                c = inject[i] if c is None else c + inject[i]
        return c

    def double_backward(self, ubar, acc):
        """Given ū = dL/du for u = input_gradient(seed), add dL/dθ to ``acc``
        (the seed is a constant)."""
        n = len(self.layers)
        gb = ubar                 # cotangent of the backward pass's g at layer i's input
        abar = [None] * n         # cotangent of layer i's forward input through g·f'(a)
        for i in range(n):
            layer, a = self.layers[i], self.inputs[i]
            if isinstance(layer, Linear):
                out = layer.out_features
                acc[id(layer)]["weight"] += np.matmul(self.gout[i].reshape(-1, out).T,
                                                     gb.reshape(-1, layer.in_features))
                gb = np.matmul(gb, layer.params["weight"].T)
            elif isinstance(layer, Activation):
                if layer._learnable:
                    r = self._second(i).forward_backward(a, gb * self.gout[i], **self._noise(i))
                    abar[i] = r[1]
                    for pname, gp in zip(layer._learnable, r[2:]):
                        acc[id(layer)][pname] += gp
                else:
                    abar[i] = gb * self.h[i]
                gb = gb * self.d1[i]
            elif self.aux[i] is not None:
                gb = gb * self.aux[i]
        self.backward(None, acc, inject=abar)


# ----------------------------------------------------------------------------- API
def _prepare(critic, x, what):
    layers = _flatten(critic)
    dtype = critic.dtype
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{what} has dtype {x.dtype}; expected real numbers")
    x = np.ascontiguousarray(x, dtype=dtype)
    if x.ndim < 1:
        raise ShapeError(f"{what} must have a batch axis (dim 0), got a scalar")
    return layers, dtype, x


def _seed(out, n, critic):
    if out.size != n:
        raise ShapeError(f"the critic must output one value per sample: {n} samples gave an output "
                         f"of shape {out.shape} (end the critic with Linear(..., 1))")
    return np.ones(out.shape, dtype=out.dtype)


def input_gradient(critic, x, grad=None, training=False):
    """∂(Σ D(x)) / ∂x -- or the vector-Jacobian product with ``grad`` (the
    shape of D(x)) -- for a critic of Linear/Activation/Dropout layers.
    Leaves the layers' state and ``grads`` untouched."""
    layers, dtype, x = _prepare(critic, x, "x")
    p = _Pass(layers, dtype, x, training)
    if grad is None:
        seed = np.ones(p.out.shape, dtype=dtype)
    else:
        seed = np.asarray(grad, dtype=dtype)
        if seed.shape != p.out.shape:
            seed = np.broadcast_to(seed, p.out.shape).astype(dtype) if seed.ndim == 0 else seed
        if seed.shape != p.out.shape:
            raise ShapeError(f"grad has shape {seed.shape} but the critic's output has shape {p.out.shape}")
    return p.input_gradient(seed)


def wgan_gp(critic, real, fake, lambda_gp=10.0, *, rng=None, epsilon=None, reduction="mean",
            training=True):
    """The WGAN-GP critic loss; writes dL/dθ into the critic's ``grads``.

    L = mean D(fake) − mean D(real) + lambda_gp · mean_i (‖∇D(x̂_i)‖₂ − 1)² with
    x̂ = ε·real + (1 − ε)·fake, ε ~ U(0, 1) per sample (``rng``: a NumPy
    Generator; ``epsilon``: the (N,) values to use instead).  ``reduction``
    "sum" sums over the samples instead.  ``real`` and ``fake`` (the
    generator's samples, treated as constants) share one shape (N, ...); the
    critic outputs one value per sample.  ``training``: dropout masks and
    rrelu slopes are drawn per pass, as torch does in train mode.

    The gradients overwrite ``critic.grads`` (like ``backward``), so
    ``opt.step(critic.gradients())`` follows.  Returns the loss (a scalar of
    the critic's dtype).
    """
    from symdl.registry import kernel

    if reduction not in ("mean", "sum"):
        raise ParameterError(f"wgan_gp: reduction={reduction!r} is not one of ('mean', 'sum') "
                             f"(the parameter gradients need a scalar loss)")
    layers, dtype, real = _prepare(critic, real, "real")
    _, _, fake = _prepare(critic, fake, "fake")
    if real.shape != fake.shape:
        raise ShapeError(f"real has shape {real.shape} but fake has shape {fake.shape}; WGAN-GP "
                         f"interpolates pairs of samples, so they must match")
    n = real.shape[0]
    if epsilon is None:
        rng = np.random.default_rng() if rng is None else rng
        eps = rng.uniform(0.0, 1.0, size=n)
    else:
        eps = np.asarray(epsilon, dtype=np.float64)
        if eps.shape != (n,):
            raise ShapeError(f"epsilon must have shape ({n},) (one value per sample), got {eps.shape}")
    eps = eps.astype(dtype).reshape((n,) + (1,) * (real.ndim - 1))
    interp = eps * real + (dtype.type(1) - eps) * fake
    k = kernel("wgan_gp", lambda_gp=lambda_gp, reduction=reduction)

    p_real = _Pass(layers, dtype, real, training)
    p_fake = _Pass(layers, dtype, fake, training)
    p_hat = _Pass(layers, dtype, interp, training)
    u = p_hat.input_gradient(_seed(p_hat.out, n, critic))
    _seed(p_real.out, n, critic)
    loss, (du, ddr, ddf) = k.forward_backward(u.reshape(n, -1), p_real.out.reshape(n),
                                              p_fake.out.reshape(n))
    acc = {id(layer): {k_: np.zeros(v.shape, np.float64) for k_, v in layer.params.items()}
           for layer in layers}
    p_hat.double_backward(du.reshape(u.shape), acc)
    p_real.backward(ddr.reshape(p_real.out.shape), acc)
    p_fake.backward(ddf.reshape(p_fake.out.shape), acc)
    for layer in layers:
        for name, g in acc[id(layer)].items():
            layer.grads[name][...] = g   # in place: optimizers hold these arrays
    return dtype.type(loss)
