"""Tests of geometry.validation: every validator accepts good input and names the argument otherwise."""
import numpy as np
import pytest

from geometry.validation import (
    as_directions,
    as_float_array,
    check_int,
    check_orthonormal,
    check_positive,
    check_probability,
    check_rng,
)


def test_as_float_array_good_input():
    out = as_float_array([[1, 2], [3, 4]], "x", ndim=2, shape=(2, None))
    assert out.dtype == np.float64 and out.flags.c_contiguous and out.shape == (2, 2)
    scalar = as_float_array(3, "x")
    assert scalar.ndim == 0 and scalar == 3.0  # 0-d stays 0-d
    assert as_float_array(np.asfortranarray(np.ones((3, 2))), "x").flags.c_contiguous
    assert np.isinf(as_float_array([1.0, np.inf], "x", allow_inf=True)[1])
    assert as_float_array([], "x", allow_empty=True).size == 0
    assert as_float_array([0.0, 2.0], "x", nonnegative=True)[1] == 2.0


@pytest.mark.parametrize("x, kwargs, err, match", [
    ("abc", {}, TypeError, "x must be an array"), (None, {}, TypeError, "x must be an array"),
    ([1, "a"], {}, TypeError, "real numbers"), ([1 + 2j], {}, TypeError, "real numbers"),
    ([[1, 2]], dict(ndim=1), ValueError, "x must be 1-D"), ([1, 2], dict(ndim=(0, 2)), ValueError, "0-D or 2-D"),
    ([[1, 2]], dict(shape=(1, 3)), ValueError, r"shape \(1, 3\)"), ([1, 2], dict(shape=(None, 2)), ValueError, "shape"),
    ([], {}, ValueError, "empty"), ([np.nan], {}, ValueError, "NaN"), ([np.inf], {}, ValueError, "finite"),
    ([-np.inf], dict(allow_inf=True), ValueError, "-inf"), ([-1.0], dict(nonnegative=True), ValueError, "non-negative"),
    ([np.nan], dict(allow_inf=True), ValueError, "NaN"),
])
def test_as_float_array_bad_input(x, kwargs, err, match):
    with pytest.raises(err, match=match):
        as_float_array(x, "x", **kwargs)


def test_as_directions():
    G, squeeze = as_directions([1.0, 2.0, 3.0], 3)
    assert G.shape == (1, 3) and squeeze
    G, squeeze = as_directions(np.ones((4, 3)), 3)
    assert G.shape == (4, 3) and not squeeze
    with pytest.raises(ValueError, match="G must have 3 columns"):
        as_directions(np.ones((4, 2)), 3)
    with pytest.raises(ValueError, match="G must be 1-D or 2-D"):
        as_directions(np.ones((1, 4, 3)), 3)
    with pytest.raises(ValueError, match="W contains NaN"):
        as_directions([np.nan, 1.0], 2, name="W")


def test_check_int():
    assert check_int(5, "n") == 5 and isinstance(check_int(np.int64(5), "n"), int)
    assert check_int(4.0, "n") == 4
    assert check_int(3, "n", minimum=3, maximum=3) == 3
    for bad in (2.5, "3", True, None, np.nan):
        with pytest.raises(TypeError, match="n must be an integer"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match="n must be >= 2"):
        check_int(1, "n", minimum=2)
    with pytest.raises(ValueError, match="n must be <= 9"):
        check_int(10, "n", maximum=9)


def test_check_positive():
    assert check_positive(2, "r") == 2.0
    assert check_positive(0.0, "r", strict=False) == 0.0
    assert check_positive(np.inf, "r", allow_inf=True) == np.inf
    with pytest.raises(ValueError, match="r must be > 0"):
        check_positive(0.0, "r")
    with pytest.raises(ValueError, match="r must be >= 0"):
        check_positive(-1.0, "r", strict=False)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="r must be finite"):
            check_positive(bad, "r")
    for bad in ("1", True, None, [1.0]):
        with pytest.raises(TypeError, match="r must be a real number"):
            check_positive(bad, "r")


