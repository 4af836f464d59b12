r"""Gaussian widths and statistical dimensions: closed forms and Monte Carlo estimators.

.. math::

    w(T) = E \sup_{x\in T}\langle g, x\rangle, \qquad
    \delta(K) = E\|\Pi_K(g)\|^2, \qquad g \sim N(0, I_D).

For a closed convex cone K (width of its unit directions :math:`K \cap S^{D-1}`),
ALMT [1]_ Prop. 10.2:

.. math:: w(K\cap S^{D-1})^2 \le \delta(K) \le w(K\cap S^{D-1})^2 + 1.

Closed forms (``method="auto"`` or ``"exact"``): the ball, sphere, box, cross-polytope
(one-dimensional integral), ellipsoid (one-dimensional integral), orthant, subspace and
circular cone (one-dimensional integrals over the angle to the axis). Everything else is
estimated by Monte Carlo, drawing the Gaussian directions in batches of rows so memory
stays bounded at large D.

References
----------
.. [1] D. Amelunxen, M. Lotz, M. B. McCoy, J. A. Tropp, "Living on the edge: phase
   transitions in convex programs with random data", Inf. Inference 3 (2014).
"""
from __future__ import annotations

import numpy as np
from scipy import integrate
from scipy.special import gammaln, log_ndtr, ndtr

from .validation import as_directions, check_choice, check_int, check_memory, check_rng
from .bounds import _expected_norm
from .cones import CircularCone, ConvexCone, Orthant, Sphere, Subspace
from .estimate import Estimate
from .sets import Ball, Box, Ellipsoid, L1Ball, PointCloud, Set

__all__ = ["gaussian_width", "statistical_dimension"]

_METHODS = ("auto", "exact", "monte-carlo", "gram")
#: default batch: about 2**22 float64 Gaussian entries (32 MB) per batch of rows
_BATCH_ENTRIES = 2 ** 22
_QUAD = dict(epsabs=1e-14, epsrel=1e-12, limit=200)
#: method="auto" uses the Gram route for point clouds only up to this many Gram entries (128 MB)
_GRAM_MAX_ENTRIES = 2 ** 24
#: cost of one standard normal draw, and of one flop of a symmetric rank-k update, in
#: flops of a matrix product (numpy's generator and OpenBLAS, measured on 2 cores)
_NORMAL_FLOPS = 1300.0
_SYRK_FLOPS = 1.45


# ----------------------------------------------------------------------------- closed forms

def _quad(f, a, b, points=()):
    """Integral of f over [a, b] split at the given inner points (kinks of f)."""
    edges = [a] + sorted(p for p in points if a < p < b) + [b]
    return sum(integrate.quad(f, lo, hi, **_QUAD)[0] for lo, hi in zip(edges[:-1], edges[1:]))


def _angle_expectation(D, pieces):
    r""":math:`E\,f(\theta)` for the angle :math:`\theta` between a uniform direction of
    :math:`\mathbb{R}^D` and a fixed axis, with density :math:`\sin^{D-2}\theta / Z` on
    :math:`[0, \pi]`.

    ``pieces`` is a list of ``(lo, hi, f)``: f is smooth on [lo, hi] and 0 outside the
    union of the pieces. The density is evaluated in logs; for large D it concentrates
    at :math:`\pi/2` with spread :math:`D^{-1/2}`, so the integration is restricted to
    :math:`|\theta - \pi/2| \le 40/\sqrt{D}` (the rest weighs less than :math:`e^{-790}`).
    """
    # Z = int_0^pi sin^{D-2} = sqrt(pi) Gamma((D-1)/2) / Gamma(D/2) = sqrt(2 pi) / a_{D-1}
    # (through a_{D-1}: a difference of log-gammas loses D * 1e-16 relative precision)
    log_z = 0.5 * np.log(2.0 * np.pi) - np.log(_expected_norm(np.array(D - 1.0)))
    half = min(np.pi / 2, 40.0 / np.sqrt(D))
    win_lo, win_hi = np.pi / 2 - half, np.pi / 2 + half

    def density(t):
        if D == 2:
            return np.exp(-log_z)
        s = np.sin(t)
        return np.exp((D - 2) * np.log(s) - log_z) if s > 0 else 0.0

    total = 0.0
    for lo, hi, f in pieces:
        lo, hi = max(lo, win_lo), min(hi, win_hi)
        if hi > lo:
            total += _quad(lambda t: f(t) * density(t), lo, hi, points=(np.pi / 2,))
    return total


