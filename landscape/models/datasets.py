r"""Datasets that work offline: teacher-student data, scikit-learn's digits, IDX files.

Nothing here downloads anything.

* :func:`teacher_student` -- synthetic classification: Gaussian inputs labelled by a random
  teacher network (no dependency).
* :func:`load_digits` -- the 8x8 handwritten digits bundled with scikit-learn (optional
  dependency, extra ``[sklearn]``).
* :func:`read_idx` / :func:`write_idx` -- the IDX format of MNIST and Fashion-MNIST
  (plain or gzip-compressed).
* :func:`load_fashion_mnist` -- Fashion-MNIST from a directory of IDX files: the ``path``
  argument, else the environment variable ``DOF_FASHION_MNIST``, else
  ``/usr/share/datasets/fashion-mnist`` (where Debian's package ``dataset-fashion-mnist``
  installs it).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib

import numpy as np

from geometry.validation import as_float_array, check_bool, check_int, check_memory, check_rng

from .._limits import expansion_budget, read_exactly, too_large

__all__ = [
    "Dataset",
    "teacher_student",
    "load_digits",
    "read_idx",
    "write_idx",
    "load_idx_dataset",
    "load_fashion_mnist",
    "FASHION_MNIST_DIR",
]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# IDX type codes -> big-endian numpy dtypes
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_TYPES.items()}


#: the most classes a Dataset may have (int32)
_MAX_CLASSES = 2 ** 31 - 1


class Dataset:
    r"""A classification dataset: training and test arrays and the number of classes.

    Parameters
    ----------
    X_train : array_like of shape (n_train, n_features)
    y_train : array_like of int, shape (n_train,)
    X_test : array_like of shape (n_test, n_features), optional
        May have zero rows (then test metrics are NaN).
    y_test : array_like of int, shape (n_test,), optional
    n_classes : int, optional
        Defaults to ``1 + max label``.
    name : str

    Attributes
    ----------
    fingerprint : str
        SHA-256 of the arrays (recorded in sweep protocols, so results of different
        data are never mixed in one store).
    """

    def __init__(self, X_train, y_train, X_test=None, y_test=None, *, n_classes=None, name="data"):
        from .mlp import check_labels

        X_train = as_float_array(X_train, "X_train", ndim=2)
        n, p = X_train.shape
        if (X_test is None) != (y_test is None):
            raise ValueError("X_test and y_test must be given together")
        if X_test is None:
            X_test = np.zeros((0, p))
            y_test = np.zeros(0, dtype=np.int64)
        X_test = as_float_array(X_test, "X_test", ndim=2, allow_empty=True)
        if X_test.shape[1] != p:
            raise ValueError(f"X_test must have {p} columns like X_train, got shape {X_test.shape}")
        # labels first (any count), then the number of classes they imply or must respect
        y_train = check_labels(y_train, n, _MAX_CLASSES, "y_train")
        y_test = check_labels(y_test, X_test.shape[0], _MAX_CLASSES, "y_test")
        labels_max = max([int(y.max()) for y in (y_train, y_test) if y.size] or [0])
        if n_classes is None:
            n_classes = max(labels_max + 1, 2)
        n_classes = check_int(n_classes, "n_classes", minimum=2, maximum=_MAX_CLASSES)
        self.X_train = X_train
        self.y_train = check_labels(y_train, n, n_classes, "y_train")
        self.X_test = X_test
        self.y_test = check_labels(y_test, X_test.shape[0], n_classes, "y_test")
        self.n_classes = n_classes
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        self.name = name
        self._fingerprint = None

    @classmethod
    def from_batches(cls, batches, *, n_classes=None, name="batches"):
        """A training set collected from batches: a ``torch.utils.data.DataLoader`` or a list of ``(X, y)``.

        The rows come in the order the batches give them; each example is flattened to
        one row (images of shape (c, h, w) become c*h*w features; a
        :class:`landscape.torch.TorchModel` with ``input_shape`` reshapes them back).
        Sweeps and training take batches this way: they draw their own minibatches from a
        seed (the loader's batch size and shuffling do not apply), and evaluate the loss
        on the whole set, which is then exactly the loss accumulated over the batches.

        Examples
        --------
        >>> import numpy as np
        >>> from landscape.models.datasets import Dataset
        >>> X = np.arange(12.0).reshape(6, 2); y = np.array([0, 1, 0, 1, 1, 0])
        >>> data = Dataset.from_batches([(X[:4], y[:4]), (X[4:], y[4:])])
        >>> data.n_train, data.n_features, data.n_classes
        (6, 2, 2)
        """
        from .batches import collect_batches

        X, y = collect_batches(batches, "batches")
        if X.ndim < 2:
            raise ValueError(f"batches must hold X with one row per example, got X of shape {X.shape}")
        return cls(X.reshape(X.shape[0], -1), y, n_classes=n_classes, name=name)

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_train(self):
        return self.X_train.shape[0]

    @property
    def n_test(self):
        return self.X_test.shape[0]

    @property
    def fingerprint(self):
        if self._fingerprint is None:
            h = hashlib.sha256()
            for a in (self.X_train, self.y_train, self.X_test, self.y_test):
                h.update(str(a.shape).encode())
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(str(self.n_classes).encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def spec(self):
        """A JSON-serialisable description (recorded in every run's protocol)."""
        return {"name": self.name, "n_train": self.n_train, "n_test": self.n_test,
                "n_features": self.n_features, "n_classes": self.n_classes,
                "fingerprint": self.fingerprint}

    def subset(self, n_train=None, n_test=None, seed=None):
        """A random subset of the training and/or test rows (without replacement)."""
        rng = check_rng(seed)

        def pick(X, y, k, name):
            if k is None:
                return X, y
            k = check_int(k, name, minimum=1, maximum=X.shape[0])
            idx = np.sort(rng.choice(X.shape[0], size=k, replace=False))
            return X[idx], y[idx]

        Xtr, ytr = pick(self.X_train, self.y_train, n_train, "n_train")
        Xte, yte = pick(self.X_test, self.y_test, n_test, "n_test") if self.n_test else (self.X_test, self.y_test)
        return Dataset(Xtr, ytr, Xte, yte, n_classes=self.n_classes, name=self.name)

    def __repr__(self):
        return (f"Dataset({self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
                f"n_features={self.n_features}, n_classes={self.n_classes})")


def _split(X, y, test_fraction, rng):
    n = X.shape[0]
    perm = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return X[train], y[train], X[test], y[test]


def _check_fraction(x, name):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating)):
        raise TypeError(f"{name} must be a real number in [0, 1), got {x!r}")
    x = float(x)
    if not 0.0 <= x < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {x}")
    return x


