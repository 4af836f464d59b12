"""Lazy public names for a package: ``name -> submodule``, imported on first access.

Keeps ``import landscape`` (and each stage's subpackage) fast: numba kernels, scipy's
sparse machinery and matplotlib are imported only when a name that needs them is used.
"""
from __future__ import annotations

import warnings
from importlib import import_module

__all__ = ["attach"]


def attach(package, exports, deprecated=None):
    """Module-level ``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name -> submodule (relative to ``package``) that defines it.
    deprecated : dict, optional
        Old name -> (new name, submodule): accessing the old name warns with a
        DeprecationWarning and returns the new object.
    """
    deprecated = dict(deprecated or {})
    package_globals = import_module(package).__dict__

    def __getattr__(name):
        if name in deprecated:
            new, module = deprecated[name]
            warnings.warn(f"{package}.{name} is deprecated and will be removed in the next release; "
                          f"use {package}.{new}", DeprecationWarning, stacklevel=2)
            return getattr(import_module(f".{module}", package), new)
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        package_globals[name] = value
        return value

    all_names = sorted(exports)

    def __dir__():
        return sorted(set(package_globals) | set(all_names))

    return __getattr__, __dir__, all_names