def _circular_cone_moments(K):
    r"""Exact :math:`(\delta, E\|\Pi_K g\|, w(K\cap S))` of a circular cone by quadrature over the angle."""
    D, a = K.dim, K.angle
    edge = a + np.pi / 2
    e_f = _angle_expectation(D, [(0.0, a, lambda t: 1.0), (a, edge, lambda t: np.cos(t - a) ** 2)])
    e_norm = _angle_expectation(D, [(0.0, a, lambda t: 1.0), (a, edge, lambda t: np.cos(t - a))])
    e_width = _angle_expectation(D, [(0.0, a, lambda t: 1.0), (a, np.pi, lambda t: np.cos(t - a))])
    a_d = float(_expected_norm(np.array(float(D))))
    return D * e_f, a_d * e_norm, a_d * e_width


def _orthant_moments(D):
    r"""Exact :math:`(E\|g_+\|, w(\mathbb{R}^D_+ \cap S))` of the orthant.

    With k ~ Binomial(D, 1/2) positive coordinates, :math:`\|g_+\| \sim \chi_k`, so
    :math:`E\|g_+\| = \sum_k \binom Dk 2^{-D} a_k`. The sphere support equals
    :math:`\|g_+\|` unless every coordinate is negative, where it is
    :math:`\max_i g_i = -\min_i |g_i|`; that event adds
    :math:`-2^{-D} E\min_i|g_i| = -\int_0^\infty \bar\Phi(t)^D dt`.
    """
    k = np.arange(D + 1, dtype=np.float64)
    log_w = gammaln(D + 1.0) - gammaln(k + 1.0) - gammaln(D - k + 1.0) - D * np.log(2.0)
    e_norm = float(np.sum(np.exp(log_w) * _expected_norm(k)))
    # int_0^inf Phibar(t)^D dt = 2^-D / D * int_0^inf (2 Phibar(u / D))^D du
    scaled = integrate.quad(lambda u: np.exp(D * (np.log(2.0) + log_ndtr(-u / D))), 0.0, np.inf,
                            epsabs=0.0, epsrel=1e-12, limit=200)[0]
    correction = np.exp(-D * np.log(2.0)) * scaled / D
    return e_norm, e_norm - correction


def _l1_ball_width(D, r):
    r""":math:`r\,E\max_i|g_i| = r\int_0^\infty (1 - (1 - 2\bar\Phi(t))^D)\,dt`."""
    def f(t):
        return -np.expm1(D * np.log1p(-2.0 * ndtr(-t)))

    peak = np.sqrt(2.0 * np.log(D)) if D > 1 else 0.0
    head = integrate.quad(f, 0.0, peak, **_QUAD)[0] if peak > 0 else 0.0
    return r * (head + integrate.quad(f, peak, np.inf, **_QUAD)[0])


def _ellipsoid_width(radii):
    r""":math:`E\|\operatorname{diag}(r) z\|` by the Laplace-transform identity

    .. math:: E\sqrt Q = \frac{1}{2\sqrt\pi}\int_0^\infty (1 - E e^{-tQ})\, t^{-3/2} dt,
              \quad E e^{-tQ} = \prod_i (1 + 2 t r_i^2)^{-1/2},

    integrated in :math:`s = \log t` after scaling by :math:`\|r\|^2`.
    """
    r2, counts = np.unique(radii[radii > 0] ** 2, return_counts=True)
    total = float(np.dot(r2, counts))
    if total == 0.0:
        return 0.0
    rho = r2 / total

    def f(s):
        log_laplace = -0.5 * np.dot(counts, np.log1p(2.0 * np.exp(s) * rho))
        return -np.expm1(log_laplace) * np.exp(-s / 2.0)

    # the integrand is below e^{-|s|/2} (and ~ e^{-|s|/2} at both ends): the tails beyond
    # |s| = 90 weigh less than 4 e^{-45} < 1e-19 of the total
    kinks = -np.log(2.0 * rho[[0, -1]])
    val = _quad(f, -90.0, 90.0, points=(0.0, *kinks))
    return np.sqrt(total) * val / (2.0 * np.sqrt(np.pi))


