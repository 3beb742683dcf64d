"""The conv kernel engine (kernelnorm.conv): exact layer maps against brute-force expectations
over the weights, the dense limit, the registry's refusals, and the stated cost. float64."""

import math

import numpy as np
import pytest

from kernelnorm import KernelnormInputError, Plain, WeightMean, SCHEMES
from kernelnorm.conv import conv_kernel_gap, conv_net, conv_scheme, kernel_scheme_names, random_net
from kernelnorm.data import load_digits, normalise_rows
from kernelnorm.ntk import ntk_gram

DIGITS = normalise_rows(load_digits().x[:10])


@pytest.mark.parametrize("readout", ["flatten", "gap"])
@pytest.mark.parametrize("block", [Plain(), Plain(sigma_w2=1.7, sigma_b2=0.1), WeightMean(sigma_w2=2.9)],
                         ids=["plain", "plain-bias", "weight-mean"])
def test_one_by_one_convs_on_single_pixels_are_the_dense_network(block, readout):
    """A depth-L net of 1x1 convs on 1x1 images with a readout unit is the dense depth-(L+1)
    network of the same block: NNGP and NTK agree to rounding with kernelnorm.ntk."""
    depth = 4
    net = conv_net(block.name, depth, kernel_size=1, readout=readout, sigma_w2=block.sigma_w2,
                   sigma_b2=block.sigma_b2)
    ours = net.kernels(DIGITS.reshape(len(DIGITS), 1, 1, -1))
    dense = ntk_gram(block, DIGITS, depth + 1, method="exact")
    np.testing.assert_allclose(ours.nngp, dense.nngp, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(ours.ntk, dense.ntk, rtol=1e-13, atol=1e-14)


def _patches(field, size, padding):
    """``(H, W, n) -> (H, W, size*size*n)``: the receptive field of every position."""
    half = size // 2
    if padding == "circular":
        padded = np.pad(field, ((half, half), (half, half), (0, 0)), mode="wrap")
    else:
        padded = np.pad(field, ((half, half), (half, half), (0, 0)))
    h, w, _ = field.shape
    return np.stack([np.stack([padded[i:i + size, j:j + size].ravel() for j in range(w)])
                     for i in range(h)])


def _empirical(x, y):
    """Channel averages ``(1/n) sum_c x_c(a) y_c(a')`` as a block ``(1, H, W, H, W)`` and the
    channel means of both fields."""
    block = np.einsum("ijc,klc->ijkl", x, y)[None] / x.shape[-1]
    return block, x.mean(-1)[None], y.mean(-1)[None]


@pytest.mark.parametrize("padding", ["circular", "same"])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_weight_mean_map_is_the_exact_expectation_over_the_weights(size, padding):
    """Weight mean centres every filter over in-channels x kh x kw. Given layer inputs x, x'
    (n channels), E_W[h(a) h'(a')] = s^2 p(a)^T (I - 11^T / (n k^2)) p'(a') with the patches p,
    which the engine writes as gain [mean_o K(a + o, a' + o) - m(a) m'(a')] with the patch means
    m of the channel means (the window couples positions; exact for every filter size and both
    paddings, also at finite n)."""
    import jax

    from kernelnorm.conv import _spatial as sp

    rng = np.random.default_rng(size)
    n, gain = 3, 2.7
    x, y = rng.standard_normal((2, 5, 6, n)) + rng.uniform(0, 2, (2, 5, 6, 1))
    px, py = _patches(x, size, padding), _patches(y, size, padding)
    fan_in = n * size * size
    covariance = np.eye(fan_in) - 1.0 / fan_in
    exact = gain / fan_in * np.einsum("ija,ab,klb->ijkl", px, covariance, py)
    with jax.enable_x64(True):
        block, mx, my = _empirical(x, y)
        ours = gain * (sp.diagonal_window_mean(block, size, padding, "full")
                       - sp.outer(sp.patch_mean(mx, size, padding), sp.patch_mean(my, size, padding), "full"))
    np.testing.assert_allclose(np.asarray(ours)[0], exact, rtol=1e-12, atol=1e-13)


def test_zero_mean_filters_have_the_stated_covariance():
    """CZMI filters (U(-1, 1) draws, every (in, out) slice centred in space, unit norm; Mean
    Shift Rejection §3.2) have E[V_ic V_jd] = delta_cd (delta_ij - 1/M) / (n (M - 1)), M = k^2:
    exchangeability of the in-channels and of the positions, trace 1 (Monte-Carlo, 5 SE)."""
    import jax

    from kernelnorm import zero_mean_filters

    n, size, draws = 2, 3, 40_000
    with jax.enable_x64(True):
        raw = jax.random.uniform(jax.random.PRNGKey(0), (size, size, n, draws), minval=-1, maxval=1)
        v = np.asarray(zero_mean_filters(raw)).reshape(size * size, n, draws)
    m = size * size
    outer = np.einsum("icd,jed->dicje", v, v)
    mean, se = outer.mean(0), outer.std(0) / math.sqrt(draws)
    expected = np.einsum("ij,ce->icje", np.eye(m) - 1.0 / m, np.eye(n)) / (n * (m - 1))
    assert np.all(np.abs(mean - expected) <= 5 * se + 1e-12)


@pytest.mark.parametrize("padding", ["circular", "same"])
def test_czm_map_is_the_exact_expectation_over_zero_mean_filters(padding):
    """With that covariance, E_V[h(a) h'(a')] = e^(2g) M/(M - 1) [mean_o K(a + o, a' + o) -
    mean_{o, o'} K(a + o, a' + o')]: the engine's zero_mean_window, against the brute-force
    quadratic form over the patches."""
    import jax

    from kernelnorm.conv import _spatial as sp

    rng = np.random.default_rng(7)
    n, size, gain = 4, 3, 0.64
    x, y = rng.standard_normal((2, 6, 5, n)) + rng.uniform(0, 2, (2, 6, 5, 1))
    px, py = _patches(x, size, padding), _patches(y, size, padding)
    m = size * size
    covariance = np.einsum("ij,ce->icje", np.eye(m) - 1.0 / m, np.eye(n)).reshape(m * n, m * n)
    exact = gain / (n * (m - 1)) * np.einsum("ija,ab,klb->ijkl", px, covariance, py)
    with jax.enable_x64(True):
        block, _, _ = _empirical(x, y)
        ours = gain * sp.zero_mean_window(block, size, padding)
    np.testing.assert_allclose(np.asarray(ours)[0], exact, rtol=1e-12, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["weight-mean", "czmig", "ln+pn"])
def test_kernels_are_symmetric_positive_semidefinite(name):
    """Definition 1's random affine, GAP readout: symmetric PSD Gram matrices (the smallest
    eigenvalue >= -1e-12 of the largest) for the schemes whose maps subtract means."""
    x = DIGITS[:6].reshape(6, 8, 8, 1)
    net = conv_net(name, 2, padding="circular", readout="gap", gamma_std=0.2, beta_std=0.2)
    k = net.kernels(x)
    for gram in (k.nngp, k.ntk):
        np.testing.assert_allclose(gram, gram.T, rtol=0, atol=0)
        values = np.linalg.eigvalsh(gram)
        assert values[0] >= -1e-12 * values[-1], values[0]


@pytest.mark.parametrize("name, reason", [
    ("bn", "batch statistics couple every input"), ("mean-bn", "batch statistics"),
    ("in", "instance statistics"), ("gn", "tends to LN"), ("gn+pn", r"use --norm ln\+pn"),
    ("mimicnorm", "last BN and residual scalar"), ("last-bn", "last BN")])
def test_schemes_without_a_conv_kernel_are_refused_in_one_line(name, reason):
    assert name not in kernel_scheme_names()
    with pytest.raises(KernelnormInputError, match=reason) as err:
        conv_scheme(name)
    assert "\n" not in str(err.value)
    assert conv_kernel_gap(SCHEMES[name]) is not None
    with pytest.raises(KernelnormInputError, match="no infinite-width conv kernel"):
        random_net(name, 3)


def test_layouts_refuse_max_pooling_and_even_filters():
    with pytest.raises(KernelnormInputError, match="max pooling has no closed-form"):
        conv_net("plain", layout=(3, "M", 3))
    with pytest.raises(KernelnormInputError, match="must be odd"):
        conv_net("plain", 2, kernel_size=4)
    with pytest.raises(KernelnormInputError, match="--readout"):
        conv_net("plain", 2, readout="max")


def test_cost_is_stated_and_a_run_that_does_not_fit_is_refused():
    """The estimate counts pairs, block entries and a balanced chunk; a memory limit below the
    estimate refuses the run with the estimate in the message (one line)."""
    net = conv_net("plain", 10, padding="same", readout="gap")
    estimate = net.estimate(32, (8, 8))
    assert estimate.pairs == 528
    assert estimate.entry_updates == 528 * 10 * 64**2
    assert 528 % estimate.chunk == 0 or -(-528 // estimate.chunk) * estimate.chunk - 528 < -(-528 // estimate.chunk)
    with pytest.raises(KernelnormInputError, match="--max-memory.*MiB.*entry-updates") as err:
        net.kernels(DIGITS[:4].reshape(4, 8, 8, 1), max_memory=1e5)
    assert "\n" not in str(err.value)


def test_flatten_readout_without_window_coupling_runs_on_the_diagonal_only():
    """Plain and weight-mean nets with a flatten readout need only same-position entries
    (diag mode); CZM filters and pooling couple positions (full mode). Both modes agree."""
    x = DIGITS[:5].reshape(5, 8, 8, 1)
    net = conv_net("weight-mean", 3, readout="flatten", padding="same")
    assert net.mode() == "diag" and net.mode(full=True) == "full"
    assert conv_net("czmig", 3, readout="flatten").mode() == "full"
    assert conv_net("plain", layout=(3, "A", 3), readout="flatten").mode() == "full"
    from kernelnorm.conv import _engine

    import jax

    with jax.enable_x64(True):
        diag = _engine.output_kernels(net, x, ntk=True, mode="diag", chunk=4)
        full = _engine.output_kernels(net, x, ntk=True, mode="full", chunk=4)
    np.testing.assert_allclose(diag[0], full[0], rtol=1e-13)
    np.testing.assert_allclose(diag[1], full[1], rtol=1e-13)
