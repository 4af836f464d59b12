r"""A quadratic model of a trained network's sub-level sets, from its Hessian spectrum.

Around a minimum :math:`\theta^*` the loss is modelled as
:math:`L(\theta) \approx L^* + \tfrac12(\theta - \theta^*)^T H (\theta - \theta^*)`, so that
:math:`S(\epsilon)` is an ellipsoid and the cone of directions from :math:`\theta_0` into it is
an ellipsoidal cone (theory notes, section 4). Only three things about H and
:math:`\theta_0` matter for that cone, in the eigenbasis of H: the eigenvalues
:math:`\lambda_i`, and the offset :math:`b = V^T(\theta_0 - \theta^*)`; and since a Gaussian
is invariant under rotations inside an eigenspace, only the norm of b within each group
of equal eigenvalues. A :class:`SpectralModel` therefore stores *groups*: eigenvalue
:math:`\lambda_g`, multiplicity :math:`m_g` (:math:`\sum_g m_g = D`) and offset norm
:math:`b_g = \|P_g(\theta_0 - \theta^*)\|`. Its cone (:meth:`SpectralModel.cone`) is a
:class:`geometry.EllipsoidalCone` with multiplicities, whose sampling costs O(number of
groups) per sample whatever D.

For a network (:meth:`SpectralModel.from_hvp`):

* the top k eigenpairs :math:`(\lambda_i, v_i)` by Lanczos (:func:`landscape.theory.hessian.top_eigenpairs`)
  are k groups of multiplicity 1 with exact offsets :math:`b_i = |\langle v_i, \theta_0 - \theta^*\rangle|`;
* the bulk, the other D - k eigenvalues, comes from stochastic Lanczos quadrature on H
  deflated by the :math:`v_i` (:func:`landscape.theory.hessian.slq_spectrum`): each quadrature node is
  a group, its multiplicity the node's weight times D - k rounded to integers summing to
  D - k;
* **assumption (isotropy of the offset in the bulk):** the remaining squared norm
  :math:`\|\theta_0 - \theta^*\|^2 - \sum_{i\le k} b_i^2` is spread over the bulk groups in
  proportion to their multiplicities, :math:`b_g^2 = m_g\, r^2 / (D - k)`. This is what a
  random direction would give; the top directions, which matter most, are exact.
* negative eigenvalues (:math:`\theta^*` not exactly a minimum) are clipped to 0 and
  reported (``n_clipped``, ``most_negative``).
"""
from __future__ import annotations

import numbers

import numpy as np

from geometry.validation import as_float_array, check_int

__all__ = ["SpectralModel"]

#: theta0 counts as inside S(eps) when L(theta0) - L* <= (eps - L*) (1 + this), as in geometry
_INSIDE_RTOL = 1e-9


def _check_min_loss(min_loss):
    if isinstance(min_loss, bool) or not isinstance(min_loss, numbers.Real) or not np.isfinite(min_loss):
        raise ValueError(f"min_loss must be a finite real number, got {min_loss!r}")
    return float(min_loss)


