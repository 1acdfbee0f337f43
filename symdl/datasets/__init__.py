"""Small datasets that ship with symdl, CSV loading, splitting and scaling.

``load_digits()`` (the default of ``symdl train``) and ``load_iris()`` read
copies of scikit-learn's embedded files (``data/``, BSD-3; the data come from
the UCI repository): no download, no scikit-learn.  Nothing here imports
SymPy or Numba.

>>> X, y = load_digits()                      # (1797, 64) float64, (1797,) int64
>>> Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, seed=0)
>>> scaler = StandardScaler().fit(Xtr); Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
"""
from __future__ import annotations

import csv
import difflib
import gzip
import io
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "load_digits", "load_iris", "load_csv", "load", "train_test_split",
           "StandardScaler", "standardize", "DATASETS", "read_features"]


@dataclass
class Dataset:
    """Features ``X`` (n, d), targets ``y`` (n,), and names.  Unpacks as ``X, y``."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list = field(default_factory=list)
    target_names: list = field(default_factory=list)
    name: str = ""

    def __iter__(self):
        return iter((self.X, self.y))

    def __len__(self):
        return len(self.X)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for a real-valued target)."""
        if self.y.dtype.kind not in "iu":
            return 0
        return len(self.target_names) or (int(self.y.max()) + 1 if self.y.size else 0)

    def __repr__(self):
        kind = f"{self.n_classes} classes" if self.n_classes else "real-valued target"
        return f"Dataset({self.name!r}: X {self.X.shape}, y {self.y.shape}, {kind})"


def _data_bytes(fname: str) -> bytes:
    return resources.files("symdl.datasets").joinpath("data", fname).read_bytes()


