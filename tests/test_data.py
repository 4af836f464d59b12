"""landscape.models.datasets: teacher-student data, digits, the IDX reader and Fashion-MNIST."""
import gzip
import os
import struct
import sys

import numpy as np
import pytest

from landscape.models.datasets import (
    FASHION_MNIST_DIR,
    Dataset,
    load_digits,
    load_fashion_mnist,
    load_idx_dataset,
    read_idx,
    teacher_student,
    write_idx,
)


# ---------------------------------------------------------------------- Dataset
def test_dataset_validation_and_fingerprint():
    X = np.arange(12.0).reshape(4, 3)
    data = Dataset(X, [0, 1, 2, 1], name="toy")
    assert data.n_classes == 3 and data.n_test == 0 and data.n_features == 3
    assert data.fingerprint == Dataset(X.copy(), [0, 1, 2, 1], name="other").fingerprint
    assert data.fingerprint != Dataset(X + 1e-12 * (X == 0), [0, 1, 2, 1]).fingerprint
    with pytest.raises(ValueError, match="y_train must have 4 labels"):
        Dataset(X, [0, 1])
    with pytest.raises(ValueError, match="labels in"):
        Dataset(X, [0, 1, 2, 5], n_classes=3)
    with pytest.raises(ValueError, match="X_test must have 3 columns"):
        Dataset(X, [0, 1, 1, 0], np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="together"):
        Dataset(X, [0, 1, 1, 0], X)
    with pytest.raises(ValueError, match="X_train contains NaN"):
        Dataset(np.full((2, 2), np.nan), [0, 1])
    with pytest.raises(ValueError, match="n_classes"):
        Dataset(X, [0, 0, 0, 0], n_classes=1)


def test_subset_is_reproducible_and_without_replacement():
    data = teacher_student(50, 20, n_features=3, seed=1000)
    a, b = data.subset(10, 5, seed=3), data.subset(10, 5, seed=3)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.n_train == 10 and a.n_test == 5
    rows = {tuple(r) for r in a.X_train}
    assert len(rows) == 10 and rows <= {tuple(r) for r in data.X_train}
    with pytest.raises(ValueError, match="n_train"):
        data.subset(51)


# ---------------------------------------------------------------------- teacher-student
def test_teacher_student_shapes_and_reproducibility():
    a = teacher_student(100, 40, n_features=6, n_classes=3, hidden=5, seed=1000)
    b = teacher_student(100, 40, n_features=6, n_classes=3, hidden=5, seed=1000)
    assert a.X_train.shape == (100, 6) and a.X_test.shape == (40, 6) and a.n_classes == 3
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != teacher_student(100, 40, n_features=6, n_classes=3, hidden=5, seed=1001).fingerprint
    assert set(np.unique(a.y_train)) <= {0, 1, 2}


def _separable_with_margin(X, y, C):
    """Feasibility of (w_c - w_{y_i}) . [x_i, 1] <= -1 for all i and c != y_i (a linear program)."""
    from scipy.optimize import linprog

    p = X.shape[1] + 1
    Xb = np.hstack([X, np.ones((len(X), 1))])
    rows = []
    for i in range(len(X)):
        for c in range(C):
            if c != y[i]:
                row = np.zeros(C * p)
                row[c * p:(c + 1) * p] = Xb[i]
                row[y[i] * p:(y[i] + 1) * p] -= Xb[i]
                rows.append(row)
    res = linprog(np.zeros(C * p), A_ub=np.array(rows), b_ub=-np.ones(len(rows)), bounds=(None, None))
    assert res.status in (0, 2)
    return res.status == 0


def test_linear_teacher_labels_are_linearly_separable():
    """Independent check with a linear program: a linear teacher's labels admit a margin."""
    data = teacher_student(80, 0, n_features=4, n_classes=3, hidden=0, seed=1002)
    assert _separable_with_margin(data.X_train, data.y_train, 3)
    # the same check fails for shuffled labels (it can fail)
    y_perm = np.random.default_rng(1003).permutation(data.y_train)
    assert not _separable_with_margin(data.X_train, y_perm, 3)


def test_teacher_student_bad_input():
    with pytest.raises(ValueError, match="n_train"):
        teacher_student(0)
    with pytest.raises(ValueError, match="n_classes"):
        teacher_student(10, n_classes=1)
    with pytest.raises(TypeError, match="hidden"):
        teacher_student(10, hidden=2.5)
    with pytest.raises(ValueError, match="seed"):
        teacher_student(10, seed=-1)


# ---------------------------------------------------------------------- digits
def test_load_digits():
    pytest.importorskip("sklearn")
    data = load_digits(test_fraction=0.25, seed=0)
    assert data.n_train + data.n_test == 1797 and data.n_features == 64 and data.n_classes == 10
    assert data.n_test == round(0.25 * 1797)
    Xtr = data.X_train
    sd = Xtr.std(axis=0)
    varying = sd > 0
    np.testing.assert_allclose(Xtr.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(sd[varying], 1, rtol=1e-12)
    raw = load_digits(standardize=False, seed=0)
    assert raw.X_train.min() == 0 and raw.X_train.max() == 1
    assert load_digits(seed=0).fingerprint == data.fingerprint != load_digits(seed=1).fingerprint
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.0)


def test_load_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"\[sklearn\]"):
        load_digits()


