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
    "sweep": "sweep",
    "SerialExecutor": "sweep",
    "digits_experiment": "sweep",
    "DigitsExperiment": "sweep",
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
