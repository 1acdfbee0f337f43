"""The perceptron learning rule on the notes' 3-point problem (seed 003, week 2, problem 2).

    "A perceptron with two inputs x1, x2 is trained on (-1, 2) labeled 0,
    (0, -1) labeled 1 and (2, 1) labeled 0.  The weights are initialized to
    zeros and the model is trained until convergence.  What class does the
    trained perceptron assign to (-2, 0)?  Ignore the bias term."

The notes' answer: w = (-1, -3) and class 1, since w.x = 2 >= 0.

The rule (Figure 16): y_hat = 1 if w.x >= 0 else 0 -- symdl's ``binary_step``
kernel, whose value at 0 is 1 -- and w <- w + (y - y_hat) x, visiting the points
in order until a full pass makes no update.

    python examples/perceptron.py
"""
from __future__ import annotations

import numpy as np

import symdl

X = np.array([[-1.0, 2.0], [0.0, -1.0], [2.0, 1.0]])
Y = np.array([0.0, 1.0, 0.0])
NEW_POINT = np.array([-2.0, 0.0])


def train(X=X, Y=Y, max_epochs=100, verbose=True):
    step = symdl.kernel("binary_step")           # 1 if u >= 0 else 0
    w = np.zeros(X.shape[1])
    rows = []
    for epoch in range(max_epochs):
        updates = 0
        for x, y in zip(X, Y):
            xw = float(x @ w)
            y_hat = float(step.forward(np.array([xw]))[0])
            w_before = w.copy()
            w = w + (y - y_hat) * x
            updates += y != y_hat
            rows.append((tuple(x), tuple(w_before), xw, y_hat, tuple(w)))
        if updates == 0:
            break
    if verbose:
        print(f"{'x':>10} {'w':>12} {'x.w':>5} {'y_hat':>5}  update")
        for x, wb, xw, yh, wa in rows:
            upd = "no update" if wa == wb else f"w = {_fmt(wa)}"
            print(f"{_fmt(x):>10} {_fmt(wb):>12} {xw:>5g} {yh:>5g}  {upd}")
    return w, epoch + 1


def _fmt(v):
    return "(" + ", ".join(f"{c:g}" for c in v) + ")"


def main():
    w, epochs = train()
    score = float(NEW_POINT @ w)
    cls = int(symdl.kernel("binary_step").forward(np.array([score]))[0])
    print(f"\nconverged after {epochs} passes: w = {_fmt(w)}")
    print(f"new point {_fmt(NEW_POINT)}: w.x = {score:g} -> class {cls}")
    return {"w": w, "class": cls, "epochs": epochs}


if __name__ == "__main__":
    main()
