"""One gradient step of a sigmoid neuron (seed 003, week 2 quiz).

    sigma(x) = 1 / (1 + exp(-(w x + b))),  L = 0.5 (y_hat - y)^2.
    Fit the pair x = 0, y = 1 from w = 2, b = 1 (y_hat = 0.731); update the
    parameters once with eta = 10 and compute the new loss.  Answer: 0.012..0.020.

With symdl.nn: Linear(1, 1) -> Activation("sigmoid"), the loss
``sum_squared_error`` (1/2 sum (a - y)^2) and ``symdl.optim.SGD(lr=10)``.
The notes' hand-derived gradients, dL/dw = (y_hat - y) y_hat (1 - y_hat) x and
dL/db = (y_hat - y) y_hat (1 - y_hat), are printed next to symdl's.

    python examples/sigmoid_neuron.py
"""
from __future__ import annotations

import numpy as np

import symdl
import symdl.nn as nn
import symdl.optim as optim
from symdl.train import train_step


def main(w=2.0, b=1.0, x=0.0, y=1.0, eta=10.0):
    model = nn.Sequential(nn.Linear(1, 1, dtype=np.float64), nn.Activation("sigmoid"))
    model.load_state_dict({"0.weight": [[w]], "0.bias": [b]})
    loss = symdl.kernel("sum_squared_error")            # 1/2 (y_hat - y)^2
    opt = optim.SGD(model.parameters(), lr=eta)
    X, Y = np.array([[x]]), np.array([[y]])

    y_hat = float(model.forward(X)[0, 0])
    loss0 = train_step(model, loss, opt, X, Y)           # forward, backward, w -= eta * grad
    dw, db = float(model.grads["0.weight"][0, 0]), float(model.grads["0.bias"][0])
    notes_dw = (y_hat - y) * y_hat * (1 - y_hat) * x + 0.0
    notes_db = (y_hat - y) * y_hat * (1 - y_hat)
    w1, b1 = float(model.params["0.weight"][0, 0]), float(model.params["0.bias"][0])
    y_hat1 = float(model.forward(X)[0, 0])
    loss1 = float(loss.forward(model.forward(X), Y))

    print(f"before: w = {w:g}, b = {b:g}, y_hat = {y_hat:.3f}, L = {loss0:.4f}")
    print(f"gradients (symdl):  dL/dw = {dw:.6f}, dL/db = {db:.6f}")
    print(f"gradients (notes):  dL/dw = {notes_dw:.6f}, dL/db = {notes_db:.6f}")
    print(f"after one step with eta = {eta:g}: w = {w1:g}, b = {b1:.4f}, y_hat = {y_hat1:.4f}")
    print(f"new loss L = {loss1:.5f}   (the notes accept 0.012 to 0.020)")
    return {"y_hat": y_hat, "loss0": loss0, "dw": dw, "db": db, "notes_dw": notes_dw,
            "notes_db": notes_db, "w": w1, "b": b1, "y_hat1": y_hat1, "loss": loss1}


if __name__ == "__main__":
    main()
