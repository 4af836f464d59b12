r"""Kernels of :mod:`landscape.theory.sublevel_widths`: training inside a circular cone.

Private. Three pieces, each taking validated input:

* :func:`project_circular_cone`: Euclidean projection onto
  :math:`C(u, \alpha) = \{x : \langle x, u\rangle \ge \|x\|\cos\alpha\}` for any half-angle
  :math:`\alpha \in [0, \pi]` (convex for :math:`\alpha \le \pi/2`, the closed complement of
  an open convex cone beyond);
* :class:`Objective`: the loss and its gradient at :math:`\theta_0 + x`, for a model without
  data (a quadratic well) or with a dataset (minibatches for steps, the whole training set
  to decide success);
* :func:`cone_descent`: projected first-order descent inside one cone, stopped at the first
  iterate with :math:`L \le \epsilon` (success, with that iterate as the certificate), at a
  non-finite value (a diverged run: a failure), at the end of the budget, or, with
  ``early_stop``, when the recent decrease of the loss, kept up for the rest of the budget,
  could not reach :math:`\epsilon`;
* :func:`bisect_angle`: bisection on :math:`\cos\alpha` for one Gaussian direction, each
  test warm-started from the last certificate.
"""
from __future__ import annotations

import numpy as np

__all__ = ["project_circular_cone", "Objective", "cone_descent", "bisect_angle", "ConeTest"]


def _perpendicular(u):
    """A unit vector orthogonal to the unit vector ``u`` (deterministic)."""
    e = np.zeros_like(u)
    e[int(np.argmin(np.abs(u)))] = 1.0
    w = e - (e @ u) * u
    return w / np.linalg.norm(w)


def project_circular_cone(x, u, cos_a, sin_a):
    r"""Euclidean projection of ``x`` onto :math:`C(u, \alpha)`, :math:`\alpha \in [0, \pi]`.

    With :math:`a = \langle x, u\rangle`, :math:`p = \|x - a u\|` and :math:`w = (x - au)/p`:
    x itself when :math:`a \ge \|x\|\cos\alpha`; else the nearest point of the boundary ray
    :math:`b = \cos\alpha\, u + \sin\alpha\, w` in the plane of u and x,
    :math:`\max(\langle x, b\rangle, 0)\, b`. For :math:`\alpha > \pi/2` the set is not
    convex and a point on the axis behind the apex (p = 0) has a whole circle of nearest
    points; one of them is returned.

    Parameters
    ----------
    x, u : ndarray of shape (D,)
        ``u`` of unit norm.
    cos_a, sin_a : float
        :math:`\cos\alpha` and :math:`\sin\alpha \ge 0`.

    Returns
    -------
    ndarray of shape (D,)
    """
    a = float(x @ u)
    norm2 = float(x @ x)
    if a >= cos_a * np.sqrt(norm2):
        return x.copy()
    perp = x - a * u
    p = np.sqrt(max(norm2 - a * a, 0.0))
    t = a * cos_a + p * sin_a
    if t <= 0.0:
        return np.zeros_like(x)
    if p <= 1e-300 or p <= 1e-15 * abs(a):
        return t * (cos_a * u + sin_a * _perpendicular(u))
    return (t * cos_a) * u + (t * sin_a / p) * perp