def _standardize(Xtr, Xte):
    mu = Xtr.mean(axis=0)
    sd = Xtr.std(axis=0)
    sd[sd == 0] = 1.0
    return (Xtr - mu) / sd, (Xte - mu) / sd


def teacher_student(n_train=1000, n_test=1000, n_features=20, n_classes=4, *, hidden=32,
                    seed=None):
    r"""Synthetic classification: Gaussian inputs labelled by a random teacher network.

    :math:`x \sim N(0, I_p)` and :math:`y = \arg\max_c f_{\mathrm{teacher}}(x)_c` for a
    random tanh network ``MLP([n_features, hidden, n_classes])`` at its initialization
    (``hidden=0``: a linear teacher). The labels are a deterministic function of the inputs,
    so a student of the same architecture can reach 100% training accuracy.

    Parameters
    ----------
    n_train, n_test : int
    n_features, n_classes : int
    hidden : int >= 0
    seed : int, Generator or None

    Returns
    -------
    Dataset

    Examples
    --------
    >>> from landscape.models.datasets import teacher_student
    >>> data = teacher_student(200, 100, n_features=5, n_classes=3, seed=0)
    >>> data.X_train.shape, data.n_classes
    ((200, 5), 3)
    """
    from .mlp import MLP

    n_train = check_int(n_train, "n_train", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=0)
    n_features = check_int(n_features, "n_features", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    hidden = check_int(hidden, "hidden", minimum=0)
    check_memory(8 * (n_train + n_test) * (n_features + 1), "n_train, n_test and n_features")
    check_memory(8 * ((n_features + 1) * max(hidden, 1) + (max(hidden, 1) + 1) * n_classes),
                 "n_features, hidden and n_classes (the teacher network)")
    rng = check_rng(seed)
    sizes = [n_features, hidden, n_classes] if hidden else [n_features, n_classes]
    teacher = MLP(sizes, "tanh")
    theta = teacher.init_params(rng)
    X = rng.standard_normal((n_train + n_test, n_features))
    z = teacher._forward(theta, X)[0][-1]
    y = np.argmax(z, axis=1)
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], n_classes=n_classes,
                   name=f"teacher-student(p={n_features}, h={hidden}, c={n_classes})")


