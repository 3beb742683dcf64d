"""The fused exact path (kernelnorm.ntk._fused) against the general recursion it replaces.

Both evaluate the same closed forms (compensated determinant, angle complement), so values agree
to rounding: a few ulps per layer of the recursion, ``<= 1e-13`` relative at depth 20. Their
stated error bounds are the same first-order analysis written two ways (derivatives against
re-evaluation): they agree within a factor 3, and each covers the other's values.
"""

import numpy as np
import pytest

from kernelnorm import Plain, WeightMean, with_stable_init
from kernelnorm.ntk import exact_gram_kernels, input_gram, layer_kernels
from kernelnorm.ntk._fused import atan2_upper, fused_supported
from kernelnorm.ntk._recursion import input_gram_error

DEPTHS = [1, 2, 7, 20]
_rng = np.random.default_rng(3)
X = _rng.standard_normal((40, 6)) * _rng.uniform(0.3, 3.0, (40, 1))
X[1] = -X[0] * 1.7  # rho = -1 exactly at the input: the cancelling first step
X[2] = X[0] * (1 + 1e-9)  # rho = 1 to 1e-18: the angle's sqrt sensitivity

SCHEMES = {
    "plain-bias": Plain(sigma_w2=2.0, sigma_b2=0.1),
    "plain-critical": Plain(sigma_w2=2.0),
    "wm-width8-bias": with_stable_init(WeightMean(sigma_b2=0.3, width=8)),
}


def _general(scheme, x, depths):
    k0 = input_gram(x)
    diag = np.diag(k0)
    full = input_gram_error(x)
    error = (np.diag(full)[:, None], np.diag(full)[None, :], full)
    return {layer.depth: layer for layer in layer_kernels(
        scheme, diag[:, None], diag[None, :], k0, max(depths), track_error=True,
        input_error=error, same_input=np.eye(len(diag), dtype=bool)) if layer.depth in depths}


@pytest.mark.parametrize("name", SCHEMES)
def test_fused_path_matches_the_general_recursion(name):
    scheme = SCHEMES[name]
    assert fused_supported(scheme)
    fused = exact_gram_kernels(scheme, X, max(DEPTHS), depths=DEPTHS, track_error=True)
    general = _general(scheme, X, DEPTHS)
    for depth in DEPTHS:
        f, g = fused[depth], general[depth]
        for a, b, bound in ((f.nngp, g.nngp, g.nngp_error), (f.ntk, g.ntk, g.ntk_error)):
            # well-conditioned pairs: rounding only (the rho ~ 1 pair is ill-conditioned: the
            # bounds below cover it)
            conditioned = bound <= 1e-12 * np.max(np.abs(b))
            assert np.max(np.abs(a - b)[conditioned]) <= 1e-13 * np.max(np.abs(b))
            assert conditioned.mean() > 0.9
        for bound, reference, value, other in ((f.ntk_error, g.ntk_error, f.ntk, g.ntk),
                                               (f.nngp_error, g.nngp_error, f.nngp, g.nngp)):
            assert np.all(np.abs(value - other) <= bound + reference)
            assert np.max(bound) <= 3 * np.max(reference)
            assert np.max(reference) <= 3 * np.max(bound)


def test_other_blocks_keep_the_general_path():
    from kernelnorm import LayerNorm

    assert not fused_supported(Plain("erf"))
    assert not fused_supported(LayerNorm())


def test_vectorised_arctan2_is_within_two_ulps_of_libm():
    rng = np.random.default_rng(0)
    y = np.abs(rng.standard_normal(200_000)) * 10.0 ** rng.uniform(-9, 3, 200_000)
    x = rng.standard_normal(200_000) * 10.0 ** rng.uniform(-9, 3, 200_000)
    y = np.concatenate([y, [0.0, 0.0, 1.0, 1.0, 2.0, 1e-300]])
    x = np.concatenate([x, [1.0, -1.0, 0.0, 1.0, -2.0, -1.0]])
    ours, reference = atan2_upper(y, x), np.arctan2(y, x)
    assert np.all(np.abs(ours - reference) <= 2 * np.spacing(reference))
    assert atan2_upper(np.zeros(1), np.zeros(1))[0] == 0.0


def test_fused_path_is_float64_without_the_global_x64_flag():
    """A user's process need not enable ``jax_enable_x64``: the fused loop still runs in float64
    (in float32 it was 2e-6 off, 9 digits lost) and equals the general recursion to a few ulps."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import numpy as np
from kernelnorm import Plain
from kernelnorm.ntk import ntk_gram
from kernelnorm.ntk._recursion import input_gram, layer_kernels
rng = np.random.default_rng(0)
x = rng.standard_normal((80, 16)) * rng.uniform(0.5, 2.0, (80, 1))
scheme = Plain(sigma_w2=2.0, sigma_b2=0.1)
fused = ntk_gram(scheme, x, 20)
k0 = input_gram(x); d = np.diag(k0)
general = list(layer_kernels(scheme, d[:, None], d[None, :], k0, 20, same_input=np.eye(80, dtype=bool)))[-1]
print(fused.method, float(np.max(np.abs(fused.ntk - general.ntk) / np.abs(general.ntk))))
"""
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in __import__("os").environ.items() if k != "JAX_ENABLE_X64"}
    env.update(PYTHONPATH=str(root), JAX_ENABLE_X64="0")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300, check=True)
    method, gap = done.stdout.split()
    assert method == "exact" and float(gap) <= 64 * np.finfo(np.float64).eps
