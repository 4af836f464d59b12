r"""Stage 2, subspaces: the d-dimensional affine subspaces that training is restricted to.

In: the number of parameters D, a dimension d and a seed (or a training trajectory).
Out: maps :math:`\phi \mapsto A\phi` (:class:`SubspaceMap`) and points :math:`\theta_t`.
Asks: :mod:`landscape.models` only to run the full-space trajectories of burn-in and
lottery subspaces.

Modules: ``maps`` (orthonormal, Gaussian, sparse and Fastfood maps, built from a seed),
``trajectory`` (burn-in points, lottery subspaces), ``masks`` (coordinate subspaces: global
magnitude masks and masked models, for lottery tickets) and the private FWHT kernel ``_fwht``.
"""
from .._lazy import attach

_EXPORTS = {
    "SubspaceMap": "maps",
    "DenseSubspace": "maps",
    "OrthonormalSubspace": "maps",
    "GaussianSubspace": "maps",
    "SparseSubspace": "maps",
    "FastfoodSubspace": "maps",
    "LotterySubspace": "maps",
    "random_subspace": "maps",
    "haar_frame": "maps",
    "SUBSPACE_KINDS": "maps",
    "MAX_DENSE_ENTRIES": "maps",
    "Trajectory": "trajectory",
    "full_space_trajectory": "trajectory",
    "burn_in_point": "trajectory",
    "burn_in_subspace": "trajectory",
    "lottery_subspace": "trajectory",
    "PRUNABLE": "masks",
    "prunable_parameters": "masks",
    "kept_count": "masks",
    "magnitude_mask": "masks",
    "MaskedModel": "masks",
    "check_mask": "masks",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
