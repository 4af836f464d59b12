r"""The Gaussian width of a model's own sub-level set, measured by training inside cones.

The spectral model (:mod:`landscape.theory.spectral_model`) predicts thresholds from a
quadratic caricature of the loss around :math:`\theta^*`. This module measures the width of
the real thing: the directions from :math:`\theta_0` into
:math:`S(\epsilon) = \{\theta : L(\theta) \le \epsilon\}`,

.. math::

    w(P(S)) = E \sup_{\theta\in S(\epsilon)}
    \Big\langle g, \frac{\theta - \theta_0}{\|\theta - \theta_0\|}\Big\rangle,
    \qquad g \sim N(0, I_D),

and turns it into Gordon's prediction :math:`d^* \gtrsim D - w^2` (theory notes, section 3).
For one direction g the supremum is at least :math:`\|g\|\cos\alpha` exactly when the
circular cone :math:`C(g, \alpha) = \{x : \langle x, g\rangle \ge \|x\|\|g\|\cos\alpha\}` with
apex :math:`\theta_0` meets :math:`S(\epsilon)`: a training problem, like subspace training
with the subspace replaced by a cone. See :func:`sublevel_width`.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from geometry import Estimate, expected_norm, gordon_threshold
from geometry.validation import (
    as_float_array,
    check_choice,
    check_int,
    check_memory,
    check_positive,
    check_probability,
)

from ..experiments.optim import make_optimizer
from ..experiments.result_store import ResultStore
from ..experiments._executors import check_executor, executor_guard, start_executor
from ..models.datasets import Dataset
from ._cone_training import Objective, bisect_angle, cone_descent

__all__ = ["SublevelWidth", "sublevel_width"]

#: the key columns of a sample's record in a ResultStore (the sample index is the "seed")
_RECORD_KIND, _RECORD_BASIS = "sublevel_width", "cone"
_FORMAT = 1
#: record entry holding a sample's certificate in memory (never written to a store)
_POINT = "_point"


@dataclass(frozen=True, repr=False)
class SublevelWidth:
    r"""The measured Gaussian width of the directions into a sub-level set, and what it predicts.

    Attributes
    ----------
    D : int
        Number of parameters.
    eps : float
        The loss level :math:`\epsilon`.
    loss_at_theta0 : float
        :math:`L(\theta_0)`.
    width : Estimate or None
        :math:`\hat w = a_D\,\frac1n\sum_i\cos\alpha_i`, the mean of the per-sample values
        :math:`a_D\cos\alpha_i` (``width.samples``), each certified: a point of
        :math:`S(\epsilon)` lies at angle :math:`\alpha_i` from :math:`g_i`. None when
        ``unreachable``; the exact :math:`a_D` when ``inside``.
    threshold : Estimate or None
        :math:`D - \hat w^2` with the delta-method standard error :math:`2\hat w\,\mathrm{se}(\hat w)`:
        Gordon's prediction of :math:`d^*` (roughly, :math:`d^* \gtrsim D - w^2`).
    gordon : int or None
        :func:`geometry.gordon_threshold` of ``width`` (the upper end of its 95% interval) at
        ``confidence``, with the constants of ``form``: the largest d whose failure the
        theorem guarantees, *if* :math:`\hat w` is not below the true width (see Notes of
        :func:`sublevel_width`).
    upper : Estimate or None
        Mean of :math:`\|g_i\|\cos\alpha_i^{\mathrm{fail}}`, the other end of each bisection
        bracket (the narrowest cone whose test failed). Not certified: a failed test may be
        the optimiser's failure.
    angles : ndarray of shape (n,)
        The certified half-angle :math:`\alpha_i` (radians) of each sample.
    cos_brackets : ndarray of shape (n, 2)
        :math:`[\cos\alpha_i, \cos\alpha_i^{\mathrm{fail}}]` per sample.
    supports : ndarray of shape (n,)
        :math:`\|g_i\|\cos\alpha_i`, the certified lower bound on
        :math:`\sup_{x\in P(S)}\langle g_i, x\rangle` for the direction actually drawn (to
        compare sample by sample with :meth:`geometry.Set.support` on the same ``G``).
    points : ndarray of shape (n, D) or None
        With ``keep_points=True``: the certificate of each sample, a point
        :math:`\theta_i` with :math:`L(\theta_i) \le \epsilon` and
        :math:`\cos\angle(\theta_i - \theta_0, g_i) = \cos\alpha_i` (NaN rows for samples read
        back from a store).
    steps : ndarray of int, shape (n,)
        Training steps (gradient evaluations) spent on each sample.
    full_space_steps : int
        Steps of the full-space run that found the first point of :math:`S(\epsilon)`.
    n_tests : ndarray of int, shape (n,)
        Cone tests (bisection steps) per sample.
    n_diverged : ndarray of int, shape (n,)
        Tests that ended on a NaN or infinite loss, gradient or iterate (counted as failures).
    tol : float
        Bisection tolerance on :math:`\cos\alpha`.
    inside : bool
        :math:`\theta_0 \in S(\epsilon)`: the projected set is the whole sphere.
    unreachable : bool
        Even the whole space (:math:`\alpha = \pi`) did not reach :math:`\epsilon` within the
        budget: no width.
    message : str
        What happened, in words.
    protocol : dict
        Everything that determines the result (stored with the samples in a ResultStore).
    wall_time : float
        Seconds.
    """

    D: int
    eps: float
    loss_at_theta0: float
    width: Estimate | None
    threshold: Estimate | None
    gordon: int | None
    upper: Estimate | None
    angles: np.ndarray
    cos_brackets: np.ndarray
    supports: np.ndarray
    points: np.ndarray | None
    steps: np.ndarray
    full_space_steps: int
    n_tests: np.ndarray
    n_diverged: np.ndarray
    tol: float
    inside: bool
    unreachable: bool
    message: str
    confidence: float
    protocol: dict = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def n_samples(self):
        """Number of Gaussian directions measured."""
        return int(self.angles.shape[0])

    @property
    def total_steps(self):
        """All training steps spent, the full-space run included."""
        return int(self.steps.sum()) + int(self.full_space_steps)

    @property
    def values(self):
        r"""Per-sample values :math:`a_D\cos\alpha_i` whose mean is :math:`\hat w` (None without samples)."""
        return None if self.width is None else self.width.samples

    def ci(self, level=0.95):
        """Normal confidence interval of the width (raises when there is none)."""
        if self.width is None:
            raise ValueError(f"no width: {self.message}")
        return self.width.ci(level)

    def as_dict(self):
        """A flat dict of the headline numbers (for tables and JSON)."""
        def val(e, attr):
            return None if e is None else float(getattr(e, attr))

        return {
            "D": self.D, "eps": self.eps, "loss_at_theta0": self.loss_at_theta0,
            "width": val(self.width, "value"), "width_stderr": val(self.width, "stderr"),
            "width_upper": val(self.upper, "value"),
            "D_minus_w2": val(self.threshold, "value"), "D_minus_w2_stderr": val(self.threshold, "stderr"),
            "gordon": self.gordon, "confidence": self.confidence, "n_samples": self.n_samples,
            "tol": self.tol, "total_steps": self.total_steps,
            "steps_per_sample": float(self.steps.mean()) if self.steps.size else 0.0,
            "n_diverged": int(self.n_diverged.sum()), "inside": self.inside,
            "unreachable": self.unreachable, "wall_time": self.wall_time,
        }

    def __repr__(self):
        head = f"SublevelWidth(D={self.D}, eps={self.eps:.6g}, L(theta0)={self.loss_at_theta0:.6g}"
        if self.unreachable or self.inside:
            return f"{head}: {self.message})"
        w, t = self.width, self.threshold
        lo, hi = w.ci()
        per = self.steps.mean() if self.steps.size else 0.0
        return (f"{head}, w = {w.value:.4g} ± {w.stderr:.2g} (95% CI [{lo:.4g}, {hi:.4g}], "
                f"n_samples={self.n_samples}, tol {self.tol:g} in cos alpha; a lower bound), "
                f"bracket upper end {self.upper.value:.4g}, D - w^2 = {t.value:.4g} ± {t.stderr:.2g}, "
                f"Gordon: d* > {self.gordon} at confidence {self.confidence:g}, "
                f"steps {self.total_steps} ({per:.0f} per sample), "
                f"{int(self.n_diverged.sum())} diverged tests)")


# ---------------------------------------------------------------------- validation
def _check_model(model, data):
    if data is None:
        if not (callable(getattr(model, "loss", None))
                and (callable(getattr(model, "loss_and_grad", None)) or callable(getattr(model, "gradient", None)))):
            raise TypeError("without data, model must have loss(theta) and gradient(theta) or "
                            f"loss_and_grad(theta) (e.g. a QuadraticWell), got {type(model).__name__}")
        D = getattr(model, "dim", getattr(model, "n_params", None))
    else:
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a landscape.models.datasets.Dataset or None, got {type(data).__name__}")
        for attr in ("n_params", "loss", "loss_and_grad"):
            if not hasattr(model, attr):
                raise TypeError(f"with data, model must have n_params, loss(theta, X, y) and "
                                f"loss_and_grad(theta, X, y); {type(model).__name__} has no {attr!r}")
        D = model.n_params
    return check_int(D, "the model's number of parameters", minimum=2)


def _check_eps(eps):
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number (a loss level), got {eps!r}")
    eps = float(eps)
    if not np.isfinite(eps):
        raise ValueError(f"eps must be finite, got {eps}")
    return eps


def _root_seed(seed):
    """The SeedSequence every random stream of the call derives from."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2 ** 63)))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be None, an int, a SeedSequence or a numpy.random.Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return np.random.SeedSequence(int(seed))