def _exact_width(T):
    """Closed-form width as an Estimate, or None when there is none."""
    if isinstance(T, ConvexCone):
        D = T.dim
        if isinstance(T, Sphere):
            a = float(_expected_norm(np.array(float(D))))
            return Estimate.exact(a, "exact: a_D (sphere)", mean_projection_norm=a)
        if isinstance(T, Subspace):
            a = float(_expected_norm(np.array(float(T.subspace_dim))))
            return Estimate.exact(a, "exact: a_k (subspace)", mean_projection_norm=a)
        if isinstance(T, Orthant):
            e_norm, w = _orthant_moments(D)
            return Estimate.exact(w, "exact: binomial sum of a_k (orthant)", mean_projection_norm=e_norm)
        if isinstance(T, CircularCone):
            _, e_norm, w = _circular_cone_moments(T)
            return Estimate.exact(w, "exact: quadrature over the angle (circular cone)",
                                  mean_projection_norm=e_norm)
        return None
    if isinstance(T, Ball):
        return Estimate.exact(T.radius * _expected_norm(np.array(float(T.dim))), "exact: r a_D (ball)")
    if isinstance(T, Box):
        return Estimate.exact(np.sqrt(2.0 / np.pi) * T.half_widths.sum(), "exact: sqrt(2/pi) sum s_i (box)")
    if isinstance(T, L1Ball):
        return Estimate.exact(_l1_ball_width(T.dim, T.radius), "exact: r E max|g_i| by quadrature (L1 ball)")
    if isinstance(T, Ellipsoid):
        if not np.all(np.isfinite(T.radii)):
            raise ValueError(_unbounded_message(T))
        return Estimate.exact(_ellipsoid_width(T.radii), "exact: Laplace-transform quadrature (ellipsoid)")
    return None


def _exact_statistical_dimension(K):
    if isinstance(K, Sphere):
        return Estimate.exact(K.dim, "exact: D (whole space)",
                              mean_projection_norm=float(_expected_norm(np.array(float(K.dim)))))
    if isinstance(K, Subspace):
        return Estimate.exact(K.subspace_dim, "exact: k (subspace)",
                              mean_projection_norm=float(_expected_norm(np.array(float(K.subspace_dim)))))
    if isinstance(K, Orthant):
        return Estimate.exact(K.dim / 2.0, "exact: D/2 (orthant)", mean_projection_norm=_orthant_moments(K.dim)[0])
    if isinstance(K, CircularCone):
        delta, e_norm, _ = _circular_cone_moments(K)
        return Estimate.exact(delta, "exact: quadrature over the angle (circular cone)", mean_projection_norm=e_norm)
    return None


# ----------------------------------------------------------------------------- Monte Carlo

def _unbounded_message(T):
    return (f"{T!r} is unbounded (its support function is infinite in some directions), "
            "so its Gaussian width is infinite")


def _gram_is_faster(n, D, m):
    r"""Whether the Gram route of a cloud of n points in R^D beats direct sampling for m samples.

    Flop model: direct :math:`mD(2n + c_N)` (a product and m D normal draws), Gram
    :math:`c_S n^2 D + n^3/3 + m n (2n + c_N)` (the Gram matrix, its factor, then n-dimensional
    draws), with the constants measured on the reference machine (benchmarks/RESULTS.md).
    """
    if n >= D or (n + 1) ** 2 > _GRAM_MAX_ENTRIES:
        return False
    direct = m * D * (2.0 * n + _NORMAL_FLOPS)
    gram = _SYRK_FLOPS * n * n * D + n ** 3 / 3.0 + m * n * (2.0 * n + _NORMAL_FLOPS)
    return gram < direct


