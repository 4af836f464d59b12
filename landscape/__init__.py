r"""landscape: loss landscapes, subspace training, thresholds, and predictions from :mod:`geometry`.

The subpackages follow the data, each asking only the ones before it:

1. :mod:`landscape.models` -- losses: quadratic wells, spectra, the numpy MLP, datasets, and
   the PyTorch adapter :mod:`landscape.torch`;
2. :mod:`landscape.subspaces` -- random maps, burn-in points and lottery subspaces;
3. :mod:`landscape.experiments` -- training, sweeps, the result store and run tables;
4. :mod:`landscape.thresholds` -- measured thresholds d*, exact ground truth for wells;
5. :mod:`landscape.theory` -- Hessian spectra, spectral models, predictions, comparisons;
6. :mod:`landscape.plots`, :mod:`landscape.cli`, :mod:`landscape.demo` and
   :mod:`landscape.digits` (the full digits experiment).

Submodules not imported by default (optional dependencies): ``landscape.torch``
(PyTorch adapter, extra ``[torch]``), Dask execution through any
``concurrent.futures.Executor`` (extra ``[dask]``), ``landscape.plots`` (matplotlib).
Public names are resolved lazily so ``import landscape`` stays fast.

Modules of the flat layout before 0.2 (``landscape.runs``, ``landscape.sweeps``,
``landscape.comparison``, ...) still import, with a DeprecationWarning on use; they will be
removed in the next release.
"""
import importlib.abc
import importlib.util
import sys
import types
import warnings
from importlib import import_module

from ._lazy import attach

from geometry import __version__  # one version for the distribution (setup.cfg reads it)

_EXPORTS = {
    # 1. models
    "QuadraticWell": "models.quadratic",
    "random_basis": "models.quadratic",
    "subspace_min_loss": "models.quadratic",
    "subspace_min_loss_path": "models.quadratic",
    "subspace_success": "models.quadratic",
    "flat_spectrum": "models.spectra",
    "power_law_spectrum": "models.spectra",
    "two_level_spectrum": "models.spectra",
    "MLP": "models.mlp",
    "ProductRegression": "models.singular",
    "Dataset": "models.datasets",
    "teacher_student": "models.datasets",
    "load_digits": "models.datasets",
    "read_idx": "models.datasets",
    "write_idx": "models.datasets",
    "load_idx_dataset": "models.datasets",
    "load_fashion_mnist": "models.datasets",
    # 2. subspaces
    "SubspaceMap": "subspaces.maps",
    "LotterySubspace": "subspaces.maps",
    "random_subspace": "subspaces.maps",
    "Trajectory": "subspaces.trajectory",
    "full_space_trajectory": "subspaces.trajectory",
    "burn_in_point": "subspaces.trajectory",
    "burn_in_subspace": "subspaces.trajectory",
    "lottery_subspace": "subspaces.trajectory",
    "magnitude_mask": "subspaces.masks",
    "prunable_parameters": "subspaces.masks",
    "MaskedModel": "subspaces.masks",
    # 3. experiments
    "SGD": "experiments.optim",
    "Adam": "experiments.optim",
    "make_optimizer": "experiments.optim",
    "TrainingResult": "experiments.training",
    "train_full": "experiments.training",
    "train_in_subspace": "experiments.training",
    "TicketProtocol": "experiments.lottery_tickets",
    "train_ticket": "experiments.lottery_tickets",
    "sweep": "experiments.sweeps",
    "SerialExecutor": "experiments.sweeps",
    "ResultStore": "experiments.result_store",
    "RunTable": "experiments.run_table",
    "load_runs": "experiments.run_files",
    "load_reference_pickle": "experiments.run_files",
    # 4. thresholds
    "SuccessCurve": "thresholds.measured",
    "ThresholdEstimate": "thresholds.measured",
    "success_probability": "thresholds.measured",
    "threshold_dimension": "thresholds.measured",
    "method_thresholds": "thresholds.methods",
    "intrinsic_dimension": "thresholds.intrinsic",
    "MeanMetricCurve": "thresholds.intrinsic",
    "adaptive_threshold": "thresholds.adaptive",
    "AdaptiveSearch": "thresholds.adaptive",
    "empirical_success_probability": "thresholds.ground_truth",
    "empirical_threshold": "thresholds.ground_truth",
    "EmpiricalSuccess": "thresholds.ground_truth",
    "EmpiricalThreshold": "thresholds.ground_truth",
    "wilson_interval": "thresholds.binomial",
    # 5. theory
    "model_hvp": "theory.hessian",
    "model_loss": "theory.hessian",
    "HessianOperator": "theory.hessian",
    "hessian_operator": "theory.hessian",
    "Eigenpairs": "theory.hessian",
    "top_eigenpairs": "theory.hessian",
    "SpectralDensity": "theory.hessian",
    "slq_spectrum": "theory.hessian",
    "SpectralModel": "theory.spectral_model",
    "predicted_threshold": "theory.predict",
    "predicted_success_curve": "theory.predict",
    "level_streams": "theory.predict",
    "LossSlice": "theory.slices",
    "random_direction": "theory.slices",
    "loss_slice": "theory.slices",
    "loss_slice_1d": "theory.slices",
    "loss_slice_2d": "theory.slices",
    "interpolation_slice": "theory.slices",
    "ThresholdPrediction": "theory.predict",
    "SuccessCurvePrediction": "theory.predict",
    "prediction_table": "theory.comparison",
    "PredictionTable": "theory.comparison",
    "compare": "theory.comparison",
    "Comparison": "theory.comparison",
    "SublevelWidth": "theory.sublevel_widths",
    "sublevel_width": "theory.sublevel_widths",
    "LearningCoefficient": "theory.local_learning_coefficient",
    "learning_coefficient": "theory.local_learning_coefficient",
    "quadratic_learning_coefficient": "theory.local_learning_coefficient",
    "product_learning_coefficient": "theory.local_learning_coefficient",
    "EffectiveRanks": "theory.effective_rank",
    "effective_ranks": "theory.effective_rank",
    "EffectiveDimensions": "theory.dimensions",
    "effective_dimensions": "theory.dimensions",
    # 6. the full digits experiment
    "digits_experiment": "digits",
    "DigitsExperiment": "digits",
}