def _child(root, *path):
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(int(p) for p in path))


def _optimizer(optimizer, lr, model, data):
    if isinstance(optimizer, str) and optimizer == "apg":
        if lr is None:
            lam = getattr(model, "eigenvalues", None)
            if data is not None or lam is None:
                raise ValueError("lr is required (the step size of the cone training), except for a "
                                 "QuadraticWell, where the default is 1 / (largest eigenvalue)")
            lam_max = float(np.max(lam))
            if not lam_max > 0:
                raise ValueError("the well has no positive eigenvalue: pass lr")
            lr = 1.0 / lam_max
        return "apg", check_positive(lr, "lr"), {"name": "apg", "lr": float(lr)}
    if lr is None and not hasattr(optimizer, "step"):
        raise ValueError("lr is required with an optimizer name or spec")
    opt = make_optimizer(optimizer, lr) if not hasattr(optimizer, "step") else make_optimizer(optimizer)
    return opt, opt.lr, opt.spec()


def _digest(arr):
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=np.float64).tobytes()).hexdigest()[:20]


def _model_spec(model):
    spec = model.spec() if callable(getattr(model, "spec", None)) else None
    if spec is not None:
        return spec
    if hasattr(model, "eigenvalues"):  # a QuadraticWell: its numbers
        parts = [model.eigenvalues, model.minimum]
        if getattr(model, "basis", None) is not None:
            parts.append(model.basis)
        return {"repr": repr(model), "digest": _digest(np.concatenate([np.ravel(p) for p in parts])),
                "min_loss": float(getattr(model, "min_loss", 0.0))}
    return {"repr": repr(model)}


