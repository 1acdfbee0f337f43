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
    assert d5.target_names == ["1", "3"] and d5.X.tolist() == [[2, 0], [4, 1]]


def test_load_csv_errors(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("length,width,species\n1.0,abc,b\n3,4,a\n")
    with pytest.raises(ValueError, match=r"x.csv: column 'width' is not numeric: line 2 has 'abc'"):
        D.load_csv(p, target="species")
    with pytest.raises(ValueError, match=r"no column 'specie'.*did you mean 'species'"):
        D.load_csv(p, target="specie")
    with pytest.raises(FileNotFoundError):
        D.load_csv(tmp_path / "missing.csv")
    q = tmp_path / "ragged.csv"
    q.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ValueError, match="line 3 has 1 fields"):
        D.load_csv(q)
    e = tmp_path / "nan.csv"
    e.write_text("a,b,y\n1,,0\n3,4,1\n")
    with pytest.raises(ValueError, match=r"nan.csv: line 2, column 'b': missing value"):
        D.load_csv(e)
    assert np.isnan(D.load_csv(e, missing="nan").X[0, 1])  # for your own imputation


def _csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_values_are_named_by_line_and_column_before_any_scaling(tmp_path):
    rows = "".join(f"{i},{2 * i},{i % 2}\n" for i in range(8))
    rows = rows.replace("5,10,1", "5,,1")                 # data row 5 (line 7), column f2
    p = _csv(tmp_path, "f1,f2,y\n" + rows)
    with pytest.raises(ValueError, match=r"d.csv: line 7, column 'f2': missing value \(1 missing"):
        D.load_csv(p)


def test_missing_or_nan_target_is_an_error_not_a_class(tmp_path):
    # a nan in a numeric target once turned regression into classification
    body = "".join(f"{i},{i * 0.37:.3f}\n" for i in range(60))
    p = _csv(tmp_path, "x,y\n" + body.replace("7,2.590", "7,nan"))
    with pytest.raises(ValueError, match=r"line 9: the target column 'y' is empty"):
        D.load_csv(p)
    q = _csv(tmp_path, "x,label\n1,cat\n2,\n3,dog\n", "q.csv")   # an empty label
    with pytest.raises(ValueError, match=r"q.csv: line 3: the target column 'label' is empty"):
        D.load_csv(q)
    r = _csv(tmp_path, "x,y\n1,inf\n2,1.5\n", "r.csv")
    with pytest.raises(ValueError, match="line 2: the target 'inf'.*not a finite number"):
        D.load_csv(r)


def test_sparse_integer_labels_are_encoded(tmp_path):
    p = _csv(tmp_path, "a,y\n1,0\n2,1000000\n3,0\n4,-1\n")
    d = D.load_csv(p)
    assert d.y.tolist() == [1, 2, 1, 0] and d.target_names == ["-1", "0", "1000000"]
    assert d.n_classes == 3


def test_header_detection(tmp_path):
    # no header, text class names in the target: the first row is data
    p = _csv(tmp_path, "5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,3.3,virginica\n")
    d = D.load_csv(p)
    assert len(d) == 3 and d.target_names == ["setosa", "virginica"]
    assert d.feature_names == ["0", "1"]
    # a header whose names are text over numeric columns
    q = _csv(tmp_path, "len,wid,kind\n5.1,3.5,setosa\n4.9,3.0,setosa\n", "q.csv")
    assert D.load_csv(q).feature_names == ["len", "wid"]


def test_target_index_given_as_text(tmp_path):
    # the CLI passes --target as text: "0" and "-1" are indices when no column has that name
    p = _csv(tmp_path, "y,a,b\n0,1,2\n1,3,4\n")
    assert D.load_csv(p, target="0").y.tolist() == [0, 1]
    assert D.load_csv(p, target="-1").target_names == ["2", "4"]
    q = _csv(tmp_path, "0,1\n5,6\n7,8\n", "q.csv")              # a column named "0" wins
    assert D.load_csv(q, target="0", header=True).feature_names == ["1"]


def test_standardize_huge_values_without_overflow():
    A = np.array([[1e308, 1.0], [-1e308, 2.0], [5e307, 3.0]])
    s = D.StandardScaler().fit(A)
    Z = s.transform(A)
    assert np.all(np.isfinite(Z)) and np.all(Z[:, 0] != 0)
    assert np.allclose(Z.mean(0), 0) and np.allclose(Z.std(0), 1)
    assert np.allclose(s.inverse_transform(Z), A, rtol=1e-12)
    with pytest.raises(ValueError, match=r"X\[0, 1\] is nan"):
        D.StandardScaler().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))


def test_stratified_split_is_never_empty():
    # two rows, one per class: plain rounding gave a 0-row test split
    X, y = np.arange(4.0).reshape(2, 2), np.array([0, 1])
    Xtr, Xte, ytr, yte = D.train_test_split(X, y, 0.2, seed=0, stratify=True)
    assert len(Xte) == 1 and len(Xtr) == 1
    y = np.repeat(np.arange(7), 3)                           # 21 rows, 7 classes
    parts = D.train_test_split(np.zeros((21, 1)), y, 0.2, seed=1, stratify=True)
    assert len(parts[3]) == 5 and len(parts[2]) == 16