def load_digits(*, test_fraction=0.25, standardize=True, seed=0):
    r"""scikit-learn's 8x8 handwritten digits (1797 images, 10 classes, 64 features).

    The data ship with scikit-learn (no download). Pixels are scaled to [0, 1], then
    optionally standardized with the training mean and standard deviation.

    Parameters
    ----------
    test_fraction : float in [0, 1)
        Fraction of the images held out as the test set (random split).
    standardize : bool
    seed : int, Generator or None
        Seed of the train/test split.

    Returns
    -------
    Dataset

    Raises
    ------
    ImportError
        When scikit-learn is not installed (``pip install dof-geometry[sklearn]``).
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_digits needs scikit-learn, an optional dependency: "
            "pip install 'dof-geometry[sklearn]'"
        ) from exc
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    standardize = check_bool(standardize, "standardize")
    rng = check_rng(seed)
    raw = _sk_load_digits()
    X = raw.data.astype(np.float64) / 16.0
    y = raw.target.astype(np.int64)
    Xtr, ytr, Xte, yte = _split(X, y, test_fraction, rng)
    if standardize:
        Xtr, Xte = _standardize(Xtr, Xte)
    return Dataset(Xtr, ytr, Xte, yte, n_classes=10, name="digits")


# ---------------------------------------------------------------------- IDX format
def _open(path, mode):
    path = os.fspath(path)
    if "r" in mode:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
    else:
        gz = path.endswith(".gz")
    return gzip.open(path, mode) if gz else open(path, mode)


def _check_path(path, name="path"):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a file name (str or os.PathLike), got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def read_idx(path, *, max_bytes=None):
    r"""Read an IDX file (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

    Format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions k, then k big-endian uint32
    sizes, then the data in big-endian row-major order.

    The header is checked before the data is read or decompressed: the size it announces
    must match a plain file's length, and must fit ``max_bytes``; a gzip stream is inflated
    in bounded chunks.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, optional
        The most bytes the data may take in memory. Default: 16 MiB plus 64 bytes per byte
        of file, at most 1 GiB (:mod:`landscape._limits`); Fashion-MNIST's largest file
        (26 MB compressed, 47 MB of pixels) is well within it.

    Returns
    -------
    ndarray of the stored shape, in native byte order

    Raises
    ------
    ValueError
        On a bad magic number, an unknown type code, a file whose length does not match
        its header (truncated or with trailing bytes), a corrupt gzip stream, or data
        larger than ``max_bytes``.
    """
    where = _check_path(path)
    if os.path.isdir(where):
        raise ValueError(f"{where} is a directory, not an IDX file")
    size = os.path.getsize(where)
    budget = expansion_budget(size, max_bytes)
    try:
        with _open(where, "rb") as fh:
            gz = isinstance(fh, gzip.GzipFile)
            head = fh.read(4)
            if len(head) < 4:
                raise ValueError(f"{where}: not an IDX file (only {len(head)} bytes)")
            zero, code, ndim = struct.unpack(">HBB", head)
            if zero != 0:
                raise ValueError(f"{where}: not an IDX file (magic number starts with {head[:2]!r}, "
                                 "expected two zero bytes)")
            if code not in _IDX_TYPES:
                raise ValueError(f"{where}: unknown IDX type code 0x{code:02X}")
            if not 1 <= ndim <= 32:
                raise ValueError(f"{where}: an IDX file with {ndim} dimensions (1 to 32 supported)")
            dims = fh.read(4 * ndim)
            header = 4 + 4 * ndim
            if len(dims) < 4 * ndim:
                raise ValueError(f"{where}: truncated IDX header ({4 + len(dims)} bytes, expected {header})")
            shape = struct.unpack(">" + "I" * ndim, dims)
            dtype = _IDX_TYPES[code]
            count = 1
            for s in shape:
                count *= s
            expected = count * dtype.itemsize
            if not gz and size - header != expected:
                raise ValueError(f"{where}: IDX data has {size - header} bytes, header of shape "
                                 f"{shape} ({dtype.newbyteorder('=').name}) needs {expected}: truncated or corrupt")
            if expected > budget:
                raise too_large(where, expected, budget, size)
            raw = read_exactly(fh, expected, where, "IDX data")
            if gz and fh.read(1):
                raise ValueError(f"{where}: IDX data longer than its header of shape {shape} says "
                                 f"({expected} bytes): corrupt")
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{where}: cannot read IDX file ({exc}); truncated or corrupt gzip?") from None
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write an array in IDX format (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64; 1 to 32 dimensions.
    """
    path = _check_path(path)
    arr = np.asarray(array) if not isinstance(array, (str, bytes)) else np.asarray(None)
    dt = arr.dtype.newbyteorder("=")
    if dt not in _IDX_CODES:
        raise TypeError(f"array dtype must be one of uint8, int8, int16, int32, float32, float64, got {arr.dtype}")
    if not 1 <= arr.ndim <= 32:
        raise ValueError(f"array must have 1 to 32 dimensions for IDX, got {arr.ndim}")
    if max(arr.shape) >= 2 ** 32:
        raise ValueError(f"array dimensions must be below 2**32 for IDX, got shape {arr.shape}")
    code = _IDX_CODES[dt]
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    with _open(path, "wb") as fh:
        fh.write(header + payload)


def _find(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {directory}")


def load_idx_dataset(path, *, name="idx", n_train=None, n_test=None, normalize=True, seed=0):
    r"""A dataset in the MNIST file layout: ``train-images-idx3-ubyte[.gz]``,
    ``train-labels-idx1-ubyte[.gz]``, ``t10k-images-idx3-ubyte[.gz]``,
    ``t10k-labels-idx1-ubyte[.gz]`` in one directory.

    Images are flattened to rows; ``normalize`` scales uint8 pixels to [0, 1].
    ``n_train`` / ``n_test`` take random subsets (seeded by ``seed``).
    """
    path = _check_path(path)
    normalize = check_bool(normalize, "normalize")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path} is not a directory (path)")
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(path, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(path, f"{prefix}-labels-idx1-ubyte"))
        if labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"{path}: {split} images {images.shape} and labels {labels.shape} do not match")
        X = images.reshape(images.shape[0], -1).astype(np.float64)
        if normalize and images.dtype == np.uint8:
            X /= 255.0
        arrays[split] = (X, labels.astype(np.int64))
    (Xtr, ytr), (Xte, yte) = arrays["train"], arrays["test"]
    n_classes = int(max(ytr.max(initial=0), yte.max(initial=0))) + 1
    data = Dataset(Xtr, ytr, Xte, yte, n_classes=max(n_classes, 2), name=name)
    if n_train is not None or n_test is not None:
        data = data.subset(n_train, n_test, seed=seed)
    return data