#: renamed public names: old -> (new, module)
_DEPRECATED_NAMES = {
    "predict_threshold": ("prediction_table", "theory.comparison"),
}

#: modules of the flat layout before 0.2 -> the modules that now hold their names
_MOVED_MODULES = {
    "data": ("models.datasets",),
    "quadratic": ("models.quadratic",),
    "spectra": ("models.spectra",),
    "optim": ("experiments.optim",),
    "training": ("experiments.training",),
    "sweeps": ("experiments.sweeps", "digits"),
    "store": ("experiments.result_store",),
    "runs": ("experiments.run_table", "experiments.run_files"),
    "ground_truth": ("thresholds.ground_truth", "models.quadratic"),
    "trajectory": ("subspaces.trajectory",),
    "hessian": ("theory.hessian",),
    "spectral_model": ("theory.spectral_model",),
    "predict": ("theory.predict",),
    "comparison": ("theory.comparison",),
}

_getattr, __dir__, __all__ = attach(__name__, _EXPORTS, deprecated=_DEPRECATED_NAMES)


class _MovedModule(types.ModuleType):
    """A module of the old flat layout: each name is looked up in its new home, with a warning."""

    def __init__(self, name, targets):
        super().__init__(name, f"Deprecated: moved to {', '.join('landscape.' + t for t in targets)}.")
        self._targets = targets

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        for target in self._targets:
            module = import_module(f"{__name__}.{target}")
            if hasattr(module, attr):
                warnings.warn(f"{self.__name__} is deprecated and will be removed in the next release; "
                              f"use landscape.{target}.{attr} (or landscape.{attr} if it is public)",
                              DeprecationWarning, stacklevel=2)
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")

    def __dir__(self):
        return sorted({n for t in self._targets for n in dir(import_module(f"{__name__}.{t}"))})


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import landscape.runs`` (and the other old module paths) give a _MovedModule."""

    def find_spec(self, fullname, path=None, target=None):
        head, _, tail = fullname.partition(".")
        if head == __name__ and tail in _MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return _MovedModule(spec.name, _MOVED_MODULES[spec.name.partition(".")[2]])

    def exec_module(self, module):
        pass


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())


def __getattr__(name):
    if name in _MOVED_MODULES:
        return import_module(f"{__name__}.{name}")
    return _getattr(name)
