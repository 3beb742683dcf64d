"""Finite ops shared by every path: the weight-mean identity and standardisation (docs/theory.md §2, §6)."""

import numpy as np
import pytest

from kernelnorm import centre_units, standardise, weight_mean
from kernelnorm._ops import spatial_mean, zero_mean_filters, zero_mean_gradient


@pytest.mark.parametrize("n_in,n_out", [(2, 3), (17, 5), (256, 64)])
def test_weight_mean_identity_on_random_matrices(n_in, n_out):
    """W_bar phi = W (phi - mean_j(phi_j) 1), i.e. x @ weight_mean(W) == centre_units(x) @ W."""
    rng = np.random.default_rng(n_in)
    w = rng.standard_normal((n_in, n_out))
    x = np.abs(rng.standard_normal((9, n_in)))  # non-negative like ReLU outputs
    np.testing.assert_allclose(x @ weight_mean(w), centre_units(x) @ w, atol=1e-12)
    np.testing.assert_allclose(weight_mean(w).sum(axis=0), 0.0, atol=1e-12)


def test_weight_mean_identity_in_jax():
    import jax

    w = jax.random.normal(jax.random.key(0), (32, 8))
    x = jax.nn.relu(jax.random.normal(jax.random.key(1), (5, 32)))
    np.testing.assert_allclose(x @ weight_mean(w), centre_units(x) @ w, atol=1e-12)


def test_conv_weight_mean_is_over_in_channels_and_space():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 4, 6))
    np.testing.assert_allclose(weight_mean(w).mean(axis=(0, 1, 2)), 0.0, atol=1e-15)


def test_standardise_gives_zero_mean_unit_variance():
    rng = np.random.default_rng(1)
    h = 3 + 2 * rng.standard_normal((50, 7))
    out = standardise(h, axis=0)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-13)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-13)


def test_zero_mean_filters_have_zero_spatial_means_and_unit_norm():
    rng = np.random.default_rng(2)
    filters = zero_mean_filters(rng.uniform(-1, 1, (3, 3, 5, 4)))
    np.testing.assert_allclose(spatial_mean(filters), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.sqrt((filters**2).sum(axis=(0, 1, 2))), 1.0, rtol=1e-14)


def test_zero_mean_filter_ignores_per_channel_constant_with_circular_padding():
    """docs/theory.md §2 exact property: invariance to adding a per-channel constant to the input."""
    rng = np.random.default_rng(3)
    filters = zero_mean_filters(rng.uniform(-1, 1, (3, 3, 2, 3)))
    x = rng.standard_normal((8, 8, 2))
    shifted = x + np.array([5.0, -2.0])

    def conv(image):
        out = np.zeros((8, 8, 3))
        for di in range(3):
            for dj in range(3):
                rolled = np.roll(image, (1 - di, 1 - dj), axis=(0, 1))
                out += rolled @ filters[di, dj]
        return out

    np.testing.assert_allclose(conv(shifted), conv(x), atol=1e-12)


def test_zero_mean_gradient_with_factor_one_removes_spatial_mean():
    rng = np.random.default_rng(4)
    grad = rng.standard_normal((3, 3, 2, 2))
    np.testing.assert_allclose(spatial_mean(zero_mean_gradient(grad, 1.0)), 0.0, atol=1e-15)
    half = zero_mean_gradient(grad, 0.85)
    np.testing.assert_allclose(spatial_mean(half), 0.15 * spatial_mean(grad), atol=1e-15)


def test_atomic_write_keeps_old_content_on_failure_and_uses_umask(tmp_path):
    import os

    from kernelnorm.io import atomic_path, write_text

    target = tmp_path / "out.txt"
    write_text(str(target), "old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as handle:
                handle.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert (target.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_json_output_is_strict_json_for_numpy_values_and_infinities():
    import json
    import math

    from kernelnorm.io import dumps

    text = dumps({"xi": math.inf, "rows": [np.float64(-np.inf), np.arange(2)], "nan": np.float32("nan")})
    assert json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON {name}")) == {
        "xi": "inf", "rows": ["-inf", [0, 1]], "nan": "nan"}


@pytest.mark.parametrize("kind,axes", [("batch", (0, 1, 2)), ("layer", (1, 2, 3)), ("instance", (1, 2))])
def test_normalise_channels_standardises_over_the_stated_axes(kind, axes):
    from kernelnorm._ops import normalise_channels

    rng = np.random.default_rng(5)
    out = normalise_channels(2 + 3 * rng.standard_normal((4, 5, 5, 6)), kind)
    np.testing.assert_allclose(out.mean(axis=axes), 0.0, atol=1e-13)
    np.testing.assert_allclose(out.var(axis=axes), 1.0, rtol=1e-12)


def test_group_norm_standardises_each_group_of_channels():
    from kernelnorm._ops import normalise_channels

    rng = np.random.default_rng(6)
    out = normalise_channels(rng.standard_normal((3, 4, 4, 8)) + np.arange(8), "group", groups=2)
    grouped = out.reshape(3, 4, 4, 2, 4)
    np.testing.assert_allclose(grouped.mean(axis=(1, 2, 4)), 0.0, atol=1e-13)
    np.testing.assert_allclose(grouped.var(axis=(1, 2, 4)), 1.0, rtol=1e-12)