def load_fashion_mnist(path=None, *, n_train=None, n_test=None, normalize=True, seed=0):
    r"""Fashion-MNIST (60000 + 10000 images of 28x28 = 784 pixels, 10 classes) from IDX files.

    Parameters
    ----------
    path : str, optional
        Directory holding the four IDX files. Default: ``$DOF_FASHION_MNIST``, else
        ``/usr/share/datasets/fashion-mnist`` (Debian: ``apt-get install dataset-fashion-mnist``).
    n_train, n_test : int, optional
        Random subsets of the training and test sets.
    normalize : bool
        Scale pixels to [0, 1].
    seed : int
        Seed of the subsets.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        When the directory or a file is missing (no download is attempted).
    """
    if path is None:
        path = os.environ.get("DOF_FASHION_MNIST") or FASHION_MNIST_DIR
    if not os.path.isdir(os.fspath(path)):
        raise FileNotFoundError(
            f"Fashion-MNIST directory {os.fspath(path)!r} not found: install Debian's "
            "dataset-fashion-mnist package, or point DOF_FASHION_MNIST (or path=) to a directory "
            "with the four IDX files"
        )
    return load_idx_dataset(path, name="fashion-mnist", n_train=n_train, n_test=n_test,
                            normalize=normalize, seed=seed)