def load_digits() -> Dataset:
    """scikit-learn's digits: 1797 8×8 images (pixels 0..16), labels 0-9."""
    raw = gzip.decompress(_data_bytes("digits.csv.gz"))
    arr = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.float64)
    X, y = arr[:, :-1].copy(), arr[:, -1].astype(np.int64)
    return Dataset(X, y, [f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
                   [str(d) for d in range(10)], "digits")


def load_iris() -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species."""
    lines = _data_bytes("iris.csv").decode("ascii").splitlines()
    header = lines[0].split(",")
    arr = np.loadtxt(lines[1:], delimiter=",", dtype=np.float64)
    X, y = arr[:, :-1].copy(), arr[:, -1].astype(np.int64)
    return Dataset(X, y, ["sepal length (cm)", "sepal width (cm)", "petal length (cm)",
                          "petal width (cm)"], header[2:], "iris")


#: the embedded datasets by name
DATASETS = {"digits": load_digits, "iris": load_iris}


def load(name: str) -> Dataset:
    """An embedded dataset by name ("digits" or "iris")."""
    if name not in DATASETS:
        from symdl.errors import UnknownNameError
        raise UnknownNameError("dataset", name, DATASETS)
    return DATASETS[name]()


# ----------------------------------------------------------------------------- CSV
def _number(s: str):
    try:
        v = float(s)
    except ValueError:
        return None
    return v


def _is_number(s: str) -> bool:
    v = _number(s.strip())
    return v is not None and not math.isnan(v)


def _detect_header(rows: list) -> bool:
    """Whether the first row is a header: some cell of it is not a number in
    a column whose other rows are numbers, or it is all text while the data
    rows are not.  A first row shaped like the data rows (numbers where they
    have numbers, text where they have text) is data."""
    first, rest = rows[0], rows[1:51]
    if not rest:
        return not all(_is_number(c) for c in first)
    for j, c in enumerate(first):
        col = [r[j] for r in rest if j < len(r)]
        numeric_col = col and sum(_is_number(v) for v in col) >= 0.5 * len(col)
        if numeric_col and not _is_number(c) and c.strip().lower() not in ("", "nan", "na"):
            return True
    if all(not _is_number(c) for c in first) and any(_is_number(c) for r in rest for c in r):
        return True
    return False


def _missing(c: str) -> bool:
    return c == "" or c.lower() in ("nan", "na", "n/a", "null", "none", "?")


def _read_rows(path: Path, delimiter=None):
    """The non-blank rows of a CSV file and the line number of each (the
    delimiter sniffed when not given)."""
    if not path.is_file():
        raise FileNotFoundError(f"no CSV file at {path}")
    text = path.read_text(encoding="utf-8-sig")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t ").delimiter
        except csv.Error:
            delimiter = ","
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    for r in reader:
        if any(c.strip() for c in r):
            rows.append(r)
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path}: the file has no rows")
    return rows, lines


def load_csv(path, target=-1, *, delimiter=None, header=None, classification=None,
             missing="error") -> Dataset:
    """Read a numeric CSV file; ``target`` is the label column (name or index,
    default the last one; an index may be given as text, ``"0"`` or ``"-1"``).

    * ``header``: True/False, or None to detect it (a first row with text where
      the data rows have numbers is a header; a first row shaped like the data
      is data).
    * The target may be text (class names, sorted and numbered 0..C-1) or
      numbers; ``classification=None`` treats integer-valued targets as class
      labels and anything else as real values (float64).  Integer labels that
      are not 0..C-1 (``{-1, 1}``, ``{0, 1000000}``) are mapped to 0..C-1 in
      sorted order, as scikit-learn's LabelEncoder does; ``target_names`` keeps
      the original labels.
    * Every feature column must be numeric: an error names the file, the line,
      the column and the offending value.
    * Missing values (empty, ``nan``, ``NA``, ``?`` ...): a missing target is
      always an error naming its line; a missing feature is an error too with
      ``missing="error"`` (the default), or NaN with ``missing="nan"`` (for
      your own imputation: ``fit`` rejects NaN).
    """
    if missing not in ("error", "nan"):
        raise ValueError(f"missing={missing!r}: use 'error' or 'nan'")
    path = Path(path)
    rows, lines = _read_rows(path, delimiter)
    if header is None:
        header = _detect_header(rows)
    if header:
        names = [c.strip() for c in rows[0]]
        rows, lines = rows[1:], lines[1:]
    else:
        names = [str(i) for i in range(len(rows[0]))]
    if not rows:
        raise ValueError(f"{path}: the file has a header but no data rows")
    width = len(names)
    for r, ln in zip(rows, lines):
        if len(r) != width:
            raise ValueError(f"{path}: line {ln} has {len(r)} fields, "
                             f"expected {width} (as in the {'header' if header else 'first row'})")
    # the target column: a name, or an index (an int, or text such as "0", "-1")
    if isinstance(target, str) and target not in names and target.strip().lstrip("+-").isdigit():
        target = int(target)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -width <= target < width:
            raise ValueError(f"{path}: target column index {target} is out of range "
                             f"for {width} columns ({', '.join(names)})")
        tcol = int(target) % width
    else:
        tname = str(target)
        if tname in names:
            tcol = names.index(tname)
        else:
            close = difflib.get_close_matches(tname, names, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{path}: no column {tname!r}{hint} (columns: {', '.join(names)})")
    fcols = [j for j in range(width) if j != tcol]
    if not fcols:
        raise ValueError(f"{path}: no feature columns besides the target {names[tcol]!r}")
    X = np.empty((len(rows), len(fcols)), dtype=np.float64)
    holes = []
    for i, (r, ln) in enumerate(zip(rows, lines)):
        for k, j in enumerate(fcols):
            c = r[j].strip()
            if _missing(c.lower() if c else c):
                X[i, k] = math.nan
                holes.append((ln, names[j]))
                continue
            v = _number(c)
            if v is None:
                raise ValueError(f"{path}: column {names[j]!r} is not numeric: line "
                                 f"{ln} has {c!r} (features must be numbers; "
                                 f"only the target column may hold class names)")
            X[i, k] = v
    if holes and missing == "error":
        ln, col = holes[0]
        raise ValueError(f"{path}: line {ln}, column {col!r}: missing value "
                         f"({len(holes)} missing feature value(s) in all); fill them in, drop "
                         f"those rows, or load with missing='nan' and impute")
    tvals = [r[tcol].strip() for r in rows]
    for c, ln in zip(tvals, lines):
        if _missing(c.lower() if c else c):
            raise ValueError(f"{path}: line {ln}: the target column {names[tcol]!r} is empty "
                             f"({c!r}); every row needs a target")
    nums = [_number(c) for c in tvals]
    if any(v is None for v in nums):
        if classification is False:
            bad, ln = next((c, ln) for c, v, ln in zip(tvals, nums, lines) if v is None)
            raise ValueError(f"{path}: line {ln}: target column {names[tcol]!r} holds {bad!r}, "
                             f"not a number")
        classes = sorted(set(tvals))
        index = {c: k for k, c in enumerate(classes)}
        y = np.array([index[c] for c in tvals], dtype=np.int64)
        tnames = classes
    else:
        yv = np.array(nums, dtype=np.float64)
        if not np.all(np.isfinite(yv)):
            bad = int(np.flatnonzero(~np.isfinite(yv))[0])
            raise ValueError(f"{path}: line {lines[bad]}: the target {tvals[bad]!r} in column "
                             f"{names[tcol]!r} is not a finite number")
        integral = bool(np.all(yv == np.round(yv)))
        if classification is None:
            classification = integral
        if classification:
            if not integral:
                raise ValueError(f"{path}: class labels in {names[tcol]!r} must be integers "
                                 f"(or text class names)")
            labels, y = np.unique(yv.astype(np.int64), return_inverse=True)
            y = y.astype(np.int64).reshape(-1)
            tnames = [str(int(v)) for v in labels]
        else:
            y, tnames = yv, []
    return Dataset(X, y, [names[j] for j in fcols], tnames, path.stem)


def read_features(path, columns=None, *, delimiter=None, header=None):
    """The numeric feature matrix of a CSV file for prediction: ``columns``
    (names, in the model's order) are selected from a file with a header, any
    other column (an ID, the target) ignored; without ``columns`` every column
    is a feature.  Returns (X, names).  Errors name the file, line and column."""
    path = Path(path)
    rows, lines = _read_rows(path, delimiter)
    if header is None:
        header = _detect_header(rows) or (columns is not None and
                                          all(c.strip() in columns for c in rows[0]))
    names = [c.strip() for c in rows[0]] if header else [str(i) for i in range(len(rows[0]))]
    if header:
        rows, lines = rows[1:], lines[1:]
    if columns is not None and header:
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"{path}: the model's input column(s) {', '.join(map(repr, missing[:5]))} "
                             f"are not in the file (its columns: {', '.join(names)})")
        take = [names.index(c) for c in columns]
    else:
        take = list(range(len(names)))
        if columns is not None and len(columns) != len(take):
            raise ValueError(f"{path}: the file has {len(take)} columns and no header; the model "
                             f"takes {len(columns)} ({', '.join(columns[:5])}, ...)")
    X = np.empty((len(rows), len(take)), dtype=np.float64)
    for i, (r, ln) in enumerate(zip(rows, lines)):
        if len(r) != len(names):
            raise ValueError(f"{path}: line {ln} has {len(r)} fields, expected {len(names)}")
        for k, j in enumerate(take):
            c = r[j].strip()
            v = None if _missing(c.lower() if c else c) else _number(c)
            if v is None:
                raise ValueError(f"{path}: line {ln}, column {names[j]!r}: {c!r} is not a number")
            X[i, k] = v
    return X, [names[j] for j in take]


# ----------------------------------------------------------------------------- split / scale
def train_test_split(X, y, test_size=0.2, seed=0, *, stratify=False, shuffle=True):
    """(X_train, X_test, y_train, y_test), deterministic for a given ``seed``.

    ``test_size``: a fraction in (0, 1) or a number of rows.  ``stratify=True``
    keeps each class's share in both parts (class-index targets).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}; they must match")
    if isinstance(test_size, float) and not isinstance(test_size, bool):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size={test_size} must be in (0, 1) (a fraction) or a row count")
        n_test = int(math.ceil(test_size * n))
    else:
        n_test = int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves {n_test} of {n} rows for testing; "
                         f"both parts must be non-empty")
    rng = np.random.default_rng(seed)
    if stratify:
        test_idx = []
        classes, yi = np.unique(y, return_inverse=True)
        yi = yi.reshape(-1)
        counts = np.bincount(yi, minlength=len(classes))
        # each class's share of n_test, rounded by largest remainder so that
        # the shares add up to n_test exactly (plain rounding can give 0 rows)
        quota = counts * n_test / n
        take = np.floor(quota).astype(np.int64)
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:n_test - int(take.sum())]] += 1
        for c in range(len(classes)):
            idx = np.flatnonzero(yi == c)
            if shuffle:
                idx = rng.permutation(idx)
            test_idx.append(idx[:take[c]])
        test = np.sort(np.concatenate(test_idx))
        mask = np.ones(n, bool)
        mask[test] = False
        train = np.flatnonzero(mask)
        if shuffle:
            train, test = rng.permutation(train), rng.permutation(test)
    else:
        perm = rng.permutation(n) if shuffle else np.arange(n)
        test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


