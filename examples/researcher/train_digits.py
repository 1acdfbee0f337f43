"""A researcher's own activation, loss and update rule, end to end.

``my_specs.py`` (next to this file) defines SmeLU with a learnable width, the
log-cosh loss and a centered Adam.  This script

1. generates their kernels (``symdl generate --spec-file my_specs.py --out DIR``;
   here only what is stale, as ``symdl train --spec-file`` does),
2. checks the activation's kernels against the spec evaluated by mpmath
   (``symdl.testing.check_activation``) and the loss's value and gradient
   at a few points,
3. prints each derivation in LaTeX (``symdl latex NAME --spec-file my_specs.py``),
4. trains an MLP on the embedded digits with all three
   (``nn.Activation("smelu")``, ``fit(loss="log_cosh_loss")``,
   ``symdl.optim.from_rule("centered_adam", ...)``), saves the model and loads it back.

    python examples/researcher/train_digits.py [--kernels DIR] [--epochs N]

The same from the command line:

    symdl train --spec-file examples/researcher/my_specs.py --activation smelu \\
        --loss log_cosh_loss --optimizer centered_adam --lr 3e-3
"""
from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np

SPEC_FILE = Path(__file__).resolve().parent / "my_specs.py"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", default=str(SPEC_FILE.with_name("my_specs_kernels")),
                    help="where the kernels go (default: my_specs_kernels/ next to the spec file)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--out", help="where to save the model (default: a temporary file)")
    ap.add_argument("--quiet-latex", action="store_true", help="print only the first formulas of each derivation")
    args = ap.parse_args(argv)

    import symdl
    import symdl.nn as nn
    from symdl.cli import main as symdl_cli
    from symdl.codegen.user_specs import ensure_generated, load_spec_file
    from symdl.datasets import load_digits, standardize, train_test_split
    from symdl.metrics import accuracy
    from symdl.testing import check_activation

    # 1. generate (only the stale modules) and load: one module per spec
    ensure_generated(SPEC_FILE, args.kernels)
    lib = symdl.load_kernels(args.kernels)
    specs = {s.name: s for s in load_spec_file(SPEC_FILE)}
    print(f"kernels: {lib}")

    # 2. check against the spec evaluated by mpmath
    reports = check_activation(specs["smelu"], lib.kernel("smelu"))
    reports.assert_ok()      # every entry point, both dtypes, the learnable beta's gradient
    print(f"smelu: {len(reports)} kernel checks against mpmath passed")
    loss = lib.kernel("log_cosh_loss", reduction="sum")
    x = np.array([[-800.0, -3.0, -1e-5, 0.0, 2.5, 800.0]])
    val, grad = loss.forward_backward(x, np.zeros_like(x))
    # log cosh u = |u| - log 2 + log1p(e^{-2|u|}) and tanh: independent closed forms
    ref = np.sum(np.abs(x) - np.log(2) + np.log1p(np.exp(-2 * np.abs(x))))
    assert abs(val - ref) <= 1e-12 * abs(ref) and np.allclose(grad, np.tanh(x), rtol=1e-14, atol=0)
    print(f"log_cosh_loss: value {val:.6f} and gradient tanh(x - y) at |x - y| up to 800: ok")

    # 3. the derivations
    for name in specs:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = symdl_cli(["latex", name, "--spec-file", str(SPEC_FILE)])
        assert rc == 0, f"symdl latex {name} failed"
        text = buf.getvalue()
        if args.quiet_latex:   # the title and the first three formulas
            lines = text.splitlines()
            text = "\n".join(lines[:1] + [ln for ln in lines if ln.startswith("\\text")][:3])
        print(text)

    # 4. train on digits with the three
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    Xtr, Xte = standardize(Xtr, Xte)
    onehot = np.eye(10, dtype=np.float32)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, args.hidden), nn.Activation("smelu", num_parameters=args.hidden),
                          nn.Linear(args.hidden, 10))
    opt = symdl.optim.from_rule("centered_adam", model.parameters(), lr=3e-3)
    hist = model.fit(Xtr, onehot[ytr], loss="log_cosh_loss", optimizer=opt, epochs=args.epochs,
                     batch_size=32, metrics=["accuracy"], seed=0, verbose=0)
    acc = accuracy(yte, model.predict(Xte).argmax(1))
    beta = model.params["1.beta"]
    print(f"trained {len(hist.epoch)} epochs: loss {hist['loss'][-1]:.4f}, test accuracy {acc:.4f}; "
          f"learned beta in [{beta.min():.3f}, {beta.max():.3f}]")

    # the saved model records where smelu's kernels are
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or str(Path(tmp) / "smelu-digits.npz")
        model.save(path)
        again = nn.load(path)
        same = np.array_equal(again.predict(Xte), model.predict(Xte))
    print(f"saved and loaded back: {'same predictions' if same else 'DIFFERENT predictions'}")
    assert same
    return {"accuracy": acc, "beta": beta.copy(), "epochs": len(hist.epoch)}


if __name__ == "__main__":
    main()
