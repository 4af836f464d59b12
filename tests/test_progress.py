"""landscape._progress: bars on when a person watches, off otherwise and with progress=False."""
import io
import sys

import pytest

from landscape._progress import _Silent, interactive, progress_bar


def test_off_when_not_interactive(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not interactive()
    bar = progress_bar(10, "x")
    assert isinstance(bar, _Silent)
    with bar:
        bar.update(3)
    assert bar.n == 3


def test_forced_on_writes_to_stderr(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    with progress_bar(4, "work", progress=True) as bar:
        bar.update(4)
    assert "work" in buf.getvalue() and "4/4" in buf.getvalue()


def test_forced_off_even_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    assert interactive()
    assert isinstance(progress_bar(3, progress=False), _Silent)
    assert not isinstance(progress_bar(3, progress=None), _Silent)


def test_bad_progress_argument():
    with pytest.raises(TypeError, match="progress"):
        progress_bar(3, progress="yes")
