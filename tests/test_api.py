"""Public API: every exported name resolves, modules never shadow functions, imports stay light."""
import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import geometry
import landscape


@pytest.mark.parametrize("package", [geometry, landscape])
def test_exports_resolve_to_objects_not_modules(package):
    # import every submodule first: a submodule named like an exported function would then
    # shadow the function in the package namespace
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("torch",):
            continue
        importlib.import_module(f"{package.__name__}.{info.name}")
    assert package.__all__ == sorted(package.__all__)
    for name in package.__all__:
        obj = getattr(package, name)
        assert not isinstance(obj, types.ModuleType), f"{package.__name__}.{name} is a module"


def test_import_geometry_does_not_load_numba_or_cvxpy():
    code = ("import sys, geometry, landscape; "
            "heavy = [m for m in ('numba', 'cvxpy', 'torch', 'matplotlib', 'scipy.stats') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
