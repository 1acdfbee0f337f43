"""Seed 004's two-layer MLP trained by backpropagation, two ways.

The notes (DTE-2502, "Multi-layer perceptron theory, part 01") classify people
by gender from six measurements (height, weight, bone density, femur length,
jawline width, jawline length): an MLP with inputs in R^6, a hidden layer in
R^9 and an output layer in R^2, sigmoid units, the per-sample loss
L_n = 1/2 sum_m (a_m(x_n) - y_m)^2, and the backpropagation algorithm:

    forward:   alpha_h = sigma(sum_j w_jh x_j),  a_m = sigma(sum_h w_hm alpha_h)   (x_0 = alpha_0 = 1)
    errors:    eps_m = a_m - y_m,   eps_h = sum_m eps_m sigma'_m w_hm
    step:      w_hm -= mu eps_m sigma'_m alpha_h,   w_jh -= mu eps_h sigma'_h x_j
    objective: Q := lambda L_i + (1 - lambda) Q, until Q converges.

``notes_backprop`` transcribes those equations into NumPy; ``symdl_backprop``
trains the same network with symdl.nn (Linear -> Activation("sigmoid") ->
Linear -> Activation("sigmoid"), loss ``sum_squared_error``, ``optim.SGD``,
one sample per step, the same sample order).  Both start from the same weights
(the notes' w_jh with j = 0 the bias is torch's layout weight[h, j-1], bias[h])
and follow the same trajectory to rounding error.  The notes give the three
table rows below (the other rows are elided); the features are standardized
(raw heights of 125-189 would saturate the sigmoids).

    python examples/mlp_backprop.py
"""
from __future__ import annotations

import numpy as np

import symdl
import symdl.nn as nn
import symdl.optim as optim
from symdl.train import train_step

FEATURES = ["height", "weight", "bone density", "femur length", "jawline width", "jawline length"]
# id 112, 208, 232 of the notes' table
RAW = np.array([[125, 56, 1.2, 32, 3.0, 10.0],
                [189, 90, 2.5, 48, 5.0, 15.0],
                [150, 70, 1.5, 37, 3.2, 10.5]])
GENDER = ["F", "M", "F"]
CLASSES = ["F", "M"]


def data():
    X = (RAW - RAW.mean(0)) / RAW.std(0)
    Y = np.array([[1.0, 0.0] if g == "F" else [0.0, 1.0] for g in GENDER])
    return X, Y


def sigma(u):
    return 1.0 / (1.0 + np.exp(-u))


def initial_weights(seed=0, F=6, H=9, M=2):
    """w1[j, h] (j = 0: bias) and w2[h, m] (h = 0: bias), the notes' indexing."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (F + 1, H)), rng.normal(0, 0.5, (H + 1, M))


def notes_backprop(X, Y, w1, w2, mu=0.5, lam=0.1, epochs=300):
    """The notes' algorithm, equation by equation (per-sample SGD)."""
    w1, w2 = w1.copy(), w2.copy()
    Q = np.mean([0.5 * np.sum((sigma(np.r_[1, sigma(np.r_[1, x] @ w1)] @ w2) - y) ** 2)
                 for x, y in zip(X, Y)])
    trajectory = []
    for _ in range(epochs):
        for x, y in zip(X, Y):
            xj = np.r_[1.0, x]                              # x_0 = 1
            alpha = np.r_[1.0, sigma(xj @ w1)]              # alpha_0 = 1
            a = sigma(alpha @ w2)
            eps_m = a - y                                   # dL/da_m
            L = 0.5 * np.sum(eps_m ** 2)
            Q = lam * L + (1 - lam) * Q
            sig_m = a * (1 - a)                             # sigma'_m
            sig_h = alpha[1:] * (1 - alpha[1:])             # sigma'_h
            eps_h = (eps_m * sig_m) @ w2[1:].T              # hidden-layer error
            w2 -= mu * np.outer(alpha, eps_m * sig_m)       # w_hm -= mu eps_m sigma'_m alpha_h
            w1 -= mu * np.outer(xj, eps_h * sig_h)          # w_jh -= mu eps_h sigma'_h x_j
            trajectory.append(L)
    return w1, w2, np.array(trajectory), Q


def symdl_model(w1, w2):
    model = nn.Sequential(nn.Linear(w1.shape[0] - 1, w1.shape[1]), nn.Activation("sigmoid"),
                          nn.Linear(w2.shape[0] - 1, w2.shape[1]), nn.Activation("sigmoid"),
                          dtype=np.float64)
    model.load_state_dict({"0.weight": w1[1:].T, "0.bias": w1[0], "2.weight": w2[1:].T, "2.bias": w2[0]})
    return model


def symdl_backprop(X, Y, w1, w2, mu=0.5, epochs=300):
    """The same training with symdl.nn, symdl's sum_squared_error and SGD."""
    model = symdl_model(w1, w2)
    loss = symdl.kernel("sum_squared_error")                # 1/2 sum (a - y)^2
    opt = optim.SGD(model.parameters(), lr=mu)
    trajectory = []
    for _ in range(epochs):
        for i in range(len(X)):
            trajectory.append(train_step(model, loss, opt, X[i:i + 1], Y[i:i + 1]))
    return model, np.array(trajectory)


def main(epochs=300, mu=0.5, lam=0.1):
    X, Y = data()
    w1, w2 = initial_weights()
    n1, n2, traj_notes, Q = notes_backprop(X, Y, w1, w2, mu, lam, epochs)
    model, traj_symdl = symdl_backprop(X, Y, w1, w2, mu, epochs)
    dev_loss = float(np.max(np.abs(traj_notes - traj_symdl)))
    dev_w = max(float(np.max(np.abs(model.params["0.weight"] - n1[1:].T))),
                float(np.max(np.abs(model.params["2.weight"] - n2[1:].T))),
                float(np.max(np.abs(model.params["0.bias"] - n1[0]))),
                float(np.max(np.abs(model.params["2.bias"] - n2[0]))))
    out = model.predict(X)
    pred = [CLASSES[k] for k in out.argmax(1)]
    print(f"MLP 6-9-2 (sigmoid), per-sample SGD mu = {mu}, {epochs} passes over {len(X)} samples")
    print(f"loss of the first step {traj_notes[0]:.6f}, of the last {traj_notes[-1]:.2e}; Q = {Q:.2e}")
    print(f"notes' equations vs symdl.nn: max |loss difference| {dev_loss:.1e}, "
          f"max |weight difference| {dev_w:.1e}")
    for row, g, p, o in zip(RAW, GENDER, pred, out):
        print(f"  {row}  true {g}  predicted {p}  outputs {np.round(o, 3)}")
    return {"loss_first": float(traj_notes[0]), "loss_last": float(traj_notes[-1]), "Q": float(Q),
            "dev_loss": dev_loss, "dev_w": dev_w, "pred": pred, "true": GENDER}


if __name__ == "__main__":
    main()