class Objective:
    r"""Loss and gradient of :math:`x \mapsto L(\theta_0 + x)`.

    Parameters
    ----------
    model : object
        Without data: ``loss(theta)`` and ``gradient(theta)`` or ``loss_and_grad(theta)``.
        With data: ``loss(theta, X, y)`` and ``loss_and_grad(theta, X, y)`` (the unchecked
        ``_loss`` / ``_loss_and_grad`` when the model has them).
    theta0 : ndarray of shape (D,)
    data : Dataset or None
    batch_size : int or None
        Minibatch size of the steps (None: the whole training set).
    """

    def __init__(self, model, theta0, data=None, batch_size=None):
        self.model, self.theta0, self.data = model, theta0, data
        if data is None:
            lg = getattr(model, "loss_and_grad", None)
            if lg is not None:
                self._lg = lg
            else:
                self._lg = lambda theta: (model.loss(theta), model.gradient(theta))
            self._full = model.loss
            self.batch_size = None
        else:
            lg = getattr(model, "_loss_and_grad", None) or model.loss_and_grad
            loss = getattr(model, "_loss", None) or model.loss
            X, y = data.X_train, data.y_train
            self._X, self._y = X, y
            self._lg_data = lg
            self._full = lambda theta: loss(theta, X, y)
            self.batch_size = None if batch_size is None or batch_size >= X.shape[0] else int(batch_size)
            self._lg = None

    @property
    def stochastic(self):
        """Whether the steps use minibatches (their losses are then not the objective)."""
        return self.batch_size is not None

    def batches(self, rng):
        """An endless iterator of minibatch index arrays (a fresh permutation per epoch), or Nones."""
        if self.batch_size is None:
            while True:
                yield None
        n = self._X.shape[0]
        while True:
            perm = rng.permutation(n)
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                yield perm[start:start + self.batch_size]

    def loss_and_grad(self, x, idx=None):
        """(loss, gradient) at :math:`\\theta_0 + x` on the minibatch ``idx`` (None: everything)."""
        theta = self.theta0 + x
        if self._lg is not None:
            f, g = self._lg(theta)
        elif idx is None:
            f, g = self._lg_data(theta, self._X, self._y)
        else:
            f, g = self._lg_data(theta, self._X[idx], self._y[idx])
        return float(f), np.asarray(g, dtype=np.float64)

    def loss(self, x):
        """The objective (on the whole training set) at :math:`\\theta_0 + x`."""
        return float(self._full(self.theta0 + x))


class ConeTest:
    """Outcome of one descent: ``success``, the certificate ``x`` (the last iterate), the
    ``steps`` (gradient evaluations), ``loss`` (last objective value checked), ``diverged``."""

    __slots__ = ("success", "x", "steps", "loss", "diverged")

    def __init__(self, success, x, steps, loss, diverged):
        self.success, self.x, self.steps, self.loss, self.diverged = success, x, steps, loss, diverged