class StandardScaler:
    """Zero mean, unit variance per feature, with statistics from the training
    set (constant features are only centred)."""

    def __init__(self):
        self.mean_ = None
        self.scale_ = None

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"StandardScaler: X[{i}, {j}] is {X[i, j]} ({int(bad.sum())} "
                             f"non-finite value(s)); features must be finite numbers")
        # statistics of X / max|X| per column, scaled back: no overflow for
        # values near the float64 limit (the sum of two 1e308 is inf)
        big = np.abs(X).max(axis=0) if X.size else np.ones(X.shape[1:])
        big = np.where(big > 0, big, 1.0)
        Xs = X / big
        mean_s = Xs.mean(axis=0)
        std_s = Xs.std(axis=0)
        self.mean_ = mean_s * big
        self.scale_ = np.where(std_s > 0, std_s * big, 1.0)
        self._big = big
        self._mean_s = mean_s
        self._scale_s = np.where(std_s > 0, std_s, 1.0 / big)   # constant: centred only
        return self

    def transform(self, X):
        if self.mean_ is None:
            raise ValueError("StandardScaler: call fit(X_train) before transform")
        X = np.asarray(X)
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        if X.shape[-1] != self.mean_.shape[0]:
            raise ValueError(f"StandardScaler was fitted on {self.mean_.shape[0]} features "
                             f"but X has {X.shape[-1]}")
        big = getattr(self, "_big", None)
        if big is None:    # statistics set by hand (mean_, scale_)
            return ((X - self.mean_) / self.scale_).astype(dtype, copy=False)
        # in units of max|X_train| per column, so huge values do not overflow
        return ((X / big - self._mean_s) / self._scale_s).astype(dtype, copy=False)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        return np.asarray(X) * self.scale_ + self.mean_


def standardize(X_train, *others):
    """Standardize ``X_train`` and any further arrays with X_train's statistics.
    Returns a tuple of the same length as the arguments."""
    s = StandardScaler().fit(X_train)
    return tuple(s.transform(a) for a in (X_train, *others))