def test_check_probability():
    assert check_probability(0.3, "p") == 0.3
    assert check_probability(0, "p", open_interval=False) == 0.0
    assert check_probability(1, "p", open_interval=False) == 1.0
    for bad in (0.0, 1.0, -0.5, 2.0, np.nan):
        with pytest.raises(ValueError, match=r"p must lie in \(0, 1\)"):
            check_probability(bad, "p")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_probability(1.5, "p", open_interval=False)
    for bad in ("0.5", True, None):
        with pytest.raises(TypeError, match="p must be a real number"):
            check_probability(bad, "p")


def test_check_orthonormal():
    Q, _ = np.linalg.qr(np.random.default_rng(1000).standard_normal((6, 3)))
    np.testing.assert_array_equal(check_orthonormal(Q), Q)
    assert check_orthonormal(np.eye(4), dim=4).shape == (4, 4)
    with pytest.raises(ValueError, match="orthonormal columns"):
        check_orthonormal(2 * Q)
    with pytest.raises(ValueError, match="orthonormal columns"):
        check_orthonormal(Q + 1e-4)
    with pytest.raises(ValueError, match="k <= D"):
        check_orthonormal(np.ones((2, 3)))
    with pytest.raises(ValueError, match="axes must have 5 rows"):
        check_orthonormal(Q, dim=5)
    with pytest.raises(ValueError, match="axes must be 2-D"):
        check_orthonormal(np.ones(3))


def test_check_rng():
    g = np.random.default_rng(0)
    assert check_rng(g) is g
    assert check_rng(5).standard_normal() == np.random.default_rng(5).standard_normal()
    assert check_rng(np.int64(5)).standard_normal() == np.random.default_rng(5).standard_normal()
    ss = np.random.SeedSequence(7)
    assert check_rng(ss).standard_normal() == np.random.default_rng(np.random.SeedSequence(7)).standard_normal()
    assert isinstance(check_rng(None), np.random.Generator)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        check_rng(-1)
    for bad in (1.5, "1", True, np.random.RandomState(0)):
        with pytest.raises(TypeError, match="seed must be None, an int"):
            check_rng(bad)


def test_as_int_array():
    from geometry.validation import as_int_array

    assert as_int_array([2.0, 8], "ds").tolist() == [2, 8]
    assert as_int_array(np.array([3], dtype=np.uint8), "ds").dtype == np.int64
    for bad, err, match in [([np.nan], ValueError, "finite"), ([2.5], ValueError, "whole"),
                            ([1 + 2j], TypeError, "integers"), (["a"], TypeError, "integers"),
                            ([True], TypeError, "integers"), (None, TypeError, "integers"),
                            ([2.0 ** 60], ValueError, "2\\*\\*53"), ([], ValueError, "empty"),
                            ([[1], [1, 2]], TypeError, "integers")]:
        with pytest.raises(err, match=f"ds must.*{match}|ds.*{match}"):
            as_int_array(bad, "ds")
    with pytest.raises(ValueError, match="ds must be >= 1"):
        as_int_array([0, 3], "ds", minimum=1)


def test_check_int_refuses_inexact_and_huge_values():
    assert check_int(4.0, "n") == 4
    with pytest.raises(ValueError, match="n must be an integer, got 1e\\+300"):
        check_int(1e300, "n")
    with pytest.raises(ValueError, match="64-bit"):
        check_int(2 ** 70, "n")
    with pytest.raises(TypeError, match="n must be an integer"):
        check_int(float("nan"), "n")


def test_check_choice_bool_and_memory():
    from geometry.validation import check_bool, check_choice, check_memory

    assert check_choice("a", "method", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="method must be one of 'a', 'b', got 'c'"):
        check_choice("c", "method", ("a", "b"))
    for bad in (np.zeros(3), [1], {}, 3):  # unhashable or of another type: a clear TypeError
        with pytest.raises(TypeError, match="method must be one of"):
            check_choice(bad, "method", {"a": 1, "b": 2})
    assert check_bool(np.bool_(True), "flag") is True
    with pytest.raises(TypeError, match="flag must be True or False"):
        check_bool(np.zeros(3), "flag")
    assert check_memory(1000, "n") == 1000
    with pytest.raises(ValueError, match=r"n_samples asks for about 7\.3 TiB of memory .* use a smaller n_samples"):
        check_memory(8 * 10 ** 12, "n_samples")
    with pytest.raises(ValueError, match="n asks for"):
        check_memory(10 ** 40, "n")  # beyond int64 too
