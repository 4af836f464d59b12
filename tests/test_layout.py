"""The layout: no import cycles, no door into another package's private modules, and every
public name of the flat layout (0.1) still importable, directly or through a deprecated alias."""
import ast
import importlib
import os
import warnings

import pytest

import geometry
import landscape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("geometry", "landscape")


# -- the import graph, from the source (ast), function-level imports included ----------
def _modules():
    """Dotted module name -> file, for every module of the two packages."""
    out = {}
    for pkg in PACKAGES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, pkg)):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].split(os.sep)
                    if rel[-1] == "__init__":
                        rel = rel[:-1]
                    out[".".join(rel)] = os.path.join(dirpath, f)
    return out


MODULES = _modules()


def _imports(name, path):
    """Project modules that ``name`` imports (a ``from m import x`` that names a submodule
    counts as an import of the submodule)."""
    is_pkg = path.endswith("__init__.py")
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            if t in MODULES and t != name:
                found.add(t)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _is_private(module):
    return any(part.startswith("_") and not part.startswith("__") for part in module.split("."))


def test_graph_is_read():
    assert len(MODULES) > 40
    assert "landscape.experiments.run_table" in GRAPH["landscape.experiments.result_store"]
    assert "geometry.validation" in GRAPH["landscape.models.quadratic"]


def test_the_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_geometry_imports_nothing_from_landscape():
    bad = {m: sorted(t for t in ts if t.startswith("landscape"))
           for m, ts in GRAPH.items() if m.startswith("geometry")}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_no_private_module_of_another_package_is_imported():
    bad = {m: sorted(t for t in ts if _is_private(t) and t.split(".")[0] != m.split(".")[0])
           for m, ts in GRAPH.items()}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def _shadowed(packages):
    """(package, name) for every public name a package exports that is also one of its submodules."""
    return sorted((pkg, name) for pkg, names in packages.items() for name in names
                  if f"{pkg}.{name}" in MODULES)


def test_the_shadow_check_finds_a_shadowed_module():
    assert _shadowed({"landscape.theory": ["hessian", "slq_spectrum"]}) == [("landscape.theory", "hessian")]


def test_no_exported_name_shadows_a_submodule():
    # ``from landscape.theory import x`` must not depend on whether x's module was imported
    # first (a submodule import rebinds the package attribute to the module).
    packages = {name: list(getattr(importlib.import_module(name), "__all__", ()))
                for name, path in MODULES.items() if path.endswith("__init__.py")}
    assert _shadowed(packages) == []


def test_every_stage_init_says_what_comes_in_and_goes_out():
    for stage in ("models", "subspaces", "experiments", "thresholds", "theory"):
        doc = importlib.import_module(f"landscape.{stage}").__doc__
        assert "In:" in doc and "Out:" in doc and "Asks:" in doc, stage


