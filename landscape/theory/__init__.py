r"""Stage 5, theory: what the geometry predicts, and how it compares with what was measured.

In: a model at its trained point (:mod:`landscape.models`), measured thresholds
(:mod:`landscape.thresholds`).
Out: Hessian spectra, spectral (quadratic) models of the sub-level sets, predicted d* and
:math:`P_s(d)`, tables of predicted against measured.
Asks: :mod:`geometry` (public names only) for widths, statistical dimensions and bounds.

Modules: ``hessian`` (Lanczos, stochastic Lanczos quadrature), ``spectral_model`` (a
quadratic model from a spectrum), ``predict`` (one cone, one level), ``comparison``
(tables over levels, predicted against measured), ``sublevel_width`` (the Gaussian width of
the model's own sub-level set, measured by training inside cones), ``local_learning_coefficient``
(the learning coefficient by SGLD), ``effective_rank`` (effective ranks of a Hessian spectrum),
``slices`` (the loss on lines and planes: filter-normalised random directions, the path from
theta0 to theta*), ``dimensions`` (all five answers to "how many parameters matter?" side by
side).
"""
from .._lazy import attach

_EXPORTS = {
    "model_hvp": "hessian",
    "model_loss": "hessian",
    "HessianOperator": "hessian",
    "hessian_operator": "hessian",
    "Eigenpairs": "hessian",
    "top_eigenpairs": "hessian",
    "SpectralDensity": "hessian",
    "slq_spectrum": "hessian",
    "integer_multiplicities": "hessian",
    "SpectralModel": "spectral_model",
    "ThresholdPrediction": "predict",
    "SuccessCurvePrediction": "predict",
    "predicted_threshold": "predict",
    "predicted_success_curve": "predict",
    "cone_of": "predict",
    "level_streams": "predict",
    "LossSlice": "slices",
    "random_direction": "slices",
    "loss_slice": "slices",
    "loss_slice_1d": "slices",
    "loss_slice_2d": "slices",
    "interpolation_slice": "slices",
    "PredictionTable": "comparison",
    "prediction_table": "comparison",
    "calibrated_levels": "comparison",
    "Comparison": "comparison",
    "compare": "comparison",
    "SublevelWidth": "sublevel_widths",
    "sublevel_width": "sublevel_widths",
    "LearningCoefficient": "local_learning_coefficient",
    "learning_coefficient": "local_learning_coefficient",
    "quadratic_learning_coefficient": "local_learning_coefficient",
    "product_learning_coefficient": "local_learning_coefficient",
    "NotAtMinimumWarning": "local_learning_coefficient",
    "ChainDivergenceWarning": "local_learning_coefficient",
    "ChainMixingWarning": "local_learning_coefficient",
    "ChainDivergenceError": "local_learning_coefficient",
    "EffectiveRanks": "effective_rank",
    "effective_ranks": "effective_rank",
    "EffectiveDimensions": "dimensions",
    "effective_dimensions": "dimensions",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS,
                                       deprecated={"predict_threshold": ("prediction_table", "comparison")})
