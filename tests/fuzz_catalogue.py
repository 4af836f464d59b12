"""What the fuzz test (test_fuzz.py) needs to call every public function: small valid values
by parameter name, per-function overrides, cheap settings, bad values, and the exclusions
(each with its reason).

A new public function whose required parameters all have names listed in VALID is fuzzed
without any change here; one with a new required name makes test_fuzz fail, asking for an
entry.
"""
from __future__ import annotations

import numpy as np

D = 12   # parameters of the small models
SEED = 1000


# --------------------------------------------------------------------------- valid objects
def well():
    from landscape import QuadraticWell

    return QuadraticWell(np.linspace(0.5, 2.0, D))


def theta0():
    return np.full(D, 0.8)


def mlp():
    from landscape import MLP

    return MLP([3, 4, 2])


def data():
    from landscape import teacher_student

    return teacher_student(24, 8, n_features=3, n_classes=2, hidden=4, seed=SEED)


def run_table():
    from landscape import RunTable

    rng = np.random.default_rng(SEED)
    recs = [{"kind": "random", "t": 0, "basis": "orthonormal", "d": d, "seed": s, "D": 12,
             "train_loss": float(np.exp(-d / 4) + 0.01 * rng.random()), "train_acc": float(min(1, d / 8)),
             "status": "ok"}
            for d in (1, 2, 4, 8, 16) for s in range(3)]
    return RunTable(recs)


def spectral_model():
    from landscape import SpectralModel

    return SpectralModel([4.0, 1.0, 0.1], [2, 4, 6], [0.5, 0.5, 1.0])


def trajectory():
    from landscape import full_space_trajectory

    w = well()
    return full_space_trajectory(w, theta0(), lr=0.2, steps=6, loss=w.loss)


def empirical_success():
    from landscape import empirical_success_probability

    return empirical_success_probability(well(), theta0(), 0.5, [2, 6, 10], 8, seed=SEED)


def prediction_table():
    from landscape import prediction_table as make

    return make(spectral_model(), [0.3, 0.6], n_samples=64, seed=SEED)


def success_curve():
    from landscape import success_probability

    return success_probability(run_table(), "train_loss", 0.2)


def quadratic_hvp(v):
    return np.linspace(0.5, 2.0, D) * np.asarray(v)


def grad_of_well(theta):
    return well().gradient(theta)


def mask():
    m = np.zeros(D, dtype=bool)
    m[::2] = True
    return m


def estimate():
    from geometry import Estimate

    return Estimate(value=2.0, stderr=0.1, n_samples=10, method="monte-carlo")