def cone_descent(obj, project, x0, eps, *, optimizer, lr, steps, check_every, batch_iter, early_stop):
    r"""Minimise :math:`L(\theta_0 + x)` over a set by projected descent, until :math:`L \le \epsilon`.

    ``optimizer="apg"``: accelerated projected gradient (FISTA) with the gradient restart
    of O'Donoghue and Candes (2015): :math:`y = x_k + \beta_k(x_k - x_{k-1})`,
    :math:`x_{k+1} = \Pi(y - \eta\nabla L(y))`, and the momentum is reset whenever
    :math:`\langle y - x_{k+1}, x_{k+1} - x_k\rangle > 0`. Otherwise an optimizer object of
    :mod:`landscape.experiments.optim` takes the step and the iterate is projected back.

    Every ``check_every`` steps the objective is evaluated at the (projected, hence feasible)
    iterate; the first value :math:`\le \epsilon` ends the run with success.
    ``early_stop``: the run also ends, as a failure, when at a check the decrease of the best
    value over the last ``window`` checks, extrapolated linearly over the checks left,
    falls short of the gap to :math:`\epsilon` (a sequence whose decrease slows down, as
    gradient descent's does on a convex problem, would not reach it within the budget).
    """
    x = project(x0)
    f = obj.loss(x)
    if not np.isfinite(f):
        return ConeTest(False, x, 0, f, True)
    if f <= eps:
        return ConeTest(True, x, 0, f, False)
    n_checks = max(1, steps // check_every)
    window = max(5, n_checks // 20)
    best = [f]
    apg = optimizer == "apg"
    if apg:
        x_prev = x.copy()
        t = 1.0
    else:
        state = optimizer.init(x.shape[0])
    k = 0
    with np.errstate(all="ignore"):
        while k < steps:
            k += 1
            idx = next(batch_iter)
            if apg:
                t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                y = x + ((t - 1.0) / t_next) * (x - x_prev)
                fy, g = obj.loss_and_grad(y, idx)
                if not (np.isfinite(fy) and np.all(np.isfinite(g))):
                    return ConeTest(False, x, k, float("nan"), True)
                x_new = project(y - lr * g)
                if float((y - x_new) @ (x_new - x)) > 0.0:
                    t_next = 1.0  # restart the momentum
                x_prev, x, t = x, x_new, t_next
            else:
                fx, g = obj.loss_and_grad(x, idx)
                if not (np.isfinite(fx) and np.all(np.isfinite(g))):
                    return ConeTest(False, x, k, float("nan"), True)
                optimizer.step(x, g, state)
                x = project(x)
            if not np.all(np.isfinite(x)):
                return ConeTest(False, x, k, float("nan"), True)
            if k % check_every == 0 or k == steps:
                f = obj.loss(x)
                if not np.isfinite(f):
                    return ConeTest(False, x, k, float("nan"), True)
                if f <= eps:
                    return ConeTest(True, x, k, f, False)
                best.append(min(best[-1], f))
                if early_stop and len(best) > window:
                    left = (steps - k) / check_every
                    rate = (best[-1 - window] - best[-1]) / window
                    if rate * left < best[-1] - eps:
                        return ConeTest(False, x, k, f, False)
    return ConeTest(False, x, k, f, False)


def bisect_angle(obj, g, x_start, eps, *, tol, max_tests, descent, batch_iter, guess=None, step=None):
    r"""The largest certified :math:`\cos\alpha` such that :math:`\theta_0 + C(g, \alpha)` meets
    :math:`S(\epsilon)`, by bisection.

    The bracket starts at :math:`[\cos\angle(x_s, g), 1]` with :math:`x_s` a known point of
    the sub-level set (relative to :math:`\theta_0`). Each test at a value c starts from the
    projection of the last certificate onto :math:`C(g, \arccos c)`; a success raises the
    lower end to the certificate's own cosine (at least c), a failure lowers the upper end
    to c. The tests are at the midpoint of the bracket; with a ``guess``, the first test is
    at the guess and the next ones gallop away from it (steps of ``step``, then twice, four
    times that, ...; ``step`` defaults to 2 tol) until the outcome changes, then bisect.
    Stops when the bracket is narrower than ``tol`` or after ``max_tests``.

    Returns
    -------
    dict
        ``cos_low`` (certified), ``cos_high`` (bracket end; not certified), ``certificate``
        (the point x, relative to theta0), ``steps``, ``tests`` (list of [c, success, steps]),
        ``n_diverged``, ``g_norm``.
    """
    gnorm = float(np.linalg.norm(g))
    u = g / gnorm
    cert = x_start
    lo = float(cert @ u) / float(np.linalg.norm(cert))
    hi = 1.0
    tests, steps, n_div = [], 0, 0
    # gallop: None (bisect), "first" (test the guess), "up" or "down" (step away from it)
    gallop = "first" if guess is not None and lo < guess < hi else None
    h = 2.0 * tol if step is None else float(step)
    while hi - lo > tol and len(tests) < max_tests:
        mid = 0.5 * (lo + hi)
        if gallop == "first":
            c = float(guess)
        elif gallop == "up":
            c = lo + h
        elif gallop == "down":
            c = hi - h
        else:
            c = mid
        if not lo < c < hi:
            gallop, c = None, mid
        s = np.sqrt(max(1.0 - c * c, 0.0))

        def project(x, c=c, s=s):
            return project_circular_cone(x, u, c, s)

        res = descent(obj, project, cert, eps, batch_iter=batch_iter)
        steps += res.steps
        n_div += int(res.diverged)
        tests.append([float(c), bool(res.success), int(res.steps)])
        if res.success:
            nx = float(np.linalg.norm(res.x))
            cos_x = float(res.x @ u) / nx if nx > 0 else c
            cert = res.x
            lo = max(lo, min(cos_x, 1.0))
            if lo >= hi:  # an earlier failure was the optimiser's, not the set's: reopen
                hi = 1.0
            gallop = {"first": "up", "up": "up"}.get(gallop)
        else:
            hi = c
            gallop = {"first": "down", "down": "down"}.get(gallop)
        if gallop in ("up", "down") and len(tests) > 1:
            h *= 2.0
    return {"cos_low": lo, "cos_high": hi, "certificate": cert, "steps": steps, "tests": tests,
            "n_diverged": n_div, "g_norm": gnorm}