# ---------------------------------------------------------------------- one sample
_WORKER = {}


def _init_worker(context):
    _WORKER["context"] = context


def _single_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def _descent(options):
    def run(obj, project, x0, eps, *, batch_iter):
        return cone_descent(obj, project, x0, eps, optimizer=options["optimizer"], lr=options["lr"],
                            steps=options["steps"], check_every=options["check_every"],
                            batch_iter=batch_iter, early_stop=options["early_stop"])
    return run


def _sample_task(task):
    """One Gaussian direction: draw it (or take it), bisect on the angle; returns a record."""
    index, g, context = task
    if context is None:
        context = _WORKER["context"]
    t0 = time.perf_counter()
    with _single_thread():
        root = context["root"]
        D = context["D"]
        g_seq, batch_seq = _child(root, 0, index).spawn(2)
        if g is None:
            g = np.random.default_rng(g_seq).standard_normal(D)
        opts = context["options"]
        obj = Objective(context["model"], context["theta0"], context["data"], opts["batch_size"])
        batches = obj.batches(np.random.default_rng(batch_seq))
        out = bisect_angle(obj, g, context["x_start"], context["eps"], tol=opts["tol"],
                           max_tests=opts["max_tests"], descent=_descent(opts), batch_iter=batches,
                           guess=opts["cos_guess"], step=opts["cos_step"])
    lo, hi, gn = out["cos_low"], out["cos_high"], out["g_norm"]
    rec = {
        "kind": _RECORD_KIND, "t": 0, "basis": _RECORD_BASIS, "d": D, "seed": int(index),
        "sample": int(index), "cos_low": lo, "cos_high": hi, "angle": float(np.arccos(np.clip(lo, -1.0, 1.0))),
        "g_norm": gn, "support": gn * lo, "steps": int(out["steps"]), "n_tests": len(out["tests"]),
        "n_diverged": int(out["n_diverged"]), "tests": out["tests"], "wall_time": time.perf_counter() - t0,
    }
    if context["keep_points"]:
        rec[_POINT] = out["certificate"]
    return rec