# parameter name -> factory of a small valid value (used when the parameter has no default)
VALID = {
    # geometry
    "dim": lambda: 4, "radius": lambda: 1.0, "radii": lambda: np.array([1.0, 2.0, 0.5, 1.5]),
    "center": lambda: np.zeros(4), "points": lambda: np.random.default_rng(SEED).standard_normal((5, 4)),
    "angle": lambda: 0.7, "basis": lambda: np.eye(4)[:, :2], "half_widths": lambda: np.ones(4),
    "offset": lambda: np.array([0.5, 0.0, 0.2, 0.1]), "S": lambda: _ball(), "origin": lambda: np.full(4, 3.0),
    "k": lambda: 3, "T": lambda: _ball(), "K": lambda: _cone(), "width": lambda: 3.0, "codim": lambda: 20,
    "D": lambda: 40, "delta": lambda: 10.0, "intrinsic_volumes": lambda: np.full(5, 0.2), "d": lambda: 4,
    "x": lambda: np.ones(3), "name": lambda: "x", "G": lambda: np.ones((2, 4)), "axes": lambda: np.eye(4),
    "seed": lambda: 0, "value": lambda: 1.0, "stderr": lambda: 0.1, "n_samples": lambda: 16,
    "method": lambda: "monte-carlo", "volumes": lambda: np.full(5, 0.2),
    # landscape models and data
    "lr": lambda: 0.1, "eigenvalues": lambda: np.linspace(0.5, 2.0, D), "multiplicities": lambda: [2, 4, 6],
    "offsets": lambda: [0.5, 0.5, 1.0], "layer_sizes": lambda: [3, 4, 2], "X_train": lambda: data().X_train,
    "y_train": lambda: data().y_train, "model": lambda: mlp(), "theta": lambda: mlp().init_params(seed=0),
    "X": lambda: data().X_train, "y": lambda: data().y_train, "data": lambda: data(),
    "n_classes": lambda: 2, "n": lambda: 24, "well": lambda: well(), "theta0": lambda: theta0(),
    "eps": lambda: 0.5, "ds": lambda: [2, 6, 10], "n_trials": lambda: 8, "successes": lambda: [1, 4, 8],
    "A": lambda: np.eye(D)[:, :4], "alpha": lambda: 1.0, "n_stiff": lambda: 3, "hvp": lambda: quadratic_hvp,
    "grad": lambda: grad_of_well, "t": lambda: 3, "steps": lambda: 4, "trajectory": lambda: trajectory(),
    "matrix": lambda: np.random.default_rng(SEED).standard_normal((D, 3)), "mask": lambda: mask(),
    "keep": lambda: 0.5, "n_prunable": lambda: 10, "weights": lambda: [0.5, 0.3, 0.2], "total": lambda: 10,
    "singular_values": lambda: None, "stream": lambda: 1, "schedule": lambda: ((2, 0.05),),
    "fn": lambda: (lambda X, y: float(np.mean(X))), "record": lambda: run_table()[0],
    # experiments, thresholds, theory
    "table": lambda: run_table(), "runs": lambda: run_table(), "metric": lambda: "train_loss",
    "level": lambda: 0.2, "result": lambda: empirical_success(), "predictions": lambda: prediction_table(),
    "source": lambda: spectral_model(), "loss_at_start": lambda: 2.0, "records": lambda: run_table().to_records(),
    "columns": lambda: {"d": [1, 2], "seed": [0, 0]}, "rows": lambda: [{"eps": 0.5, "predicted": 3.0}],
    "path": lambda: "no-such-file.csv", "array": lambda: np.zeros((2, 3), dtype=np.uint8),
    "protocol": lambda: None, "table_or_runs": lambda: run_table(),
    # slices, learning coefficients, effective dimensions
    "theta_star": lambda: mlp().init_params(seed=1), "spectrum": lambda: np.array([3.0, 1.0, 0.5, 0.0]),
    "nbeta": lambda: 10.0, "gamma": lambda: 100.0, "kind": lambda: "random",
    "directions": lambda: np.random.default_rng(SEED).standard_normal((1, 26)),
    "grid": lambda: np.linspace(-1.0, 1.0, 5), "loss_slice": lambda: _slice(),
    # plots
    "predicted": lambda: [3.0, 5.0], "measured": lambda: [3.5, 4.0], "burn_in_steps": lambda: [0, 4, 16],
    "thresholds": lambda: [10.0, 6.0, 4.0],
}


def _ball():
    from geometry import Ball

    return Ball(4, 1.0, center=np.full(4, 2.0))


def _cone():
    from geometry import CircularCone

    return CircularCone(4, 0.7)


