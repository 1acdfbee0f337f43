"""symdl.datasets: embedded digits and iris, CSV loading, splitting, scaling."""
import numpy as np
import pytest

from symdl import datasets as D


def test_digits():
    d = D.load_digits()
    X, y = d
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert d.n_classes == 10 and len(d.feature_names) == 64


def test_iris():
    d = D.load_iris()
    assert d.X.shape == (150, 4) and np.bincount(d.y).tolist() == [50, 50, 50]
    assert d.target_names == ["setosa", "versicolor", "virginica"]
    assert d.X[0].tolist() == [5.1, 3.5, 1.4, 0.2]
    assert D.load("iris").X.shape == (150, 4)


def test_data_files_ship_with_license():
    from importlib import resources
    files = {p.name for p in resources.files("symdl.datasets").joinpath("data").iterdir()}
    assert {"digits.csv.gz", "iris.csv", "LICENSE", "README.md"} <= files


def test_unknown_dataset():
    from symdl.errors import UnknownNameError
    with pytest.raises(UnknownNameError, match="digits"):
        D.load("digit")


def test_split_is_deterministic_and_disjoint():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50) % 3
    a = D.train_test_split(X, y, 0.2, seed=4)
    b = D.train_test_split(X, y, 0.2, seed=4)
    c = D.train_test_split(X, y, 0.2, seed=5)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    Xtr, Xte, ytr, yte = a
    assert len(Xte) == 10 and len(Xtr) == 40
    assert sorted(np.r_[Xtr[:, 0], Xte[:, 0]].tolist()) == list(range(0, 100, 2))
    assert np.array_equal(Xte[:, 0] // 2 % 3, yte)
    s = D.train_test_split(X, y, 0.3, seed=0, stratify=True)
    assert np.bincount(s[3]).tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="non-empty"):
        D.train_test_split(X, y, 50)
    with pytest.raises(ValueError, match="rows"):
        D.train_test_split(X, y[:3])


def test_standardize():
    rng = np.random.default_rng(0)
    A = rng.normal(5, 3, (100, 3))
    A[:, 2] = 7.0  # constant column: centred only
    B = rng.normal(5, 3, (10, 3))
    a, b = D.standardize(A, B)
    assert np.allclose(a[:, :2].mean(0), 0) and np.allclose(a[:, :2].std(0), 1)
    assert np.all(a[:, 2] == 0)
    s = D.StandardScaler().fit(A)
    assert np.allclose(s.transform(B), b) and np.allclose(s.inverse_transform(b), B)
    assert D.StandardScaler().fit_transform(A.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="features"):
        s.transform(np.zeros((2, 5)))


def test_load_csv_numeric_and_text_targets(tmp_path):
    p = tmp_path / "flowers.csv"
    p.write_text("length,width,species\n1.0,2.0,b\n3,4,a\n5,6,b\n")
    d = D.load_csv(p, target="species")
    assert d.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert d.y.tolist() == [1, 0, 1] and d.target_names == ["a", "b"]
    assert d.feature_names == ["length", "width"]
    with pytest.raises(ValueError, match="species"):   # then the text column is a feature
        D.load_csv(p, target=0)
    q = tmp_path / "reg.csv"
    q.write_text("a;b;y\n1;2;0.5\n3;4;1.5\n")
    d3 = D.load_csv(q, target="y")
    assert d3.y.dtype == np.float64 and d3.n_classes == 0 and d3.y.tolist() == [0.5, 1.5]
    r = tmp_path / "noheader.csv"
    r.write_text("1,2,0\n3,4,1\n")
    d4 = D.load_csv(r)
    assert d4.y.tolist() == [0, 1] and d4.X.shape == (2, 2)
    d5 = D.load_csv(r, target=0)                       # by index; integral values: classes
    assert d5.y.tolist() == [1, 3] and d5.X.tolist() == [[2, 0], [4, 1]]


def test_load_csv_errors(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("length,width,species\n1.0,abc,b\n3,4,a\n")
    with pytest.raises(ValueError, match=r"column 'width' is not numeric: row 2 has 'abc'"):
        D.load_csv(p, target="species")
    with pytest.raises(ValueError, match=r"no column 'specie'.*did you mean 'species'"):
        D.load_csv(p, target="specie")
    with pytest.raises(FileNotFoundError):
        D.load_csv(tmp_path / "missing.csv")
    q = tmp_path / "ragged.csv"
    q.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="row 3 has 1 fields"):
        D.load_csv(q)
    e = tmp_path / "nan.csv"
    e.write_text("a,b,y\n1,,0\n3,4,1\n")
    assert np.isnan(D.load_csv(e).X[0, 1])  # empty cells are NaN (fit rejects them)
