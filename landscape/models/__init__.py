r"""Stage 1, models: the losses whose sub-level sets everything else studies.

In: a spectrum, a network architecture or a ``torch.nn.Module``, and data (arrays or files).
Out: objects with ``loss(theta)`` (and gradients), ``n_params`` and an initial ``theta0``.
Asks: nothing in :mod:`landscape`; :mod:`geometry` for the wells' ellipsoids and cones.

Modules: ``quadratic`` (:class:`QuadraticWell`, exact minimum over a subspace), ``spectra``
(eigenvalue profiles), ``mlp`` (the numpy MLP), ``singular`` (the toy :math:`f(x) = abx`,
the simplest singular model), ``datasets`` (teacher-student, digits, IDX /
Fashion-MNIST) and ``torch`` (the PyTorch adapter; optional, imported only on use).
"""
from .._lazy import attach

_EXPORTS = {
    "QuadraticWell": "quadratic",
    "random_basis": "quadratic",
    "subspace_min_loss": "quadratic",
    "subspace_min_loss_path": "quadratic",
    "subspace_success": "quadratic",
    "flat_spectrum": "spectra",
    "power_law_spectrum": "spectra",
    "two_level_spectrum": "spectra",
    "MLP": "mlp",
    "ProductRegression": "singular",
    "check_labels": "mlp",
    "Dataset": "datasets",
    "is_batches": "batches",
    "batch_mean": "batches",
    "teacher_student": "datasets",
    "load_digits": "datasets",
    "read_idx": "datasets",
    "write_idx": "datasets",
    "load_idx_dataset": "datasets",
    "load_fashion_mnist": "datasets",
    "FASHION_MNIST_DIR": "datasets",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
