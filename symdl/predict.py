"""``symdl predict MODEL --csv FILE``: predictions of a saved model for new rows
(no SymPy).  The model standardizes raw rows itself when ``symdl train`` saved
it, and names its classes; its input columns are picked from the CSV by name."""
from __future__ import annotations

import csv
import io
import sys


def register(sub) -> None:
    q = sub.add_parser("predict", help="predict with a saved model on the rows of a CSV file",
                       description="Write one prediction per row of a CSV file: the class name "
                                   "(and its probability) for a classifier, the value for a "
                                   "regression model. The model's input columns are selected "
                                   "by name; other columns (an ID, the target) are ignored.")
    q.add_argument("model", help="a model saved by `symdl train` or Sequential.save (.npz)")
    q.add_argument("--csv", required=True, metavar="PATH", help="the rows to predict")
    q.add_argument("--out", metavar="PATH", help="write the predictions here (default: stdout)")
    q.set_defaults(func=_cmd_predict)


def _cmd_predict(args) -> int:
    import numpy as np

    from symdl import datasets as D
    from symdl import nn

    model = nn.load(args.model)
    X, names = D.read_features(args.csv, model.feature_names)
    out = model.predict(X)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if model.classes is not None or (out.ndim == 2 and out.shape[1] > 1):
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        idx = out.argmax(axis=1)
        labels = model.classes or [str(i) for i in range(out.shape[1])]
        w.writerow(["row", "prediction", "probability"])
        for i, (k, pk) in enumerate(zip(idx, p[np.arange(len(idx)), idx])):
            w.writerow([i, labels[k], f"{pk:.6f}"])
    else:
        w.writerow(["row", "prediction"])
        for i, v in enumerate(out.reshape(len(out), -1)[:, 0]):
            w.writerow([i, repr(float(v))])
    if args.out:
        from symdl.nn.serialize import atomic_write_text
        atomic_write_text(args.out, buf.getvalue())
        print(f"{len(X)} predictions written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return 0
