"""``symdl train``: the command line of the fit loop (``symdl.train``).

Builds an MLP (or the small CNN) for digits, iris or a CSV file, trains it
with ``model.fit`` and prints the test metrics; ``--task`` runs the sequence
tasks (``symdl.tasks``).  Kept apart from ``symdl.train`` so that the fit loop
never imports the layer package whose ``Sequential.fit`` calls it.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from symdl.errors import ParameterError, UnknownNameError
from symdl.train import resolve_loss

__all__ = ["register", "schedule_factory"]


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every default that has a value (not None/False)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def register(sub) -> None:
    """Add the ``train`` subcommand to the ``symdl`` argument parser."""
    q = sub.add_parser(
        "train", help="train an MLP on digits, iris or a CSV file (progress bar, test metrics)",
        formatter_class=_DefaultsFormatter,
        description="Train an MLP on the generated kernels: embedded digits (default) or iris, "
                    "or any numeric CSV. Prints test accuracy, macro F1 and the confusion matrix "
                    "and saves the model (.npz).")
    q.add_argument("--dataset", default="digits", choices=["digits", "iris"],
                   help="embedded dataset")
    q.add_argument("--csv", metavar="PATH", help="train on a CSV file instead")
    q.add_argument("--target", metavar="COL", help="the CSV's label column (name or index; default: last)")
    q.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="cnn: a small convolutional net on the 8x8 digit images (symdl.nn.models.small_cnn)")
    q.add_argument("--hidden", default="128,64", help="hidden layer sizes")
    q.add_argument("--activation", default="gelu", help="any name of `symdl list --family activation` "
                                                         "or of --spec-file")
    q.add_argument("--spec-file", metavar="FILE",
                   help="your own specs: --activation, --optimizer and --loss may name them "
                        "(kernels generated into --kernels DIR first, when stale)")
    q.add_argument("--kernels", metavar="DIR",
                   help="with --spec-file: where its kernels go (default: FILE's name + _kernels)")
    q.add_argument("--loss", default=None, help="default cross_entropy (classes) or mse_loss; any "
                                                "loss name, e.g. an elementwise one of --spec-file "
                                                "(class labels become one-hot targets)")
    q.add_argument("--norm", default="none", choices=["none", "batch", "layer"],
                   help="BatchNorm1d or LayerNorm after each hidden Linear")
    q.add_argument("--dropout", type=float, default=0.2, help="dropout after each hidden layer")
    q.add_argument("--optimizer", default="adam", help="adam, sgd, adamw, rmsprop, ... (`symdl list "
                   "--family optimizer`) or a rule of --spec-file")
    q.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the optimizer's; sgd: 0.01 with momentum 0.9)")
    q.add_argument("--momentum", type=float, default=None, help="sgd/rmsprop momentum (default: sgd "
                   "0.9, rmsprop 0)")
    q.add_argument("--l1", type=float, default=None, help="L1 penalty λ on the weight matrices")
    q.add_argument("--l2", type=float, default=None, help="L2 penalty ½λ‖W‖² on the weight matrices")
    q.add_argument("--schedule", default="none", choices=["none", "cosine", "step", "exponential",
                                                             "polynomial", "plateau"],
                   help="learning-rate schedule over the epochs (after --warmup)")
    q.add_argument("--warmup", type=int, default=0, help="epochs of linear warmup (from lr/10) first")
    q.add_argument("--epochs", type=int, default=None,
                   help="default: 40, more on small data sets (at least ~1000 steps, at most 300 epochs)")
    q.add_argument("--batch-size", type=int, default=32, help="rows per step")
    q.add_argument("--test-size", type=float, default=0.2, help="held-out fraction")
    q.add_argument("--val-split", type=float, default=0.0, help="validation fraction of the training part")
    q.add_argument("--patience", type=int, default=None, help="early stopping patience in epochs "
                   "(default: no early stopping)")
    q.add_argument("--seed", type=int, default=0, help="initialization, split, shuffling, dropout")
    q.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="kernel dtype")
    q.add_argument("--checkpoint", metavar="PATH", help="checkpoint after every epoch (resumable)")
    q.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    q.add_argument("--out", metavar="PATH", help="where to save the model (default: symdl-<data>.npz)")
    q.add_argument("--no-save", action="store_true", help="do not save the model")
    q.add_argument("--plot", metavar="PNG", help="write the loss/metric curves and the test "
                   "confusion matrix as a picture (needs matplotlib)")
    q.add_argument("--history", metavar="JSON", help="write the per-epoch numbers as JSON")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    q.add_argument("--clip-grad-norm", type=float, default=None, metavar="MAX",
                   help="clip the gradients' global norm to MAX before each step")
    q.add_argument("--task", choices=["adding", "charlm"], default=None,
                   help="a sequence task instead of a dataset: the adding problem or a "
                        "character-level LSTM language model (symdl.tasks)")
    q.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"], help="--task adding: the cell")
    q.add_argument("--seq-len", type=int, default=None, help="--task: sequence length (adding 50, charlm 32)")
    q.add_argument("--steps", type=int, default=None, help="--task: training steps (adding 3000, charlm 600)")
    q.set_defaults(func=_cmd_train)


def _cmd_task(args) -> int:
    from symdl import tasks

    clip = 1.0 if args.clip_grad_norm is None else args.clip_grad_norm
    kw = {k: v for k, v in (("steps", args.steps), ("lr", args.lr)) if v is not None}
    if args.task == "adding":
        r = tasks.train_adding(args.cell, T=args.seq_len or 50, clip=clip, seed=args.seed,
                               verbose=not args.quiet, **kw)
        print(f"{args.cell.upper()}: test MSE {r['mse']:.4f} after {r['steps']} steps "
              f"(baseline {tasks.BASELINE:.3f}) in {r['seconds']:.1f} s")
    else:
        tasks.train_charlm(seq_len=args.seq_len or 32, clip=clip, seed=args.seed, verbose=True, **kw)
    return 0


def _cmd_train(args) -> int:
    if args.task:
        return _cmd_task(args)
    from symdl import datasets as D
    from symdl import metrics as M
    from symdl import nn
    t0 = time.perf_counter()
    _check_train_args(args)
    if getattr(args, "spec_file", None):
        from symdl.codegen.user_specs import ensure_generated
        from symdl.registry import load_kernels

        load_kernels(ensure_generated(args.spec_file, args.kernels, quiet=args.quiet))
    if args.csv:
        data = D.load_csv(args.csv, target=-1 if args.target is None else args.target)
    else:
        data = D.load(args.dataset)
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        raise ParameterError(f"--hidden takes comma-separated layer sizes such as 128,64, "
                             f"got {args.hidden!r}") from None
    if any(h < 1 for h in hidden):
        raise ParameterError(f"--hidden sizes must be positive, got {args.hidden!r}")
    classes = data.n_classes
    X, y = data.X, data.y
    if classes and len(np.unique(y)) < 2:
        raise ParameterError(f"{data.name}: the target holds one class only "
                             f"({data.target_names[int(y[0])] if data.target_names else int(y[0])!r}); "
                             f"a classifier needs at least two")
    Xtr, Xte, ytr, yte = D.train_test_split(X, y, args.test_size, seed=args.seed,
                                            stratify=bool(classes))
    scaler = D.StandardScaler().fit(Xtr)
    dtype = np.dtype(args.dtype)
    nn.manual_seed(args.seed)
    sizes = [X.shape[1]] + hidden
    # the model starts with the training set's standardization, so that the
    # saved model predicts from raw rows (nn.load(path).predict(X_raw))
    layers = [nn.Standardize.from_scaler(scaler, dtype=dtype)]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if args.norm != "none":
            layers.append((nn.BatchNorm1d if args.norm == "batch" else nn.LayerNorm)(b, dtype=dtype))
        layers.append(nn.Activation(args.activation, dtype=dtype))
        if args.dropout:
            layers.append(nn.Dropout(args.dropout, dtype=dtype))
    out_width = classes if classes else 1
    layers.append(nn.Linear(sizes[-1], out_width, dtype=dtype))
    model = nn.Sequential(*layers)
    if getattr(args, "model", "mlp") == "cnn":   # the digits as (N, 1, 8, 8) images
        from symdl.nn.models import small_cnn

        side = math.isqrt(X.shape[1])
        nn.manual_seed(args.seed)
        cnn = small_cnn((1, side, side), out_width, activation=args.activation,
                        dropout=args.dropout, dtype=dtype)
        # raw rows in, standardized, then shaped as images: the saved model
        # predicts from the same rows as the MLP's
        model = nn.Sequential(nn.Standardize.from_scaler(scaler, dtype=dtype),
                              nn.Unflatten(1, (1, side, side), dtype=dtype), *cnn.layers)
    model.feature_names = list(data.feature_names) or None
    if classes:
        model.classes = [str(n) for n in (data.target_names or range(classes))]
    loss = getattr(args, "loss", None) or ("cross_entropy" if classes else "mse_loss")
    if classes and not resolve_loss(loss).classes:   # an elementwise loss: one-hot targets
        ytr = np.eye(classes, dtype=dtype)[ytr]
    metrics = ["accuracy"] if classes else ["mae"]
    verbose = 0 if args.quiet else 1
    if verbose:
        what = f"{data.name}: {len(X)} rows, {X.shape[1]} features, " + (
            f"{classes} classes" if classes else "real-valued target")
        print(f"{what}; train {len(Xtr)} / test {len(Xte)}\n{model}", flush=True)
    lr, opt_options = args.lr, {}
    if args.momentum is not None:
        opt_options["momentum"] = args.momentum
    if args.optimizer.lower() == "sgd":
        lr = 0.01 if lr is None else lr
        opt_options.setdefault("momentum", 0.9)
    epochs = args.epochs
    if epochs is None:
        batches = math.ceil(len(Xtr) * (1 - args.val_split) / args.batch_size)
        epochs = max(40, min(300, math.ceil(1000 / max(batches, 1))))
    hist = model.fit(Xtr, ytr, loss=loss, optimizer=args.optimizer, lr=lr,
                     optimizer_options=opt_options or None,
                     epochs=epochs, batch_size=args.batch_size,
                     validation_split=args.val_split, metrics=metrics,
                     early_stopping=args.patience, checkpoint=args.checkpoint,
                     resume=args.resume, verbose=verbose, seed=args.seed,
                     clip_grad_norm=args.clip_grad_norm,
                     regularizers={k: v for k, v in (("l1", args.l1), ("l2", args.l2)) if v} or None,
                     scheduler=schedule_factory(getattr(args, "schedule", "none"),
                                                getattr(args, "warmup", 0), epochs))
    out = model.predict(Xte)
    train_time = hist.seconds
    print()
    if classes:
        pred = out.argmax(1)
        acc = M.accuracy(yte, pred)
        f1 = M.f1(yte, pred, "macro", num_classes=classes)
        print(f"test accuracy {acc:.4f}   macro F1 {f1:.4f}   ({len(yte)} test rows, "
              f"{len(hist.epoch)} epochs in {train_time:.1f} s)")
        cm = M.confusion_matrix(yte, pred, classes)
        names = [str(n) for n in (data.target_names or range(classes))]
        w = max(4, max(len(n) for n in names) + 1, len(str(cm.max())) + 1)
        print("confusion matrix (rows: true, columns: predicted)")
        print(" " * w + "".join(f"{n[:w - 1]:>{w}}" for n in names))
        for n, row in zip(names, cm):
            print(f"{n[:w - 1]:>{w}}" + "".join(f"{v:>{w}}" for v in row))
    else:
        cm = names = None
        print(f"test mse {M.mse(yte, out):.6g}   mae {M.mae(yte, out):.6g}   "
              f"({len(yte)} test rows, {len(hist.epoch)} epochs in {train_time:.1f} s)")
    if args.history:
        print(f"history written to {hist.save_json(args.history)}")
    if args.plot:
        hist.plot(args.plot, confusion=cm if classes else None,
                  class_names=names if classes else None,
                  title=f"{data.name}: {args.activation}, {args.optimizer}")
        print(f"curves written to {args.plot}")
    if not args.no_save:
        written = model.save(args.out or f"symdl-{data.name}.npz")
        print(f"model saved to {written}  (it standardizes raw rows itself: "
              f"symdl.nn.load(path).predict(X), or symdl predict {written} --csv FILE)")
    if verbose:
        print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


def schedule_factory(name: str, warmup: int, epochs: int):
    """``--schedule NAME --warmup N``: a function of the optimizer building the
    scheduler (N epochs of LinearLR from lr/10, then NAME over the rest), or None."""
    from symdl import optim

    if warmup < 0 or (warmup and warmup >= epochs):
        raise ParameterError(f"--warmup must be in [0, epochs={epochs}), got {warmup}")
    if name == "none" and not warmup:
        return None
    rest = max(1, epochs - warmup)

    def build(opt):
        main = {"none": lambda: optim.ConstantLR(opt, factor=1.0, total_iters=0),
                "cosine": lambda: optim.CosineAnnealingLR(opt, T_max=rest),
                "step": lambda: optim.StepLR(opt, step_size=max(1, rest // 3), gamma=0.1),
                "exponential": lambda: optim.ExponentialLR(opt, gamma=0.01 ** (1 / rest)),
                "polynomial": lambda: optim.PolynomialLR(opt, total_iters=rest, power=1.0),
                "plateau": lambda: optim.ReduceLROnPlateau(opt, patience=max(1, rest // 10))}
        if name == "plateau":
            if warmup:
                raise ParameterError("--schedule plateau does not combine with --warmup")
            return main["plateau"]()
        if not warmup:
            return main[name]()
        first = optim.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=warmup)
        return optim.SequentialLR(opt, [first, main[name]()], milestones=[warmup])

    return build


def _check_train_args(args) -> None:
    """Reject bad flag combinations before any data is loaded."""
    from symdl import optim

    if getattr(args, "model", "mlp") == "cnn" and (args.csv or args.dataset != "digits"):
        raise ParameterError("--model cnn trains on the 8x8 digit images: use --dataset digits "
                             "(not --csv or iris)")
    if args.target is not None and not args.csv:
        raise ParameterError("--target needs --csv PATH")
    if args.resume and not args.checkpoint:
        raise ParameterError("--resume needs --checkpoint PATH (the file to continue from)")
    if args.epochs is not None and args.epochs < 1:
        raise ParameterError(f"--epochs must be at least 1, got {args.epochs}")
    if args.batch_size < 1:
        raise ParameterError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 <= args.dropout < 1.0:
        raise ParameterError(f"--dropout must be in [0, 1), got {args.dropout}")
    if getattr(args, "kernels", None) and not getattr(args, "spec_file", None):
        raise ParameterError("--kernels needs --spec-file FILE")
    known = sorted(k.lower() for k in optim.OPTIMIZERS)
    if not getattr(args, "spec_file", None) and args.optimizer.lower() not in known:
        raise UnknownNameError("optimizer", args.optimizer.lower(), known)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ParameterError("--plot needs matplotlib: pip install 'symdl[plot]'") from None
