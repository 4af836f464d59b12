r"""Random orthonormal frames, shared by the models (random rotations of a well) and the
subspaces (Haar maps). Private: the public name is :func:`landscape.subspaces.haar_frame`.
"""
from __future__ import annotations

import numpy as np

from geometry.validation import check_int, check_rng


def haar_frame(D, k, seed=None):
    r"""A uniformly random (Haar) D x k matrix with orthonormal columns.

    QR of a Gaussian matrix :math:`G = QR` with the signs fixed so that
    :math:`\operatorname{diag}(R) > 0`; without the sign fix Q is not Haar distributed.
    The Gaussian is drawn column by column, so the first j columns of the frame do not
    depend on k (nested draws).

    Parameters
    ----------
    D, k : int, 1 <= k <= D
    seed : int, SeedSequence, numpy.random.Generator or None

    Returns
    -------
    ndarray of shape (D, k)

    Examples
    --------
    >>> import numpy as np
    >>> from landscape.subspaces import haar_frame
    >>> Q = haar_frame(5, 3, seed=0)
    >>> bool(np.allclose(Q.T @ Q, np.eye(3)))
    True
    """
    D = check_int(D, "D", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=D)
    G = check_rng(seed).standard_normal((k, D)).T
    Q, R = np.linalg.qr(G)
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return np.ascontiguousarray(Q * signs)