def _execute(indices, rows, context, executor, max_workers, progress, store):
    from .._progress import progress_bar

    results = {}
    if not indices:
        return results
    executor, own, ship = start_executor(executor, max_workers, len(indices), _init_worker, (context,))
    bar = progress_bar(total=len(indices), desc="sublevel width", progress=progress, unit="sample")
    futures = {}
    with executor_guard(executor, own, futures, bar):
        for i in indices:
            g = None if rows is None else rows[i]
            futures[executor.submit(_sample_task, (i, g, context if ship else None))] = i
        for fut in cf.as_completed(list(futures)):
            i = futures[fut]
            try:
                rec = fut.result()
            except Exception as exc:
                raise RuntimeError(f"sample {i} of the sub-level width failed: {type(exc).__name__}: {exc}; "
                                   f"{len(results)} samples completed"
                                   + (" and stored" if store is not None else "")) from exc
            if store is not None:
                store.append({k: v for k, v in rec.items() if k != _POINT})
            results[i] = rec
            bar.update()
    return results


# ---------------------------------------------------------------------- the estimator
def sublevel_width(model, eps, theta0, *, data=None, n_samples=32, seed=None, G=None, tol=1e-3,
                   max_tests=40, optimizer="apg", lr=None, steps=1000, batch_size=None, check_every=None,
                   early_stop=True, confidence=0.9, form="gordon1988", executor=None, max_workers=None,
                   store=None, progress=None, keep_points=False, cos_guess=None):
    r"""Gaussian width of the directions from :math:`\theta_0` into the model's sub-level set.

    .. math::

        w = E\,\sup_{\theta\in S(\epsilon)}\Big\langle g, \frac{\theta - \theta_0}{\|\theta - \theta_0\|}\Big\rangle
          = E\,\|g\|\cos\alpha^*(g),
        \qquad S(\epsilon) = \{\theta : L(\theta) \le \epsilon\},\ g \sim N(0, I_D),

    where :math:`\alpha^*(g)` is the smallest half-angle for which the circular cone
    :math:`\theta_0 + C(g, \alpha)`, :math:`C(g, \alpha) = \{x : \langle x, g\rangle \ge
    \|x\|\|g\|\cos\alpha\}`, meets :math:`S(\epsilon)`. Method, for each of n Gaussian
    directions :math:`g_i`:

    1. once, a full-space run (:math:`\alpha = \pi`) from :math:`\theta_0` finds a point of
       :math:`S(\epsilon)`; if none is found, ``unreachable`` (no number);
    2. bisection on :math:`c = \cos\alpha` over :math:`[\cos\angle(x_s, g_i), 1]`: each test
       minimises :math:`L(\theta_0 + x)` over :math:`x \in C(g_i, \arccos c)` by projected
       descent (closed-form projection onto the circular cone, for any
       :math:`\alpha\in[0,\pi]`), warm-started from the projection of the last point found
       in the sub-level set, and succeeds at the first iterate with :math:`L \le \epsilon`
       (on the whole training set). The bisection stops when the bracket on :math:`\cos\alpha`
       is narrower than ``tol`` (default :math:`10^{-3}`), so the per-sample value is within
       :math:`\|g_i\|\,\mathrm{tol}` of the best the optimiser can certify;
    3. :math:`\hat w = a_D\,\frac1n\sum_i \cos\alpha_i` with its standard error, and
       :math:`D - \hat w^2` and Gordon's bound from :func:`geometry.gordon_threshold`.
       The norm :math:`\|g\|` and the direction :math:`g/\|g\|` of a Gaussian vector are
       independent, and :math:`\alpha^*` depends on the direction only, so
       :math:`w = E\|g\|\,E\cos\alpha^* = a_D\,E\cos\alpha^*` with
       :math:`a_D = E\|g\|` (:func:`geometry.expected_norm`): averaging
       :math:`a_D\cos\alpha_i` instead of :math:`\|g_i\|\cos\alpha_i` is unbiased too
       (Rao-Blackwell) and removes the spread of :math:`\|g_i\|`, which dominates when the
       angles concentrate, as they do in high dimension.

    **Lower bound.** A success is certified by a point :math:`\theta_0 + x` with
    :math:`L \le \epsilon`, and :math:`\|g\|\cos\angle(x, g)` is the recorded value; a failure
    may be the optimiser's (a finite budget, a non-convex loss, a non-convex cone for
    :math:`\alpha > \pi/2`). So every per-sample value is a lower bound on the true
    supremum, :math:`\hat w` estimates a lower bound on w, and :math:`D - \hat w^2` an upper
    bound on Gordon's :math:`D - w^2`. Subspace training, which measures :math:`d^*`, is
    biased the same way (a subspace that meets :math:`S(\epsilon)` may still fail to reach it).
    For a convex loss (a quadratic well) and :math:`\alpha \le \pi/2` the cone test is a
    convex problem and the values match the exact width (tested). Gordon's bound needs an
    *upper* bound on w to be guaranteed; ``gordon`` from this estimate holds only to the
    extent that the optimiser finds the sub-level set.

    Parameters
    ----------
    model : object
        Without ``data``: ``loss(theta)`` and ``gradient(theta)`` (or ``loss_and_grad(theta)``),
        e.g. :class:`landscape.models.quadratic.QuadraticWell`. With ``data``:
        ``n_params``, ``loss(theta, X, y)`` and ``loss_and_grad(theta, X, y)``
        (:class:`landscape.models.mlp.MLP`, :class:`landscape.torch.TorchModel`).
        Must be picklable for process executors.
    eps : float
        The loss level (the training loss, on the whole training set, for a network).
    theta0 : array_like of shape (D,)
        The apex: an initialisation :math:`\theta_0`, or a burn-in point :math:`\theta_t`.
    data : Dataset, optional
        The training data of a network.
    n_samples : int >= 2
        Gaussian directions (ignored when ``G`` is given). The supremum is 1-Lipschitz in g,
        so even :math:`\|g_i\|\cos\alpha_i` spreads by about 1 at most (32 samples: w to
        about ±0.2); the values :math:`a_D\cos\alpha_i` spread less.
    seed : int, SeedSequence, Generator or None
        Sample i draws its direction and its minibatch order from
        ``SeedSequence(seed).spawn``-style children ``(0, i)``; the full-space run from
        ``(1,)``. Same seed, same result, on any executor and number of workers.
    G : array_like of shape (n, D), optional
        The Gaussian directions themselves (paired comparisons, e.g. with
        :func:`geometry.gaussian_width` on the same ``G``).
    tol : float in (0, 1)
        Bisection tolerance on :math:`\cos\alpha`.
    max_tests : int
        Most cone tests per sample.
    optimizer : "apg", or an optimizer name / spec / object of :mod:`landscape.experiments.optim`
        ``"apg"``: accelerated projected gradient with adaptive restart (for full-batch,
        deterministic losses; the default). ``"momentum"``, ``"adam"``, ``"sgd"``: the
        optimizer's step, then the projection (e.g. the protocol of a subspace sweep).
    lr : float, optional
        Step size; default :math:`1/\lambda_{max}` for a quadratic well with ``"apg"``,
        otherwise required.
    steps : int
        Budget of each cone test (and of the full-space run), in gradient evaluations.
    batch_size : int, optional
        Minibatch size of the steps (None: the whole training set).
    check_every : int, optional
        Evaluate :math:`L \le \epsilon` every this many steps (default 1 without data, 10 with).
    early_stop : bool
        End a test early, as a failure, when the recent decrease of its best loss,
        extrapolated over the rest of the budget, falls short of :math:`\epsilon`.
    confidence : float in (0, 1)
        Of Gordon's bound.
    form : {"gordon1988", "concentration"}
        Constants of Gordon's bound (see :func:`geometry.gordon_escape_probability`).
    executor : Executor, "serial" or None
        Samples run in parallel as in :func:`landscape.experiments.sweeps.sweep`: None is a
        process pool (``spawn``) of ``max_workers`` workers; a given Executor is used as it is.
    max_workers : int, optional
    store : str, os.PathLike or ResultStore, optional
        One record per sample, appended as it completes (key ``seed`` = the sample index);
        a re-run with the same protocol computes only the missing samples. Needs an int
        or SeedSequence ``seed`` (or ``G``).
    progress : bool or None
        Progress bar (None: on when interactive).
    keep_points : bool
        Keep each sample's certificate (a point of the sub-level set) in ``points``.
    cos_guess : float or (float, float) in (-1, 1), optional
        Where the values of :math:`\cos\alpha` are expected (e.g. from a pilot run with a
        few samples). A number c: the first test of each sample is at c, the next ones
        gallop away from it in steps of 2, 4, 8, ... ``tol`` until the outcome changes, then
        bisect. A pair (low, high): the first tests are at low then high (galloping on in
        steps of 2, 4, ... (high - low) if the values lie outside), then bisection: about
        :math:`2 + \log_2((\mathrm{high}-\mathrm{low})/\mathrm{tol})` tests instead of
        :math:`\log_2(1/\mathrm{tol})` when the pair brackets the values. The estimand is the
        same; only the path of the tests changes.

    Returns
    -------
    SublevelWidth

    Raises
    ------
    ValueError, TypeError
        Bad arguments, each named.

    Notes
    -----
    Per-sample cost: about :math:`\log_2(1/\mathrm{tol})` cone tests (10 at the default),
    each of at most ``steps`` gradient evaluations; successes usually stop early, failures
    spend the budget unless ``early_stop`` ends them. The projection is O(D).

    Examples
    --------
    >>> import numpy as np
    >>> from landscape import QuadraticWell, sublevel_width
    >>> well = QuadraticWell(np.ones(20))
    >>> theta0 = np.r_[3.0, np.zeros(19)]                 # a unit ball at distance 3
    >>> res = sublevel_width(well, 0.5, theta0, n_samples=8, seed=0, executor="serial")
    >>> res.width.n_samples, res.inside, res.unreachable
    (8, False, False)
    """
    t_start = time.perf_counter()
    D = _check_model(model, data)
    eps = _check_eps(eps)
    theta0 = as_float_array(theta0, "theta0", shape=(D,))
    tol = check_probability(tol, "tol")
    max_tests = check_int(max_tests, "max_tests", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    if batch_size is not None:
        if data is None:
            raise ValueError("batch_size needs data (a model without data has no minibatches)")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_every = check_int(check_every if check_every is not None else (1 if data is None else 10),
                            "check_every", minimum=1)
    for name, flag in (("early_stop", early_stop), ("keep_points", keep_points)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    cos_step = None
    if cos_guess is not None:
        guess = as_float_array(cos_guess, "cos_guess", ndim=(0, 1))
        if guess.size not in (1, 2) or np.any(np.abs(guess) >= 1) or (guess.size == 2 and not guess[0] < guess[1]):
            raise ValueError("cos_guess must be a number in (-1, 1) or a pair low < high in (-1, 1) (where "
                             f"cos alpha is expected), got {cos_guess!r}")
        cos_guess = float(guess.flat[0])
        cos_step = float(guess[1] - guess[0]) if guess.size == 2 else None
    confidence = check_probability(confidence, "confidence")
    form = check_choice(form, "form", ("gordon1988", "concentration"))
    check_executor(executor)
    if max_workers is not None:
        max_workers = check_int(max_workers, "max_workers", minimum=1)
    if G is not None:
        G = as_float_array(G, "G", ndim=2)
        if G.shape[1] != D:
            raise ValueError(f"G must have shape (n, {D}) (one Gaussian direction per row), got {G.shape}")
        if G.shape[0] < 2:
            raise ValueError(f"G must have at least 2 rows (samples), got {G.shape[0]}")
        if np.any(np.linalg.norm(G, axis=1) == 0):
            raise ValueError("G must not contain a zero row (a direction)")
        n_samples = G.shape[0]
    else:
        n_samples = check_int(n_samples, "n_samples", minimum=2)
    # per-sample records (angles, brackets, supports; the points with keep_points)
    check_memory(8 * n_samples * (16 + (D if keep_points else 0)), "n_samples")
    if store is not None and (seed is None or isinstance(seed, np.random.Generator)):
        raise ValueError("a store needs a reproducible seed: an int or a numpy.random.SeedSequence")
    root = _root_seed(seed)
    opt, lr, opt_spec = _optimizer(optimizer, lr, model, data)

    obj = Objective(model, theta0, data, batch_size)
    L0 = obj.loss(np.zeros(D))
    if not np.isfinite(L0):
        raise ValueError(f"the loss at theta0 is not finite ({L0}): a bad theta0 or model")
    protocol = {
        "kind": _RECORD_KIND, "format": _FORMAT, "model": _model_spec(model), "D": D, "eps": eps,
        "theta0": _digest(theta0), "data": None if data is None else data.spec(),
        "seed": {"entropy": str(root.entropy), "spawn_key": [int(k) for k in root.spawn_key]},
        "G": None if G is None else _digest(G), "tol": tol, "max_tests": max_tests,
        "optimizer": opt_spec, "steps": steps, "batch_size": int(batch_size or 0),
        "check_every": check_every, "early_stop": bool(early_stop), "cos_guess": cos_guess,
        "cos_step": cos_step,
    }
    common = dict(D=D, eps=eps, loss_at_theta0=L0, tol=tol, confidence=confidence, protocol=protocol)
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)

    def finish(**kw):
        return SublevelWidth(**common, **kw, wall_time=time.perf_counter() - t_start)

    if L0 <= eps:
        a_D = float(expected_norm(D))
        width = Estimate.exact(a_D, "exact: a_D (theta0 in S(eps): the projected set is the whole sphere)")
        return finish(width=width, threshold=Estimate.exact(D - a_D ** 2, "exact: D - a_D^2"),
                      gordon=gordon_threshold(width, D, confidence, form), upper=width,
                      angles=empty_f, cos_brackets=np.zeros((0, 2)), supports=empty_f, points=None,
                      steps=empty_i, full_space_steps=0,
                      n_tests=empty_i, n_diverged=empty_i, inside=True, unreachable=False,
                      message=(f"theta0 lies in S(eps): L(theta0) = {L0:.6g} <= eps = {eps:.6g}, so every "
                               "direction leads into the set: the projected set is the whole sphere, "
                               f"w = a_D = {a_D:.6g}, and every subspace succeeds (d* = 0)"))

    options = {"optimizer": opt, "lr": lr, "steps": steps, "check_every": check_every,
               "early_stop": bool(early_stop), "batch_size": batch_size, "tol": tol, "max_tests": max_tests,
               "cos_guess": cos_guess, "cos_step": cos_step}
    # 1. a first point of S(eps): training in the whole space (alpha = pi)
    full_batches = obj.batches(np.random.default_rng(_child(root, 1)))
    with _single_thread():
        full = _descent(options)(obj, lambda x: x, np.zeros(D), eps, batch_iter=full_batches)
    if not full.success:
        why = "diverged (non-finite loss)" if full.diverged else f"stopped at L = {full.loss:.6g}"
        return finish(width=None, threshold=None, gordon=None, upper=None, angles=empty_f,
                      cos_brackets=np.zeros((0, 2)), supports=empty_f, points=None, steps=empty_i, full_space_steps=full.steps,
                      n_tests=empty_i, n_diverged=np.array([int(full.diverged)]), inside=False, unreachable=True,
                      message=(f"eps = {eps:.6g} is unreachable: even the whole space (alpha = pi, so any "
                               f"cone, alpha = pi/2 included) did not reach it from L(theta0) = {L0:.6g} "
                               f"within {steps} steps ({why}); no width"))

    # 2. the samples, in parallel, resumable
    context = {"model": model, "data": data, "theta0": theta0, "eps": eps, "x_start": full.x, "D": D,
               "root": root, "options": options, "keep_points": bool(keep_points)}
    done = {}
    if store is not None:
        store = ResultStore(store.path if isinstance(store, ResultStore) else store, protocol=protocol)
        store.lock()
    try:
        if store is not None:
            for rec in store.records():
                if rec.get("kind") == _RECORD_KIND and 0 <= int(rec["seed"]) < n_samples:
                    done[int(rec["seed"])] = rec
        todo = [i for i in range(n_samples) if i not in done]
        done.update(_execute(todo, G, context, executor, max_workers, progress, store))
    finally:
        if store is not None:
            store.unlock()
    recs = [done[i] for i in range(n_samples)]

    a_D = float(expected_norm(D))
    cos_lo = np.array([r["cos_low"] for r in recs])
    cos_hi = np.array([r["cos_high"] for r in recs])
    n_div = np.array([r["n_diverged"] for r in recs], dtype=np.int64)
    method = (f"cone training: a_D cos(alpha), bisection on cos(alpha) to {tol:g}; optimizer "
              f"{opt_spec['name']}, {steps} steps per test")
    width = Estimate.from_samples(a_D * cos_lo, method, keep_samples=True)
    upper = Estimate.from_samples(a_D * cos_hi, "cone training: failed end of each bracket (not certified)",
                                  keep_samples=True)
    threshold = Estimate(D - width.value ** 2, 2.0 * abs(width.value) * width.stderr, width.n_samples,
                         "D - w^2 from the direct width (delta method)")
    # the upper end of the width's 95% interval, as geometry.gordon_threshold does for an Estimate
    gordon = gordon_threshold(max(width.ci(0.95)[1], 0.0), D, confidence, form)
    diverged = int(n_div.sum())
    points = None
    if keep_points:
        points = np.full((n_samples, D), np.nan)
        for i, r in enumerate(recs):
            if _POINT in r:
                points[i] = theta0 + r[_POINT]
    return finish(width=width, threshold=threshold, gordon=gordon, upper=upper,
                  angles=np.array([r["angle"] for r in recs]),
                  cos_brackets=np.column_stack([cos_lo, cos_hi]),
                  supports=np.array([r["support"] for r in recs]), points=points,
                  steps=np.array([r["steps"] for r in recs], dtype=np.int64), full_space_steps=int(full.steps),
                  n_tests=np.array([r["n_tests"] for r in recs], dtype=np.int64), n_diverged=n_div,
                  inside=False, unreachable=False,
                  message=(f"measured on {n_samples} directions; each value is a certified lower bound"
                           + (f"; {diverged} cone tests diverged (counted as failures)" if diverged else "")))