# -- public names of 0.1 -----------------------------------------------------------------
OLD_TOP_LEVEL =  ['Adam', 'Comparison', 'Dataset', 'DigitsExperiment', 'Eigenpairs', 'EmpiricalSuccess', 'EmpiricalThreshold', 'HessianOperator', 'LotterySubspace', 'MLP', 'PredictionTable', 'QuadraticWell', 'ResultStore', 'RunTable', 'SGD', 'SerialExecutor', 'SpectralDensity', 'SpectralModel', 'SubspaceMap', 'SuccessCurve', 'SuccessCurvePrediction', 'ThresholdEstimate', 'ThresholdPrediction', 'TrainingResult', 'Trajectory', 'burn_in_point', 'burn_in_subspace', 'compare', 'digits_experiment', 'empirical_success_probability', 'empirical_threshold', 'flat_spectrum', 'full_space_trajectory', 'hessian_operator', 'load_digits', 'load_fashion_mnist', 'load_idx_dataset', 'load_reference_pickle', 'load_runs', 'lottery_subspace', 'make_optimizer', 'power_law_spectrum', 'predict_threshold', 'predicted_success_curve', 'predicted_threshold', 'random_basis', 'random_subspace', 'read_idx', 'slq_spectrum', 'subspace_min_loss', 'subspace_min_loss_path', 'subspace_success', 'success_probability', 'sweep', 'teacher_student', 'threshold_dimension', 'top_eigenpairs', 'train_full', 'train_in_subspace', 'two_level_spectrum', 'wilson_interval', 'write_idx']
OLD_MODULES = {
    "cli": ['load_spectral_model', 'main', 'save_spectral_model'],
    "comparison": ['Comparison', 'PredictionTable', 'calibrated_levels', 'compare', 'predict_threshold'],
    "data": ['Dataset', 'FASHION_MNIST_DIR', 'load_digits', 'load_fashion_mnist', 'load_idx_dataset', 'read_idx', 'teacher_student', 'write_idx'],
    "demo": ['DemoSettings', 'run_demo'],
    "ground_truth": ['EmpiricalSuccess', 'EmpiricalThreshold', 'empirical_success_probability', 'empirical_threshold', 'subspace_min_loss', 'subspace_min_loss_path', 'subspace_success', 'wilson_interval'],
    "hessian": ['Eigenpairs', 'HessianOperator', 'SpectralDensity', 'hessian_operator', 'integer_multiplicities', 'slq_spectrum', 'top_eigenpairs'],
    "models": ['MLP', 'check_labels'],
    "optim": ['Adam', 'OPTIMIZERS', 'SGD', 'make_optimizer'],
    "plots": ['plot_predicted_vs_measured', 'plot_spectrum', 'plot_sublevel_set_2d', 'plot_success_curve', 'plot_threshold_vs_burn_in', 'plot_threshold_vs_eps'],
    "predict": ['SuccessCurvePrediction', 'ThresholdPrediction', 'cone_of', 'predicted_success_curve', 'predicted_threshold'],
    "quadratic": ['QuadraticWell', 'random_basis'],
    "runs": ['COLUMN_TYPES', 'KEY_COLUMNS', 'RunTable', 'load_reference_pickle', 'load_runs'],
    "spectra": ['flat_spectrum', 'power_law_spectrum', 'two_level_spectrum'],
    "spectral_model": ['SpectralModel'],
    "store": ['ResultStore', 'run_id', 'run_key'],
    "subspaces": ['DenseSubspace', 'FastfoodSubspace', 'GaussianSubspace', 'LotterySubspace', 'OrthonormalSubspace', 'SUBSPACE_KINDS', 'SparseSubspace', 'SubspaceMap', 'haar_frame', 'random_subspace'],
    "sweeps": ['DigitsExperiment', 'SerialExecutor', 'digits_experiment', 'sweep', 'sweep_protocol'],
    "thresholds": ['SuccessCurve', 'ThresholdEstimate', 'success_matrix', 'success_probability', 'threshold_dimension'],
    "torch": ['TorchModel', 'TorchSubspaceModel', 'TorchTrainResult', 'torch_projection', 'torch_seed', 'train_full'],
    "training": ['METRICS', 'SUBSPACE_TRAINING_KINDS', 'TrainingResult', 'run_seed_sequence', 'train_full', 'train_in_subspace'],
    "trajectory": ['Trajectory', 'burn_in_point', 'burn_in_subspace', 'full_space_trajectory', 'lottery_subspace'],
}

#: renamed names: old -> new, both at the top level
RENAMED = {"predict_threshold": "prediction_table"}
#: 0.1 modules that are now subpackages or kept modules (their names import without warning)
KEPT_MODULES = {"cli", "demo", "models", "plots", "subspaces", "thresholds", "torch"}


@pytest.mark.parametrize("name", OLD_TOP_LEVEL)
def test_old_top_level_names_still_work(name):
    if name in RENAMED:
        with pytest.warns(DeprecationWarning, match=RENAMED[name]):
            old = getattr(landscape, name)
        assert callable(old)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(landscape, name) is not None
    assert name in landscape.__all__


@pytest.mark.parametrize("module", sorted(OLD_MODULES))
def test_old_module_paths_still_work(module):
    if module == "torch":
        pytest.importorskip("torch")
    mod = importlib.import_module(f"landscape.{module}")
    for name in OLD_MODULES[module]:
        if module in KEPT_MODULES:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                assert getattr(mod, name) is not None, name
        elif name in RENAMED:
            with pytest.warns(DeprecationWarning):
                assert callable(getattr(mod, name))
        else:
            with pytest.warns(DeprecationWarning, match=f"landscape.{module} is deprecated"):
                value = getattr(mod, name)
            assert value is not None


def test_old_and_new_paths_give_the_same_objects():
    from landscape.experiments.run_files import load_runs
    from landscape.experiments.run_table import RunTable

    with pytest.warns(DeprecationWarning):
        from landscape.runs import RunTable as old_table
    with pytest.warns(DeprecationWarning):
        from landscape.runs import load_runs as old_load
    assert old_table is RunTable and old_load is load_runs


def test_renamed_function_gives_the_same_result():
    import numpy as np

    from landscape.theory.spectral_model import SpectralModel

    model = SpectralModel.from_spectrum(np.linspace(0.5, 2.0, 40), np.full(40, 0.6))
    new = landscape.prediction_table(model, [0.05], n_samples=50, seed=1)
    with pytest.warns(DeprecationWarning):
        old = landscape.predict_threshold(model, [0.05], n_samples=50, seed=1)
    assert float(new.kinematic[0]) == float(old.kinematic[0])


def test_versions():
    assert landscape.__version__ == geometry.__version__