# qualified name -> {parameter: factory}: where the name alone does not say enough
OVERRIDES = {
    "geometry.Subspace": {"basis": lambda: np.eye(4)[:, :2]},
    "geometry.Box": {"half_widths": lambda: np.ones(4)},
    "geometry.gaussian_width": {"T": lambda: _ball()},
    "geometry.statistical_dimension": {"K": lambda: _cone()},
    "geometry.intrinsic_volumes": {"K": lambda: _cone(), "n_samples": lambda: 64},
    "geometry.kinematic_success_probability": {"d": lambda: 2},
    "geometry.EllipsoidalCone": {"offset": lambda: np.array([2.0, 0.0, 0.5, 0.0])},
    "geometry.validation.as_directions": {"G": lambda: np.ones((2, 3)), "dim": lambda: 3},
    "geometry.validation.check_orthonormal": {"axes": lambda: np.eye(3)},
    "geometry.validation.check_int": {"x": lambda: 3},
    "geometry.validation.check_positive": {"x": lambda: 1.5},
    "geometry.validation.check_probability": {"x": lambda: 0.5},
    "geometry.parallel.parallel_call": {"kernel": lambda: (lambda *a: 0.0)},
    "geometry.convex.CvxpySet": {"constraints_fn": lambda: (lambda x: [x >= 0, x <= 1])},
    "geometry.convex.CvxpyCone": {"constraints_fn": lambda: (lambda x: [x >= 0])},
    "geometry.convex.polish_polar_projection": {"g": lambda: np.ones(4), "v": lambda: np.zeros(4)},
    "landscape.Dataset": {"X_train": lambda: np.ones((4, 2)), "y_train": lambda: np.array([0, 1, 0, 1])},
    "landscape.HessianOperator": {"D": lambda: D},
    "landscape.hessian_operator": {"D": lambda: D},
    "landscape.slq_spectrum": {"D": lambda: D, "n_probes": lambda: 2, "n_steps": lambda: 5},
    "landscape.top_eigenpairs": {"D": lambda: D, "k": lambda: 2},
    "landscape.LotterySubspace": {"basis": lambda: np.eye(D)[:, :3]},
    "landscape.MaskedModel": {"model": lambda: _masked_base(), "mask": lambda: _mlp_mask()},
    "landscape.burn_in_point": {"theta0": lambda: theta0()},
    "landscape.burn_in_subspace": {"theta0": lambda: theta0(), "d": lambda: 3},
    "landscape.full_space_trajectory": {"lr": lambda: 0.2},
    "landscape.lottery_subspace": {"d": lambda: 3},
    "landscape.magnitude_mask": {"theta": lambda: np.linspace(-1, 1, D)},
    "landscape.model_hvp": {"theta": lambda: mlp().init_params(seed=0), "y": lambda: data().y_train},
    "landscape.model_loss": {"theta": lambda: mlp().init_params(seed=0), "y": lambda: data().y_train},
    "landscape.subspace_min_loss": {"A": lambda: np.eye(D)[:, :4]},
    "landscape.subspace_min_loss_path": {"A": lambda: np.eye(D)[:, :4]},
    "landscape.subspace_success": {"A": lambda: np.eye(D)[:, :4]},
    "landscape.empirical_success_probability": {"n_trials": lambda: 4},
    "landscape.empirical_threshold": {},
    "landscape.predicted_success_curve": {"ds": lambda: [2, 5], "n_samples": lambda: 64, "n_bootstrap": lambda: 4},
    "landscape.predicted_threshold": {"n_samples": lambda: 64},
    "landscape.prediction_table": {"model": lambda: spectral_model(), "eps": lambda: [0.3, 0.6],
                                   "n_samples": lambda: 64},
    "landscape.compare": {"n_bootstrap": lambda: 20},
    "landscape.theory.calibrated_levels": {"model": lambda: spectral_model(), "eps": lambda: [0.3, 0.6]},
    "landscape.theory.cone_of": {},
    "landscape.SpectralModel": {"eigenvalues": lambda: [4.0, 1.0, 0.1]},
    "landscape.QuadraticWell": {},
    "landscape.random_subspace": {"D": lambda: D, "d": lambda: 3},
    "landscape.SubspaceMap": {"D": lambda: D, "d": lambda: 3},
    "landscape.subspaces.OrthonormalSubspace": {"D": lambda: D, "d": lambda: 3},
    "landscape.subspaces.GaussianSubspace": {"D": lambda: D, "d": lambda: 3},
    "landscape.subspaces.SparseSubspace": {"D": lambda: D, "d": lambda: 3},
    "landscape.subspaces.FastfoodSubspace": {"D": lambda: D, "d": lambda: 3},
    "landscape.subspaces.haar_frame": {"D": lambda: D, "k": lambda: 3},
    "landscape.subspaces.check_mask": {"D": lambda: D},
    "landscape.subspaces.kept_count": {"keep": lambda: 0.5},
    "landscape.random_basis": {"D": lambda: D},
    "landscape.flat_spectrum": {"D": lambda: D},
    "landscape.power_law_spectrum": {"D": lambda: D},
    "landscape.two_level_spectrum": {"D": lambda: D},
    "landscape.train_full": {"steps": lambda: 3},
    "landscape.train_in_subspace": {"d": lambda: 2, "steps": lambda: 3},
    "landscape.train_ticket": {"keep": lambda: 0.5, "steps": lambda: 3, "protocol": lambda: _ticket_protocol()},
    "landscape.sweep": {"ds": lambda: [1, 2], "seeds": lambda: 1, "steps": lambda: 3, "executor": lambda: "serial"},
    "landscape.experiments.sweep_protocol": {},
    "landscape.experiments.ticket_dimensions": {},
    "landscape.experiments.check_schedule": {},
    "landscape.sublevel_width": {"model": lambda: well(), "eps": lambda: 0.5, "n_samples": lambda: 3,
                                 "steps": lambda: 20, "max_tests": lambda: 4, "executor": lambda: "serial"},
    "landscape.models.batch_mean": {"data": lambda: [(np.ones((2, 3)), np.array([0, 1]))]},
    "landscape.models.check_labels": {"y": lambda: np.array([0, 1, 1]), "n": lambda: 3},
    "landscape.models.is_batches": {},
    "landscape.theory.integer_multiplicities": {},
    "landscape.wilson_interval": {"successes": lambda: 3, "n_trials": lambda: 10},
    "landscape.threshold_dimension": {"n_bootstrap": lambda: 20},
    "landscape.write_idx": {"path": lambda: "fuzz-out-idx"},
    "landscape.load_idx_dataset": {"path": lambda: "no-such-directory"},
    "landscape.RunTable": {},
    "landscape.ResultStore": {"path": lambda: "fuzz-store"},
    "landscape.Comparison": {},
    "landscape.PredictionTable": {"predictions": lambda: prediction_table().predictions},
    "landscape.TicketProtocol": {},
    "landscape.SGD": {},
    "landscape.Adam": {},
    "landscape.make_optimizer": {},
    "geometry.validation.check_choice": {"x": lambda: "a", "choices": lambda: ("a", "b")},
    "geometry.validation.check_memory": {"nbytes": lambda: 1000, "name": lambda: "nbytes"},
    "geometry.validation.check_bool": {"x": lambda: True},
    "landscape.load_runs": {"path": lambda: runs_csv()},
    "landscape.load_reference_pickle": {"path": lambda: reference_pickle()},
    "landscape.read_idx": {"path": lambda: idx_file()},
    "landscape.load_idx_dataset": {"path": lambda: idx_directory()},
    "landscape.magnitude_mask": {"theta": lambda: np.linspace(-1, 1, D), "keep": lambda: 0.5},
    "landscape.make_optimizer": {"lr": lambda: 0.1},
    "landscape.predicted_success_curve": {"ds": lambda: [2, 5], "n_samples": lambda: 64, "n_bootstrap": lambda: 4,
                                          "eps": lambda: 0.5},
    "landscape.predicted_threshold": {"n_samples": lambda: 64, "eps": lambda: 0.5},
    "landscape.theory.cone_of": {"eps": lambda: 0.5},
    "landscape.torch.TorchModel": {"module": lambda: torch_module()},
    "landscape.torch.TorchSubspaceModel": {"model": lambda: torch_model(), "subspace": lambda: 3},
    "landscape.torch.load_checkpoint": {"path": lambda: torch_checkpoint(), "module": lambda: torch_module()},
    "landscape.torch.load_state_dict": {"path": lambda: torch_checkpoint()},
    "landscape.torch.params_from_state_dict": {"model": lambda: torch_model(),
                                               "state_dict": lambda: torch_module().state_dict()},
    "landscape.torch.torch_projection": {"subspace": lambda: np.eye(6)[:, :2]},
    "landscape.torch.train_full": {"model": lambda: torch_model(), "X": lambda: data().X_train, "y": lambda: data().y_train,
                                   "theta0": lambda: torch_model().get_params(), "steps": lambda: 3},
    "landscape.loss_slice": {"center": lambda: mlp().init_params(seed=0), "X": lambda: data().X_train,
                             "y": lambda: data().y_train, "executor": lambda: "serial"},
    "landscape.loss_slice_1d": {"center": lambda: mlp().init_params(seed=0), "X": lambda: data().X_train,
                                "y": lambda: data().y_train, "alphas": lambda: np.linspace(-1, 1, 5), "seed": lambda: 0},
    "landscape.loss_slice_2d": {"center": lambda: mlp().init_params(seed=0), "X": lambda: data().X_train,
                                "y": lambda: data().y_train, "alphas": lambda: np.linspace(-1, 1, 3),
                                "betas": lambda: np.linspace(-1, 1, 3), "seed": lambda: 0},
    "landscape.interpolation_slice": {"theta0": lambda: mlp().init_params(seed=0), "X": lambda: data().X_train,
                                      "y": lambda: data().y_train, "alphas": lambda: np.linspace(0, 1, 4)},
    "landscape.random_direction": {"theta": lambda: mlp().init_params(seed=0)},
    "landscape.learning_coefficient": {"data": lambda: data(), "n_chains": lambda: 2, "n_steps": lambda: 5, "seed": lambda: 0,
                                       "nbeta": lambda: 10.0},
    "landscape.quadratic_learning_coefficient": {"eigenvalues": lambda: np.array([2.0, 1.0, 0.0])},
    "landscape.plots.plot_sublevel_set_2d": {"source": lambda: _well_2d(), "theta0": lambda: np.array([1.0, 0.5]),
                                             "eps": lambda: 0.3},
    "landscape.plots.plot_threshold_predictions": {"eps": lambda: [0.3, 0.6],
                                                   "predictions": lambda: {"kinematic": [3.0, 5.0]}},
    "landscape.plots.plot_methods": {"n_bootstrap": lambda: 20},
    "landscape.adaptive_threshold": {"run": lambda: _toy_run, "level": lambda: 0.5, "d_range": lambda: (1, 64),
                                     "metric": lambda: "train_loss", "seeds": lambda: 3, "max_runs": lambda: 12},
    "landscape.intrinsic_dimension": {"metric": lambda: "train_acc", "level": lambda: 0.9, "baseline": lambda: 1.0},
    "landscape.plots.plot_success_curve": {"ds": lambda: [2, 6, 10], "successes": lambda: [1, 4, 8],
                                           "n_trials": lambda: 8},
    "landscape.plots.plot_threshold_vs_eps": {"eps": lambda: [0.3, 0.6], "predicted": lambda: [3.0, 5.0]},
    "landscape.plots.plot_spectrum": {"eigenvalues": lambda: [3.0, 1.0, 0.5]},
}