class SpectralModel:
    r"""Grouped Hessian spectrum and offset of :math:`\theta_0`: a quadratic model of the sub-level sets.

    .. math::

        L(\theta) = L^* + \tfrac12 \sum_g \lambda_g \|P_g(\theta - \theta^*)\|^2, \qquad
        S(\epsilon) = \{\theta : L(\theta) \le \epsilon\},

    with :math:`P_g` the projection onto group g's eigenspace (dimension :math:`m_g`).
    In group g the sub-level set has semi-axis :math:`r_g = \sqrt{2(\epsilon - L^*)/\lambda_g}`
    (infinite for :math:`\lambda_g = 0`) and :math:`\theta_0` sits at distance
    :math:`b_g = \|P_g(\theta_0 - \theta^*)\|` from the centre.

    Parameters
    ----------
    eigenvalues : array_like of shape (G,)
        Group eigenvalues :math:`\lambda_g`; negative values are clipped to 0 and reported
        (those within :math:`10^{-10}\max|\lambda|` of 0 count as rounding, not as negative).
    multiplicities : array_like of int, shape (G,), >= 1
        :math:`m_g`; D is their sum.
    offsets : array_like of shape (G,), >= 0
        :math:`b_g`.
    min_loss : float
        :math:`L^* = L(\theta^*)`.

    Attributes
    ----------
    eigenvalues, multiplicities, offsets : ndarray
        After clipping (groups are kept in the given order).
    raw_eigenvalues : ndarray
        The eigenvalues as given, negative ones included (for figures of the spectrum).
    D : int
    n_groups : int
    min_loss : float
    n_clipped : int
        Number of eigenvalues (counted with multiplicity) that were negative.
    most_negative : float
        The most negative eigenvalue before clipping (0.0 when none was negative).
    source : str
        How the model was built.

    Examples
    --------
    >>> from landscape.theory.spectral_model import SpectralModel
    >>> model = SpectralModel([10.0, 1.0, 0.01], [5, 95, 9900], [1.0, 3.0, 30.0])
    >>> model.D, model.loss_at_theta0
    (10000, 14.0)
    >>> model.radii(0.5)
    array([ 0.31622777,  1.        , 10.        ])
    """

    def __init__(self, eigenvalues, multiplicities, offsets, *, min_loss=0.0, source="groups", extra=None):
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
        G = lam.shape[0]
        m = np.asarray(multiplicities)
        if m.dtype == object or not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
            raise TypeError(f"multiplicities must be an array of integers, got dtype {m.dtype}")
        if m.shape != (G,):
            raise ValueError(f"multiplicities must have shape ({G},) (one per eigenvalue), got {m.shape}")
        if np.issubdtype(m.dtype, np.floating) and (not np.all(np.isfinite(m)) or np.any(m != np.round(m))):
            raise ValueError("multiplicities must be whole numbers")
        if G and np.any(m < 1):
            raise ValueError(f"multiplicities must be >= 1, got minimum {m.min()}")
        if G and float(np.sum(m, dtype=np.float64)) > 2.0 ** 53:
            raise ValueError(f"multiplicities must sum to at most 2**53 (the dimension D), got about "
                             f"{float(np.sum(m, dtype=np.float64)):.3g}")
        m = m.astype(np.int64)
        b = as_float_array(offsets, "offsets", shape=(G,), nonnegative=True)
        self.min_loss = _check_min_loss(min_loss)
        # eigenvalues within rounding of 0 (relative 1e-10) are zeros, not negative curvature
        neg = lam < -1e-10 * max(float(np.abs(lam).max()), 1e-300)
        self.n_clipped = int(m[neg].sum())
        self.most_negative = float(lam.min()) if neg.any() else 0.0
        self.raw_eigenvalues = lam  # before clipping: what the spectrum figures show
        self.eigenvalues = np.maximum(lam, 0.0)
        self.multiplicities = m
        self.offsets = b
        self.D = int(m.sum())
        self.n_groups = G
        if not isinstance(source, str):
            raise TypeError(f"source must be a str (how the model was built), got {type(source).__name__}")
        self.source = source
        if extra is not None and not isinstance(extra, dict):
            raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
        self.extra = dict(extra or {})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_spectrum(cls, eigenvalues, offset, *, min_loss=0.0, merge=False):
        r"""From a full diagonal spectrum: :math:`\lambda \in \mathbb{R}^D` and :math:`b = V^T(\theta_0 - \theta^*)`.

        Every eigenvalue is its own group of multiplicity 1 with offset :math:`|b_i|`;
        with ``merge=True``, exactly equal eigenvalues are merged into one group with offset
        :math:`\sqrt{\sum_{i \in g} b_i^2}` (the same cone, fewer groups).

        Parameters
        ----------
        eigenvalues : array_like of shape (D,)
        offset : array_like of shape (D,)
            The offset of :math:`\theta_0` in eigen-coordinates (any sign).
        min_loss : float
        merge : bool
        """
        lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
        b = as_float_array(offset, "offset", shape=(lam.shape[0],))
        if merge:
            values, inverse = np.unique(lam, return_inverse=True)
            mult = np.bincount(inverse, minlength=values.size)
            off = np.sqrt(np.bincount(inverse, weights=b * b, minlength=values.size))
            return cls(values, mult, off, min_loss=min_loss, source="spectrum (merged)")
        return cls(lam, np.ones(lam.shape[0], dtype=np.int64), np.abs(b), min_loss=min_loss, source="spectrum")

    @classmethod
    def from_eigh(cls, hessian, theta0, theta_star, *, min_loss=0.0, merge=False):
        r"""Exact model from a dense eigendecomposition :math:`H = V\operatorname{diag}(\lambda)V^T` (small D).

        Parameters
        ----------
        hessian : ndarray of shape (D, D) (symmetric), or a callable hvp (D products build it)
        theta0, theta_star : array_like of shape (D,)
        min_loss : float
        merge : bool
            See :meth:`from_spectrum`.
        """
        theta0 = as_float_array(theta0, "theta0", ndim=1)
        D = theta0.shape[0]
        theta_star = as_float_array(theta_star, "theta_star", shape=(D,))
        if callable(hessian) and not isinstance(hessian, np.ndarray):
            from .hessian import hessian_operator

            H = hessian_operator(hessian, D).to_dense()
        else:
            H = as_float_array(hessian, "hessian", ndim=2)
            if H.shape != (D, D):
                raise ValueError(f"hessian must have shape ({D}, {D}) (theta0 has {D} entries), got {H.shape}")
        asym = np.abs(H - H.T).max()
        if asym > 1e-8 * max(np.abs(H).max(), 1e-300):
            raise ValueError(f"hessian must be symmetric (max |H - H^T| = {asym:.3g})")
        lam, V = np.linalg.eigh(0.5 * (H + H.T))
        model = cls.from_spectrum(lam, V.T @ (theta0 - theta_star), min_loss=min_loss, merge=merge)
        model.source = "eigh"
        return model

    @classmethod
    def from_hvp(cls, hvp, D, theta0, theta_star, *, k=20, n_probes=10, n_steps=80, seed=None,
                 min_loss=0.0, top=None, progress=None):
        r"""Model from Hessian-vector products: top-k eigenpairs exactly, the bulk by SLQ.

        Parameters
        ----------
        hvp : callable, ndarray, LinearOperator or HessianOperator of size D
            ``hvp(v) = H v`` at :math:`\theta^*` (e.g. ``model.hvp_function(theta_star, X, y)``).
        D : int
        theta0, theta_star : array_like of shape (D,)
        k : int >= 0
            Number of top eigenpairs computed by Lanczos (0: everything from SLQ).
        n_probes, n_steps : int
            Stochastic Lanczos quadrature on the deflated operator.
        seed : int, Generator or None
            Seeds the Lanczos start vector and the probes.
        min_loss : float
            :math:`L(\theta^*)`.
        top : Eigenpairs, optional
            Precomputed top eigenpairs (then ``k`` is taken from them).
        progress : bool or None
            Bars over the Hessian-vector products of Lanczos and SLQ when they take more
            than a second (None: when a person is watching; False: never).

        Returns
        -------
        SpectralModel
            Groups: the k top eigenvalues (multiplicity 1, exact offsets), then the bulk
            groups (ascending); ``extra`` holds the SLQ result and the eigenpairs.
        """
        from geometry.validation import check_rng

        from .hessian import Eigenpairs, hessian_operator, slq_spectrum, top_eigenpairs

        D = check_int(D, "D", minimum=2)
        H = hessian_operator(hvp, D)
        theta0 = as_float_array(theta0, "theta0", shape=(D,))
        theta_star = as_float_array(theta_star, "theta_star", shape=(D,))
        rng = check_rng(seed)
        if top is not None:
            if not isinstance(top, Eigenpairs) or top.D != D:
                raise ValueError(f"top must be an Eigenpairs of dimension D = {D}")
            k = top.k
        else:
            k = check_int(k, "k", minimum=0, maximum=D - 2)
            top = top_eigenpairs(H, D, k, seed=rng, progress=progress) if k > 0 else None
        V = top.eigenvectors if top is not None else None
        bulk = slq_spectrum(H, D, n_probes=n_probes, n_steps=n_steps, seed=rng, deflate=V, progress=progress)
        return cls._from_decomposition(top, bulk, D, theta0 - theta_star, min_loss,
                                       extra={"theta_star": theta_star, "n_products": H.n_products})

    @classmethod
    def _from_decomposition(cls, top, bulk, D, delta, min_loss, extra):
        """Groups from top eigenpairs (exact offsets) and an SLQ bulk (offset spread by multiplicity)."""
        k = 0 if top is None else top.k
        if top is not None:
            top_values = top.eigenvalues
            top_offsets = np.abs(top.eigenvectors.T @ delta)
        else:
            top_values, top_offsets = np.empty(0), np.empty(0)
        values, mult = bulk.groups(D - k)
        rest = max(float(delta @ delta) - float(top_offsets @ top_offsets), 0.0)
        bulk_offsets = np.sqrt(rest * mult / (D - k))
        model = cls(
            np.concatenate([top_values, values]),
            np.concatenate([np.ones(k, dtype=np.int64), mult]),
            np.concatenate([top_offsets, bulk_offsets]),
            min_loss=min_loss,
            source=f"hvp: top {k} by Lanczos, bulk by SLQ ({bulk.n_probes} probes x {bulk.n_steps} steps)",
            extra={"top": top, "bulk": bulk, **extra},
        )
        # a negative node whose rounded multiplicity is 0 is dropped from the groups but
        # still reported
        lowest = min(float(bulk.nodes.min()), float(top_values.min()) if k else np.inf)
        if lowest < -1e-10 * max(float(np.abs(bulk.nodes).max()), 1e-300):
            model.most_negative = min(model.most_negative, lowest)
        return model

    def with_theta0(self, theta0):
        r"""The same Hessian seen from another starting point (e.g. a burn-in point :math:`\theta_t`).

        Only the offsets change: the top eigenpairs and the SLQ bulk of :meth:`from_hvp` /
        :meth:`from_model` are reused, so no Hessian-vector product is computed.

        Parameters
        ----------
        theta0 : array_like of shape (D,)

        Returns
        -------
        SpectralModel
        """
        if "bulk" not in self.extra or "theta_star" not in self.extra:
            raise ValueError("with_theta0 needs a model made by from_hvp or from_model (it keeps the "
                             "eigenvectors and theta*)")
        theta0 = as_float_array(theta0, "theta0", shape=(self.D,))
        return type(self)._from_decomposition(self.extra["top"], self.extra["bulk"], self.D,
                                              theta0 - self.extra["theta_star"], self.min_loss,
                                              extra={"theta_star": self.extra["theta_star"], "n_products": 0})

    @classmethod
    def from_model(cls, model, theta_star, theta0, X, y=None, **options):
        r"""Model of a network: the Hessian at ``theta_star`` from ``model.hvp`` and :math:`L^*` from ``model.loss``.

        Parameters
        ----------
        model : model object
            With ``n_params``, ``loss(theta, X, y)`` and ``hvp(theta, X, y, v)`` (a
            :class:`landscape.models.MLP` or :class:`landscape.torch.TorchModel`; a
            ``hvp_function(theta, X, y)`` is used when present).
        theta_star, theta0 : array_like of shape (D,)
        X, y : the training data: arrays, or ``X`` a ``torch.utils.data.DataLoader`` (any
            re-iterable of ``(X, y)`` batches) and ``y`` None; the loss and every
            Hessian-vector product are then accumulated over the batches, weighted by
            their sizes (:func:`landscape.theory.hessian.model_hvp`).
        **options
            Passed to :meth:`from_hvp` (``k``, ``n_probes``, ``n_steps``, ``seed``, ``progress``).
        """
        from .hessian import model_hvp, model_loss

        D = check_int(getattr(model, "n_params", None), "model.n_params", minimum=2)
        theta_star = as_float_array(theta_star, "theta_star", shape=(D,))
        hvp = model_hvp(model, theta_star, X, y)
        min_loss = model_loss(model, theta_star, X, y)
        return cls.from_hvp(hvp, D, theta0, theta_star, min_loss=min_loss, **options)

    # ------------------------------------------------------------------ files
    def save(self, path):
        """Write the model as an ``.npz`` file, readable by :meth:`load` (and ``predict --spectrum``).

        Arrays: ``eigenvalues`` (G,), ``multiplicities`` (G,), ``offsets`` (G,); scalars
        ``min_loss``, ``n_clipped``, ``most_negative``; the string ``source``. Written to a
        temporary file and renamed, so the file is either complete or absent.

        Examples
        --------
        >>> import os, tempfile
        >>> from landscape.theory.spectral_model import SpectralModel
        >>> path = os.path.join(tempfile.mkdtemp(), "spectrum.npz")
        >>> SpectralModel([2.0, 0.5], [3, 7], [1.0, 2.0], min_loss=0.1).save(path)
        >>> SpectralModel.load(path).D
        10
        """
        import os

        path = os.fspath(path)
        tmp = f"{path}.tmp-{os.getpid()}.npz"  # numpy appends .npz to other names; the rename keeps `path`
        try:
            np.savez(tmp, eigenvalues=self.eigenvalues, multiplicities=self.multiplicities,
                     offsets=self.offsets, min_loss=np.float64(self.min_loss),
                     n_clipped=np.int64(self.n_clipped), most_negative=np.float64(self.most_negative),
                     source=np.str_(self.source))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, path, *, max_bytes=None):
        r"""Read a model from an ``.npz`` file (no pickles: no object arrays, no code).

        Keys: ``eigenvalues`` (G,) and ``offsets`` (G,) (:math:`b_g = \|P_g(\theta_0-\theta^*)\|`),
        optional ``multiplicities`` (G,) (default 1 each), ``min_loss`` (default 0),
        ``n_clipped`` and ``most_negative`` (what :meth:`save` records of clipped eigenvalues)
        and ``source``.

        ``max_bytes`` bounds the memory the file may expand to, checked from the archive's
        headers before anything is decompressed (default: 16 MiB plus 64 bytes per byte of
        file, at most 1 GiB; :mod:`landscape._limits`).

        Raises
        ------
        ValueError
            Naming the file: missing, not an ``.npz`` archive of numbers and strings, too
            large, missing arrays, or arrays of the wrong kind.
        """
        import os

        from .._limits import read_npz

        path = os.fspath(path)
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file")
        if os.path.isdir(path):
            raise ValueError(f"{path}: is a directory, not an .npz spectral model")
        try:
            arrays = read_npz(path, max_bytes=max_bytes)
        except ValueError as exc:
            raise ValueError(f"{exc} (a spectral model is an .npz with arrays eigenvalues and offsets: "
                             "SpectralModel.save writes one)") from None
        missing = {"eigenvalues", "offsets"} - set(arrays)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)} (need eigenvalues, offsets; "
                             "optional multiplicities, min_loss)")
        lam, b = arrays["eigenvalues"], arrays["offsets"]
        m = arrays.get("multiplicities", np.ones(np.shape(lam), dtype=np.int64))
        for name in ("min_loss", "n_clipped", "most_negative"):
            if name in arrays and (arrays[name].shape != () or arrays[name].dtype.kind not in "iuf"):
                raise ValueError(f"{path}: {name} must be a real scalar, got an array of dtype "
                                 f"{arrays[name].dtype} and shape {arrays[name].shape}")
        source = str(arrays["source"]) if "source" in arrays and arrays["source"].dtype.kind == "U" else ""
        try:
            model = cls(lam, m, b, min_loss=float(arrays.get("min_loss", 0.0)),
                        source=f"file {path}" + (f" ({source})" if source else ""))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        if "n_clipped" in arrays and model.n_clipped == 0:
            model.n_clipped = int(arrays["n_clipped"])
            model.most_negative = float(arrays.get("most_negative", 0.0))
        return model

    # ------------------------------------------------------------------ quantities
    def _level(self, eps):
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"eps must be a real number, got {eps!r}")
        eps = float(eps)
        if not np.isfinite(eps) or not eps > self.min_loss:
            raise ValueError(f"eps must be a finite loss level > min_loss = {self.min_loss:g} "
                             f"(the sub-level set is empty otherwise), got {eps}")
        return eps - self.min_loss

    @property
    def loss_at_theta0(self):
        r""":math:`L(\theta_0) = L^* + \tfrac12\sum_g \lambda_g b_g^2` under the model."""
        return float(self.min_loss + 0.5 * np.sum(self.eigenvalues * self.offsets ** 2))

    @property
    def offset_norm(self):
        r""":math:`\|\theta_0 - \theta^*\|`."""
        return float(np.sqrt(np.sum(self.offsets ** 2)))

    def radii(self, eps):
        r"""Semi-axes :math:`r_g = \sqrt{2(\epsilon - L^*)/\lambda_g}` (``inf`` for :math:`\lambda_g = 0`)."""
        level = self._level(eps)
        with np.errstate(divide="ignore"):
            return np.sqrt(2.0 * level / self.eigenvalues)

    def expand(self):
        r"""The full diagonal model: eigenvalues (D,) and an offset (D,) with each group's offset on its first axis.

        By rotation invariance within groups this has the same cone, up to a rotation.
        Memory O(D): for moderate D only.
        """
        lam = np.repeat(self.eigenvalues, self.multiplicities)
        starts = np.concatenate([[0], np.cumsum(self.multiplicities)[:-1]])
        b = np.zeros(self.D)
        b[starts] = self.offsets
        return lam, b

    def cone(self, eps):
        r"""The cone of directions from :math:`\theta_0` into :math:`S(\epsilon)`, for :func:`landscape.theory.predict`.

        Parameters
        ----------
        eps : float > min_loss
            The loss level (absolute, like :meth:`landscape.models.quadratic.QuadraticWell.cone`).

        Returns
        -------
        geometry.EllipsoidalCone (with multiplicities), or ``geometry.Sphere(D)`` when
        :math:`\theta_0` already lies in :math:`S(\epsilon)` (every subspace succeeds).
        The cone's coordinates are those of :meth:`expand`: one block per group, the
        group's offset on the block's first axis. Sampling its statistical dimension costs
        O(n_groups) per sample, whatever D.

        Examples
        --------
        >>> from geometry import statistical_dimension
        >>> from landscape.theory.spectral_model import SpectralModel
        >>> model = SpectralModel([1.0, 1e-3], [10, 990], [3.0, 1.0])
        >>> K = model.cone(0.5)
        >>> K.dim, K.n_groups
        (1000, 2)
        >>> delta = statistical_dimension(K, 2000, seed=0)
        >>> bool(900 < delta.value < 1000)
        True
        """
        level = self._level(eps)
        from geometry import Sphere

        # theta0 in S(eps) (up to the tolerance of geometry.EllipsoidalCone): every direction
        if 0.5 * np.sum(self.eigenvalues * self.offsets ** 2) <= level * (1.0 + _INSIDE_RTOL):
            return Sphere(self.D)
        return _grouped_cone(self.eigenvalues, self.multiplicities, self.offsets, level)

    def __repr__(self):
        lam = self.eigenvalues
        clip = f", clipped {self.n_clipped} negative (min {self.most_negative:.3g})" if self.n_clipped else ""
        return (f"SpectralModel(D={self.D}, n_groups={self.n_groups}, eigenvalues in "
                f"[{lam.min():.3g}, {lam.max():.3g}], |theta0 - theta*|={self.offset_norm:.4g}, "
                f"min_loss={self.min_loss:g}{clip})")


def _grouped_cone(eigenvalues, multiplicities, offsets, level):
    r"""geometry.EllipsoidalCone of a grouped spectrum.

    Its ambient coordinates are blocks, one per group, whose first axis is the direction
    of :math:`\theta_0 - \theta^*` within the group (the layout of :meth:`SpectralModel.expand`):
    the centre seen from :math:`\theta_0` is :math:`\theta^* - \theta_0 = -b_g` there.
    """
    from geometry import EllipsoidalCone

    return EllipsoidalCone.from_quadratic(eigenvalues, -offsets, level, multiplicities=multiplicities)