# ---------------------------------------------------------------------- IDX
def test_read_idx_of_hand_written_bytes(tmp_path):
    """Bytes written by hand from the format description, independent of write_idx."""
    arr = np.array([[1, 2, 3], [250, 0, 7]], dtype=np.uint8)
    raw = b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + arr.tobytes()
    (tmp_path / "a").write_bytes(raw)
    with gzip.open(tmp_path / "a.gz", "wb") as fh:
        fh.write(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)
    # big-endian int32 and float64
    vals = np.array([1, -2, 70000], dtype=np.int32)
    (tmp_path / "b").write_bytes(b"\x00\x00\x0c\x01" + struct.pack(">I", 3) + struct.pack(">3i", *vals))
    out = read_idx(tmp_path / "b")
    np.testing.assert_array_equal(out, vals)
    assert out.dtype == np.int32 and out.dtype.isnative
    (tmp_path / "c").write_bytes(b"\x00\x00\x0e\x01" + struct.pack(">I", 2) + struct.pack(">2d", 0.5, -1e300))
    np.testing.assert_array_equal(read_idx(tmp_path / "c"), [0.5, -1e300])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_write_read_roundtrip(tmp_path, dtype, name):
    arr = (np.random.default_rng(1000).standard_normal((3, 4, 5)) * 50).astype(dtype)
    write_idx(tmp_path / name, arr)
    out = read_idx(tmp_path / name)
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, arr)


def test_corrupt_idx_files(tmp_path):
    good = b"\x00\x00\x08\x01" + struct.pack(">I", 4) + bytes([1, 2, 3, 4])
    cases = {
        "truncated": good[:-1],
        "trailing": good + b"\x00",
        "magic": b"\x01\x00" + good[2:],
        "type": b"\x00\x00\x07" + good[3:],
        "short": b"\x00\x00",
        "header": b"\x00\x00\x08\x03" + struct.pack(">I", 4),
    }
    messages = {"truncated": "truncated", "trailing": "truncated or corrupt", "magic": "magic",
                "type": "type code", "short": "not an IDX", "header": "header"}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=messages[name]):
            read_idx(tmp_path / name)
    with gzip.open(tmp_path / "cut.gz", "wb") as fh:
        fh.write(good * 100)
    blob = (tmp_path / "cut.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")
    with pytest.raises(TypeError, match="dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


def _write_mnist_layout(directory, n_train=12, n_test=5, seed=1000, gz=True):
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    ext = ".gz" if gz else ""
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{ext}"), images)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{ext}"), labels)
        arrays[prefix] = (images, labels)
    return arrays


def test_load_idx_dataset(tmp_path):
    arrays = _write_mnist_layout(tmp_path / "m", gz=False)
    data = load_idx_dataset(tmp_path / "m", name="mini")
    images, labels = arrays["train"]
    assert data.X_train.shape == (12, 784) and data.n_test == 5
    np.testing.assert_allclose(data.X_train, images.reshape(12, -1) / 255.0)
    np.testing.assert_array_equal(data.y_train, labels)
    sub = load_idx_dataset(tmp_path / "m", n_train=4, n_test=2, seed=1)
    assert sub.n_train == 4 and sub.n_test == 2
    raw = load_idx_dataset(tmp_path / "m", normalize=False)
    assert raw.X_train.max() > 1
    # mismatched images and labels
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        load_idx_dataset(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        load_idx_dataset(tmp_path / "nowhere")


def test_fashion_mnist_path_from_environment(tmp_path, monkeypatch):
    _write_mnist_layout(tmp_path / "fm", seed=1001)
    monkeypatch.setenv("DOF_FASHION_MNIST", str(tmp_path / "fm"))
    data = load_fashion_mnist()
    assert data.name == "fashion-mnist" and data.n_train == 12
    monkeypatch.setenv("DOF_FASHION_MNIST", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist()


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="Debian's dataset-fashion-mnist not installed")
def test_fashion_mnist_from_the_debian_package(monkeypatch):
    monkeypatch.delenv("DOF_FASHION_MNIST", raising=False)
    data = load_fashion_mnist()
    assert data.X_train.shape == (60000, 784) and data.X_test.shape == (10000, 784)
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class
    np.testing.assert_array_equal(np.bincount(data.y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(data.y_test), np.full(10, 1000))
    assert data.X_train.min() == 0.0 and data.X_train.max() == 1.0


def test_gzipped_idx_is_checked_before_it_is_inflated(tmp_path):
    """A small gzip whose header announces more data than the budget is refused before
    decompression; max_bytes raises the limit for a trusted file (issue 9, section 2)."""

    path = tmp_path / "bomb-idx.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:  # 20 MB of zeros in about 20 kB
        fh.write(struct.pack(">HBBI", 0, 0x08, 1, 20_000_000))
        for _ in range(20):
            fh.write(b"\0" * 1_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"would expand to 20,000,000 bytes.*max_bytes"):
        read_idx(path)
    assert read_idx(path, max_bytes=25_000_000).shape == (20_000_000,)
    small = tmp_path / "small-idx.gz"
    write_idx(small, np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert read_idx(small).tolist() == [[0, 1, 2], [3, 4, 5]]
    with gzip.open(tmp_path / "long-idx.gz", "wb") as fh:  # more data than the header says
        fh.write(struct.pack(">HBBI", 0, 0x08, 1, 3) + b"abcdef")
    with pytest.raises(ValueError, match="longer than its header"):
        read_idx(tmp_path / "long-idx.gz")
