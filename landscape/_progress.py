"""Progress bars for long work (sweeps, training, Monte Carlo estimators, Lanczos, widths, chains).

One rule everywhere: ``progress=None`` (the default of every public function that takes it)
means "on when a person is watching": stderr is a terminal or the code runs in a Jupyter
kernel. ``progress=False`` turns the bar off, ``progress=True`` forces it on. Bars are drawn
by :mod:`tqdm` (``tqdm.auto``: a widget in notebooks, text in terminals), always on stderr.
"""
from __future__ import annotations

import sys

__all__ = ["progress_bar", "interactive"]


def interactive():
    """True when a person is likely watching: a Jupyter/IPython kernel, or stderr is a terminal."""
    if "ipykernel" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
                return True
        except Exception:  # pragma: no cover - IPython broken or absent
            pass
    stream = sys.stderr
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def _resolve(progress):
    if progress is None:
        return interactive()
    if not isinstance(progress, (bool, int)) or progress not in (0, 1):
        raise TypeError(f"progress must be True, False or None (on when interactive), got {progress!r}")
    return bool(progress)


def progress_bar(total=None, desc=None, *, progress=None, unit="it", leave=None, **kwargs):
    """A tqdm bar, or a silent stand-in with the same methods when progress is off.

    Parameters
    ----------
    total : int, optional
        Number of steps.
    desc : str, optional
        Label shown before the bar.
    progress : bool or None
        True: on; False: off; None: on when :func:`interactive`.
    unit : str
    leave : bool, optional
        Keep the finished bar on screen (tqdm's default when None).
    **kwargs
        Passed on to ``tqdm.auto.tqdm``; a ``delay`` (seconds before the bar appears, so
        that quick calls show none) applies to automatic bars (``progress=None``) only.

    Returns
    -------
    tqdm.tqdm or _Silent
        Use as a context manager or call ``update(n)`` and ``close()``.
    """
    on = _resolve(progress)
    if not on:
        return _Silent(total)
    if progress:
        kwargs.pop("delay", None)  # asked for explicitly: shown at once (a delay applies to automatic bars)
    tqdm = _tqdm_class()

    opts = dict(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    if leave is not None:
        opts["leave"] = leave
    opts.update(kwargs)
    return tqdm(**opts)


def _tqdm_class():
    """tqdm's notebook widget in a notebook with ipywidgets, its text bar everywhere else (no warning)."""
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            from tqdm.std import tqdm

            return tqdm
    from tqdm.auto import tqdm

    return tqdm


class _Silent:
    """The do-nothing bar used when progress is off (counts, so callers may read ``n``)."""

    disable = True

    def __init__(self, total=None):
        self.total, self.n = total, 0

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def set_postfix_str(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def write(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
