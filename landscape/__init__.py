r"""landscape: loss landscapes, subspace training, thresholds, and predictions from :mod:`geometry`.

Turns losses into sub-level sets, subspaces into runs, runs into thresholds, and asks
:mod:`geometry` for predictions.

Submodules not imported by default (optional dependencies): ``landscape.torch``
(PyTorch adapter, extra ``[torch]``), Dask execution through any
``concurrent.futures.Executor`` (extra ``[dask]``), ``landscape.plots`` (matplotlib).
Public names are resolved lazily so ``import landscape`` stays fast.
"""
from importlib import import_module

_EXPORTS = {
    # filled in by each module: name -> submodule
    "MLP": "models",
    "Dataset": "data",
    "teacher_student": "data",
    "load_digits": "data",
    "read_idx": "data",
    "write_idx": "data",
    "load_idx_dataset": "data",
    "load_fashion_mnist": "data",
    "SGD": "optim",
    "Adam": "optim",
    "make_optimizer": "optim",
    "TrainingResult": "training",
    "train_full": "training",
    "train_in_subspace": "training",
    "sweep": "sweeps",
    "SerialExecutor": "sweeps",
    "digits_experiment": "sweeps",
    "DigitsExperiment": "sweeps",
    "ResultStore": "store",
    "RunTable": "runs",
    "load_runs": "runs",
    "load_reference_pickle": "runs",
    "SuccessCurve": "thresholds",
    "ThresholdEstimate": "thresholds",
    "success_probability": "thresholds",
    "threshold_dimension": "thresholds",
    "predicted_threshold": "predict",
    "predicted_success_curve": "predict",
    "ThresholdPrediction": "predict",
    "SuccessCurvePrediction": "predict",
    "predict_threshold": "comparison",
    "PredictionTable": "comparison",
    "compare": "comparison",
    "Comparison": "comparison",
    "HessianOperator": "hessian",
    "hessian_operator": "hessian",
    "Eigenpairs": "hessian",
    "top_eigenpairs": "hessian",
    "SpectralDensity": "hessian",
    "slq_spectrum": "hessian",
    "SpectralModel": "spectral_model",
    "QuadraticWell": "quadratic",
    "random_basis": "quadratic",
    "flat_spectrum": "spectra",
    "power_law_spectrum": "spectra",
    "two_level_spectrum": "spectra",
    "SubspaceMap": "subspaces",
    "LotterySubspace": "subspaces",
    "random_subspace": "subspaces",
    "Trajectory": "trajectory",
    "full_space_trajectory": "trajectory",
    "burn_in_point": "trajectory",
    "burn_in_subspace": "trajectory",
    "lottery_subspace": "trajectory",
    "subspace_min_loss": "ground_truth",
    "subspace_min_loss_path": "ground_truth",
    "subspace_success": "ground_truth",
    "empirical_success_probability": "ground_truth",
    "empirical_threshold": "ground_truth",
    "EmpiricalSuccess": "ground_truth",
    "EmpiricalThreshold": "ground_truth",
    "wilson_interval": "ground_truth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'landscape' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