# files, written into the test's temporary working directory
def runs_csv():
    run_table().to_csv("fuzz-runs.csv")
    return "fuzz-runs.csv"


def reference_pickle():
    import pickle

    ref = {"full_d": 12, "init_iters": 0, "model": "m",
           "data": {"d": [2, 4], "point_id": [0, 0], "full_train_acc": [0.5, 0.9]}}
    with open("fuzz-ref.pkl", "wb") as fh:
        pickle.dump(ref, fh)
    return "fuzz-ref.pkl"


def idx_file():
    from landscape import write_idx

    write_idx("fuzz-images.idx", np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    return "fuzz-images.idx"


def idx_directory():
    import os

    from landscape import write_idx

    os.makedirs("fuzz-idx", exist_ok=True)
    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(f"fuzz-idx/{prefix}-images-idx3-ubyte", np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2))
        write_idx(f"fuzz-idx/{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 2)
    return "fuzz-idx"


def torch_module():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def torch_model():
    from landscape.torch import TorchModel

    return TorchModel(torch_module())


def torch_checkpoint():
    import torch

    torch.save(torch_module().state_dict(), "fuzz-checkpoint.pt")
    return "fuzz-checkpoint.pt"


def _toy_run(d, seed):
    """A run whose loss falls below 0.5 from d = 10 on (seeds shift it a little)."""
    return 1.0 if d < 10 + seed % 3 else 0.1


def _slice():
    from landscape import loss_slice_1d

    d = data()
    return loss_slice_1d(mlp(), mlp().init_params(seed=0), d.X_train, d.y_train, alphas=np.linspace(-1, 1, 5),
                         seed=0)


def _well_2d():
    from landscape import QuadraticWell

    return QuadraticWell([1.0, 0.2])


def _masked_base():
    return mlp()


def _mlp_mask():
    m = np.ones(mlp().n_params, dtype=bool)
    m[::3] = False
    return m


def _ticket_protocol():
    from landscape import TicketProtocol

    return TicketProtocol(pretrain_steps=2, schedule=())


# parameters with defaults that make a call slow or noisy: replaced in every call
CHEAP = {
    "progress": False, "n_bootstrap": 20, "max_workers": 1, "n_samples": 32, "max_iter": 200,
}

# qualified name -> why it is not fuzzed
EXCLUDED = {
    "landscape.digits_experiment": "runs the full digits experiment (minutes); its arguments are those of "
                                   "sweep and threshold_dimension, which are fuzzed",
    "landscape.digits.digits_experiment": "as landscape.digits_experiment",
    "landscape.demo.run_demo": "the end-to-end demo (minutes); tested by test_cli",
    "landscape.demo.digits_network": "part of the demo; its settings are DemoSettings",
    "landscape.cli.main": "the command line: its contract is tested by test_cli and test_hostile_files",
    "landscape.cli.build_parser": "takes no arguments",
    "landscape.load_fashion_mnist": "reads the Debian dataset directory (file errors: test_hostile_files)",
    "geometry.parallel.configure_threading_layer": "takes no arguments",
    "geometry.parallel.threading_layer": "takes no arguments",
    "geometry.parallel.parallel_call": "calls the kernel it is given with the arguments it is given",
    "landscape.experiments.run_seed_sequence": "documented to accept any ints and strings as stream keys",
    "landscape.effective_dimensions": "orchestrates sweep, threshold_dimension, prediction_table, sublevel_width "
                                      "and learning_coefficient (minutes), each fuzzed on its own",
    "landscape.plots.plot_effective_dimensions": "draws an EffectiveDimensions, a result record of "
                                                 "effective_dimensions (excluded above)",
}

# result records that have a __post_init__ (those without one are found automatically)
RESULT_RECORDS = {"geometry.IntrinsicVolumes", "landscape.DigitsExperiment", "landscape.EffectiveDimensions"}

_OPTIONS = "the validators' options are set by the code calling them; the value checked is fuzzed"
# parameters not fuzzed, by qualified name (callables the caller supplies are called as given;
# the validators' own options are set by the code that calls them, the value checked is fuzzed)
SKIP_PARAMS = {
    "geometry.validation.as_float_array": {"name", "ndim", "shape", "allow_inf", "allow_empty", "nonnegative"},
    "geometry.validation.as_directions": {"name", "dim"},
    "geometry.validation.check_int": {"name", "minimum", "maximum"},
    "geometry.validation.check_positive": {"name", "strict", "allow_inf"},
    "geometry.validation.check_probability": {"name", "open_interval"},
    "geometry.validation.check_orthonormal": {"name", "dim", "atol"},
    "geometry.validation.check_rng": {"name"},
    "geometry.validation.as_int_array": {"name", "ndim", "minimum", "allow_empty"},
    "geometry.validation.check_bool": {"name"},
    "geometry.validation.check_choice": {"name", "choices"},
    "geometry.validation.check_memory": {"name", "limit"},
    "landscape.models.batch_mean": {"fn"},
    "geometry.convex.CvxpySet": {"constraints_fn"},
    "geometry.convex.CvxpyCone": {"constraints_fn"},
}


# numbers of iterations whose only cost is time (no memory grows with them): a huge value
# runs as long as asked, which is not an error; their other bad values are fuzzed
TIME_ONLY = {
    "landscape.burn_in_point": {"t"},
    "landscape.burn_in_subspace": {"t"},
    "landscape.train_full": {"steps"},
    "landscape.train_in_subspace": {"steps", "burn_in"},
    "landscape.train_ticket": {"steps"},
    "landscape.sweep": {"steps", "burn_in"},
    "landscape.sublevel_width": {"steps", "max_tests"},
    "landscape.learning_coefficient": {"n_burnin"},
}
HUGE = {"10**12", "2**70", "1e300", "int array 10**12"}

# public exception classes that report an outcome of valid-looking input (judged like a
# ValueError: the message must name the parameter)
DOCUMENTED_ERRORS = {"ChainDivergenceError"}  # SGLD chains diverged: "lower step_size"


# --------------------------------------------------------------------------- bad values
def _bad_values():
    return [
        ("nan", lambda: float("nan")), ("inf", lambda: float("inf")), ("-inf", lambda: float("-inf")),
        ("-1", lambda: -1), ("-3.5", lambda: -3.5), ("0", lambda: 0), ("0.0", lambda: 0.0), ("2.5", lambda: 2.5),
        ("10**12", lambda: 10 ** 12), ("2**70", lambda: 2 ** 70), ("1e300", lambda: 1e300),
        ("-1e300", lambda: -1e300), ("None", lambda: None), ("'abc'", lambda: "abc"), ("b'x'", lambda: b"x"),
        ("True", lambda: True), ("1+2j", lambda: 1 + 2j), ("[]", lambda: []), ("{}", lambda: {}),
        ("object()", lambda: object()), ("[nan]", lambda: np.array([np.nan])),
        ("complex array", lambda: np.array([1 + 2j, 2.0])), ("empty array", lambda: np.zeros(0)),
        ("3-D array", lambda: np.zeros((2, 2, 2))), ("string array", lambda: np.array(["a", "b"])),
        ("[inf, 1]", lambda: np.array([np.inf, 1.0])), ("[-1, 2]", lambda: np.array([-1.0, 2.0])),
        ("[1, 'a']", lambda: [1, "a"]), ("lambda", lambda: (lambda *a, **k: None)),
        ("[[1], [1, 2]]", lambda: [[1], [1, 2]]), ("int array 10**12", lambda: np.array([10 ** 12, 1])),
    ]


BAD = _bad_values()
