"""A tiny WGAN-GP (seed 001 §9.5, eq 92; Gulrajani et al. 2017) on 2-D points.

Real data: N((2, -1), 0.3²).  Generator G(z) = z Aᵀ + b, z ~ N(0, I), starts
at the origin.  Critic: Linear(2, 32) → leaky_relu(0.2) → Linear(32, 32) →
leaky_relu(0.2) → Linear(32, 1).  Each generator step follows 5 critic steps on

    L_D = mean D(G(z)) − mean D(x) + λ · mean (‖∇D(x̂)‖₂ − 1)²   (λ = 10)

whose parameter gradients ``symdl.nn.wgan_gp`` computes by a double backward
through the critic; the generator minimizes L_G = −mean D(G(z)), its gradient
through the critic by ``symdl.nn.input_gradient``.  Adam(1e-3, β = (0.5, 0.9))
as in the paper.  The generated mean walks to the data's.

    python examples/wgan_gp.py
"""
from __future__ import annotations

import numpy as np

import symdl.nn as nn
import symdl.optim as optim

REAL_MEAN = np.array([2.0, -1.0])


def main(steps=250, n_critic=5, batch=64, seed=0, verbose=True):
    rng = np.random.default_rng(seed)
    nn.manual_seed(seed)
    f64 = np.float64
    critic = nn.Sequential(nn.Linear(2, 32, dtype=f64), nn.Activation("leaky_relu", negative_slope=0.2),
                           nn.Linear(32, 32), nn.Activation("leaky_relu", negative_slope=0.2),
                           nn.Linear(32, 1))
    gen = nn.Sequential(nn.Linear(2, 2, dtype=f64))
    gen.load_state_dict({"0.weight": np.eye(2), "0.bias": np.zeros(2)})
    opt_d = optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_g = optim.Adam(gen.parameters(), lr=1e-2, betas=(0.5, 0.9))
    history = []
    for step in range(steps):
        for _ in range(n_critic):
            real = REAL_MEAN + 0.3 * rng.normal(size=(batch, 2))
            fake = gen.forward(rng.normal(size=(batch, 2)))
            loss_d = nn.wgan_gp(critic, real, fake, lambda_gp=10.0, rng=rng)
            opt_d.step(critic.gradients())
        z = rng.normal(size=(batch, 2))
        fake = gen.forward(z, training=True)
        # L_G = -mean D(G(z)): its gradient wrt the samples, then through G
        gen.backward(nn.input_gradient(critic, fake, grad=np.full((batch, 1), -1.0 / batch)))
        opt_g.step(gen.gradients())
        gap = float(np.linalg.norm(gen.params["0.bias"] - REAL_MEAN))
        history.append((float(loss_d), gap))
        if verbose and (step % 25 == 0 or step == steps - 1):
            print(f"step {step:4d}  critic loss {float(loss_d):8.4f}  |mean(G) - mean(data)| {gap:.3f}")
    return {"history": history, "gap_first": history[0][1], "gap_last": history[-1][1],
            "bias": gen.params["0.bias"].copy()}


if __name__ == "__main__":
    main()