#: bytes of per-sample arrays an estimate holds at once (values, samples, hook outputs)
_BYTES_PER_SAMPLE = 64


def _check_common(n_samples, method, seed, batch_size, G, dim):
    method = check_choice(method, "method", _METHODS)
    if method == "gram" and G is not None:
        raise ValueError("G cannot be combined with method='gram', which draws n-dimensional "
                         "Gaussians instead of directions; use method='monte-carlo' with G")
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    check_memory(_BYTES_PER_SAMPLE * n_samples, "n_samples")  # per-sample results (and kept samples)
    rng = check_rng(seed)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    if G is not None:
        if method == "exact":
            raise ValueError("G is only used by Monte Carlo: pass method='auto' or 'monte-carlo' with G")
        G, _ = as_directions(G, dim, "G")
        if G.shape[0] < 2:
            raise ValueError(f"G must have at least 2 rows (samples), got {G.shape[0]}")
    return n_samples, rng, batch_size, G


def _batches(n, D, rng, G, batch_size, sampler=None):
    """Yield batches of Gaussian rows (from G, or drawn in order from rng), or of hook samples.

    Drawing consecutive batches from one Generator gives the same numbers as one big
    draw, so the result does not depend on the batch size. A hook costs O(1)-O(D) per
    sample and manages its own memory: it is called once for all n samples unless a
    ``batch_size`` is given.
    """
    if sampler is not None and G is None and batch_size is None:
        yield sampler(n, rng)
        return
    b = batch_size or max(1, _BATCH_ENTRIES // D)
    if G is not None:
        for start in range(0, G.shape[0], b):
            yield G[start:start + b]
        return
    for start in range(0, n, b):
        m = min(b, n - start)
        yield sampler(m, rng) if sampler is not None else rng.standard_normal((m, D))


def _hook(obj, name, G):
    """The sampling hook ``name`` of ``obj`` when there is one and no directions are given."""
    fn = getattr(obj, name, None) if name is not None and G is None else None
    return fn if callable(fn) else None


def _monte_carlo(obj, hook_name, evaluate, n, rng, G, batch_size, default_how):
    """All samples, from the hook ``hook_name`` when present and G is None, else
    ``evaluate(rows)`` on batches of Gaussian rows; with a description of the source."""
    hook = _hook(obj, hook_name, G)
    parts = [np.asarray(batch if hook is not None else evaluate(batch), dtype=np.float64)
             for batch in _batches(n, obj.dim, rng, G, batch_size, hook)]
    how = "given G" if G is not None else f"cone hook {hook_name}" if hook is not None else default_how
    return np.concatenate(parts), f"monte-carlo: {how}"


def _mean_and_stderr(x):
    return {"mean_projection_norm": float(x.mean()),
            "mean_projection_norm_stderr": float(x.std(ddof=1) / np.sqrt(x.size))}


def gaussian_width(T, n_samples=1000, *, seed=None, method="auto", G=None, keep_samples=False,
                   batch_size=None, center=True):
    r"""Gaussian width :math:`w(T) = E\sup_{x\in T}\langle g, x\rangle`, :math:`g \sim N(0, I_D)`.

    For a cone, the width of its unit directions :math:`K \cap S^{D-1}`; then ALMT gives
    :math:`w^2 \le \delta(K) \le w^2 + 1` (see :func:`statistical_dimension`).

    Monte Carlo: with :math:`c` = ``T.reference_point``, the samples are
    :math:`h_T(g_i) - \langle g_i, c\rangle` (same mean, less variance), each a
    ``T.radius``-Lipschitz function of :math:`g_i` (recorded as ``lipschitz``, enabling
    ``est.ci(kind="concentration")``); ``center=False`` keeps :math:`h_T(g_i)`. A cone's hook ``_sample_sphere_support(n, rng)``
    is used when present and ``G`` is None. For cones the result also carries
    ``extra["mean_projection_norm"]``, the estimate of :math:`E\|\Pi_K g\| \ge w` (the
    mean of :math:`\max(h(g_i), 0)`), with ``extra["mean_projection_norm_stderr"]``.

    Parameters
    ----------
    T : geometry.Set
        A set or a cone of dimension D.
    n_samples : int >= 2
        Number of Gaussian directions (ignored when ``G`` is given).
    seed : int, Generator or None
    method : {"auto", "exact", "monte-carlo", "gram"}
        ``"auto"``: the closed form where one exists (ball, sphere, box, L1 ball,
        ellipsoid, orthant, subspace, circular cone), else Monte Carlo, through the
        Gram matrix for a point cloud when that is expected to be faster; ``"exact"``:
        raise when there is no closed form; ``"monte-carlo"``: Gaussian directions and
        the support function; ``"gram"`` (:class:`~geometry.PointCloud` only): the inner
        products :math:`(\langle g, x_j\rangle)_j` are drawn directly as a Gaussian vector
        whose covariance is the Gram matrix of the points (see ``PointCloud.gram_factor``),
        :math:`O(n^2)` per sample instead of :math:`O(nD)`. Same law as direct sampling,
        a different random stream.
    G : array_like of shape (m, D), optional
        Use these directions instead of drawing them (paired comparisons between sets).
    keep_samples : bool
        Store the per-sample values in ``Estimate.samples``.
    batch_size : int, optional
        Rows per batch (default: about 4 million Gaussian entries per batch).
    center : bool
        Subtract :math:`\langle g_i, c\rangle`. Pass False for paired comparisons
        (same ``G``) of sets with different reference points: the raw samples
        :math:`h_T(g_i)` are ordered like the sets (:math:`S \subset T \Rightarrow
        h_S(g) \le h_T(g)`), the centred ones need not be. Centring never changes what
        is estimated, only the variance.

    Returns
    -------
    Estimate

    Raises
    ------
    ValueError
        For an unbounded set (infinite support), ``n_samples < 2``, a bad ``G`` or method.

    Examples
    --------
    >>> from geometry import Ball, gaussian_width
    >>> gaussian_width(Ball(3)).value  # a_3 = 2 sqrt(2/pi)  # doctest: +ELLIPSIS
    1.5957691...
    >>> est = gaussian_width(Ball(3), 4000, seed=0, method="monte-carlo")
    >>> abs(est.value - 1.5957691) < 4 * est.stderr
    True
    """
    if not isinstance(T, Set):
        raise TypeError(f"T must be a geometry.Set (a set or a cone), got {type(T).__name__}")
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be True or False, got {center!r}")
    if isinstance(method, str) and method == "gram" and not isinstance(T, PointCloud):
        raise ValueError(f"method='gram' applies to a PointCloud only, got {type(T).__name__}")
    n_samples, rng, batch_size, G = _check_common(n_samples, method, seed, batch_size, G, T.dim)
    if G is None and method not in ("monte-carlo", "gram"):
        exact = _exact_width(T)
        if exact is not None:
            return exact
        if method == "exact":
            raise ValueError(f"no closed form for the Gaussian width of {T!r}; use method='monte-carlo'")

    radius = float(T.radius)
    lipschitz = radius if np.isfinite(radius) else None
    if isinstance(T, PointCloud) and G is None and (
            method == "gram" or (method == "auto" and _gram_is_faster(*T.points.shape, n_samples))):
        samples = T._sample_gram(n_samples, rng, bool(center), batch_size)
        how = f"monte-carlo: gram factor (rank {T.gram_factor().shape[1]})"
        return Estimate.from_samples(samples, how, keep_samples=keep_samples, lipschitz=lipschitz)

    ref = np.asarray(T.reference_point, dtype=np.float64)
    centre = bool(center) and bool(np.any(ref != 0))

    def evaluate(rows):
        h = np.asarray(T.support(rows), dtype=np.float64)
        return h - rows @ ref if centre else h

    hook_name = "_sample_sphere_support" if isinstance(T, ConvexCone) else None
    samples, how = _monte_carlo(T, hook_name, evaluate, n_samples, rng, G, batch_size, "support function")
    if np.any(np.isinf(samples)):
        raise ValueError(_unbounded_message(T))
    # for a cone, h(g) = ||Pi_K g|| when Pi_K g != 0 and h(g) <= 0 otherwise
    extra = _mean_and_stderr(np.maximum(samples, 0.0)) if isinstance(T, ConvexCone) else {}
    return Estimate.from_samples(samples, how, keep_samples=keep_samples, lipschitz=lipschitz, **extra)


def statistical_dimension(K, n_samples=1000, *, seed=None, method="auto", G=None, keep_samples=False,
                          batch_size=None):
    r"""Statistical dimension :math:`\delta(K) = E\|\Pi_K(g)\|^2` of a closed convex cone.

    Also the mean of the conic intrinsic volumes, :math:`\delta = \sum_j j\,\nu_j(K)`, and
    (ALMT [1]_) within one of the squared width of the unit directions:

    .. math:: w(K\cap S^{D-1})^2 \le \delta(K) \le w(K\cap S^{D-1})^2 + 1.

    Closed forms: :math:`\delta(\mathbb{R}^D) = D`, orthant :math:`D/2`, k-dimensional
    subspace k, circular cone of half-angle :math:`\alpha` by the exact integral
    :math:`D\,E f(\theta)` over the angle :math:`\theta` to the axis (density
    :math:`\propto\sin^{D-2}\theta`; :math:`f = 1,\ \cos^2(\theta-\alpha),\ 0` on
    :math:`[0,\alpha], [\alpha, \alpha+\pi/2], [\alpha+\pi/2, \pi]`), which is
    :math:`D\sin^2\alpha + \cos 2\alpha` up to an exponentially small term.

    Monte Carlo: samples :math:`\|\Pi_K g_i\|^2`, from the cone's hook
    ``_sample_squared_projection_norms(n, rng)`` when present and ``G`` is None, else by
    projecting Gaussian rows. ``extra["mean_projection_norm"]`` is the estimate of
    :math:`E\|\Pi_K g\|` (with ``extra["mean_projection_norm_stderr"]``); the squared
    norms are not Lipschitz in g, so ``lipschitz`` is None.

    Parameters
    ----------
    K : geometry.ConvexCone
    n_samples : int >= 2
        Ignored when ``G`` is given.
    seed : int, Generator or None
    method : {"auto", "exact", "monte-carlo"}
    G : array_like of shape (m, D), optional
        Gaussian directions to use (paired comparisons).
    keep_samples : bool
    batch_size : int, optional

    Returns
    -------
    Estimate

    Examples
    --------
    >>> from geometry import Orthant, statistical_dimension
    >>> statistical_dimension(Orthant(10)).value
    5.0
    >>> est = statistical_dimension(Orthant(10), 4000, seed=0, method="monte-carlo")
    >>> abs(est.value - 5.0) < 4 * est.stderr
    True
    """
    if not isinstance(K, ConvexCone):
        raise TypeError(f"K must be a geometry.ConvexCone, got {type(K).__name__}")
    if isinstance(method, str) and method == "gram":
        raise ValueError("method='gram' applies to gaussian_width of a PointCloud only; "
                         "statistical_dimension takes 'auto', 'exact' or 'monte-carlo'")
    n_samples, rng, batch_size, G = _check_common(n_samples, method, seed, batch_size, G, K.dim)
    if G is None and method != "monte-carlo":
        exact = _exact_statistical_dimension(K)
        if exact is not None:
            return exact
        if method == "exact":
            raise ValueError(f"no closed form for the statistical dimension of {K!r}; use method='monte-carlo'")

    samples, how = _monte_carlo(K, "_sample_squared_projection_norms", K.squared_projection_norms,
                                n_samples, rng, G, batch_size, "projection")
    return Estimate.from_samples(samples, how, keep_samples=keep_samples,
                                 **_mean_and_stderr(np.sqrt(np.maximum(samples, 0.0))))
