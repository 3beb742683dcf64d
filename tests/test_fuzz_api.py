"""The public Python API refuses wrong types, shapes, ranges and indices with a ``ValueError``
or ``TypeError`` that names the parameter (never an ``AttributeError`` from deep inside, a
silently clipped index, or a NaN answer). One row per call; add rows for new entry points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernelnorm as kn
from kernelnorm import data, montecarlo, ntk, power
from kernelnorm import io as knio

X = np.eye(10, 12) * np.sqrt(12)  # ten orthogonal unit-length inputs


def _pairs(pairs):
    return lambda: montecarlo.sample_statistics(kn.Plain(), X, pairs, seed=0, seeds=2, width=8, depth=2)


#: (call, exception type, text the message must contain)
CASES = {
    # the examples
    "chi_1 of an activation name": (lambda: kn.chi_1("relu"), TypeError, "scheme"),
    "ntk_gram of a scheme name": (lambda: ntk.ntk_gram("plain", X, 3), TypeError, "scheme"),
    "phase of NaN": (lambda: kn.phase(float("nan")), ValueError, "chi"),
    "pair index past the inputs": (_pairs([(0, 99)]), ValueError, "pairs"),
    "test fraction above 1": (lambda: data.load_digits(test_fraction=2), ValueError, "test_fraction"),
    # types
    "phase of a string": (lambda: kn.phase("chaotic"), TypeError, "chi"),
    "chi_1 of None": (lambda: kn.chi_1(None), TypeError, "scheme"),
    "fixed points of a scheme name": (lambda: kn.fixed_points("bn"), TypeError, "scheme"),
    "stable init of an int": (lambda: kn.stable_init(3), TypeError, "scheme"),
    "critical line of a string": (lambda: kn.critical_line("plain"), TypeError, "scheme"),
    "correlation map of a string": (lambda: kn.correlation_map("plain", 0.5), TypeError, "scheme"),
    "dense with a string variance": (lambda: kn.dense("plain", sigma_w2="2"), TypeError, "--sigma-w2"),
    "depth as a string": (lambda: ntk.ntk_gram(kn.Plain(), X, "3"), TypeError, "--depth"),
    "float pair indices": (_pairs(np.array([[0.0, 1.0]])), TypeError, "pairs"),
    "seed as a float": (lambda: montecarlo.seed_keys(1.5, 2), ValueError, "--seed"),
    # ranges
    "negative pair index": (_pairs([(-1, 2)]), ValueError, "pairs"),
    "pairs of the wrong shape": (_pairs([0, 1, 2]), ValueError, "pairs"),
    "depth 0": (lambda: ntk.ntk_gram(kn.Plain(), X, 0), ValueError, "--depth"),
    "width 1": (lambda: montecarlo.sample_statistics(kn.Plain(), X, [(0, 1)], seed=0, seeds=2,
                                                     width=1, depth=2), ValueError, "--width"),
    "negative seed": (lambda: montecarlo.seed_keys(-1, 2), ValueError, "--seed"),
    "seed above 2**32": (lambda: data.load_digits(seed=2**32), ValueError, "--seed"),
    "no seeds": (lambda: montecarlo.seed_keys(0, 0), ValueError, "--seeds"),
    "correlation above 1": (lambda: kn.correlation_map(kn.Plain(), 1.5), ValueError, "--rho"),
    "negative bias variance": (lambda: kn.Plain(sigma_b2=-1.0), ValueError, "--sigma-b2"),
    "infinite weight variance": (lambda: kn.Plain(sigma_w2=math.inf), ValueError, "--sigma-w2"),
    "confidence level 1.5": (lambda: montecarlo.mean_ci([1.0, 2.0], level=1.5), ValueError, "--level"),
    "negative test fraction": (lambda: data.load_digits(test_fraction=-0.1), ValueError, "test_fraction"),
    "sphere of no points": (lambda: data.sphere_points(0), ValueError, "--data"),
    "equicorrelation 1": (lambda: data.sphere_points(3, correlation=1.0), ValueError, "--correlation"),
    "too few input dimensions": (lambda: montecarlo.independent_pairs([0.5, 0.1], 3), ValueError, "--input-dim"),
    "Lemma 1 at rho = 0": (lambda: montecarlo.lemma1_check(4, 8, 0.0, draws=10), ValueError, "--rho"),
    "Lemma 1 with one input unit": (lambda: montecarlo.lemma1_check(1, 8, 0.5, draws=10), ValueError, "--n-in"),
    "unknown power input source": (lambda: power.make_inputs("bogus", 4, 8), ValueError, "--inputs-from"),
    "power net of depth 0": (lambda: power.power_profile("ln", depth=0, width=4, realisations=1,
                                                         inputs=np.ones((2, 8, 8, 1))), ValueError, "--depth"),
    "unknown scheme": (lambda: kn.dense("bogus"), ValueError, "--norm"),
    "unknown activation": (lambda: kn.get_activation("bogus"), ValueError, "--activation"),
    # shapes and values of data
    "1-D inputs": (lambda: ntk.ntk_gram(kn.Plain(), np.ones(5), 2), ValueError, "--data"),
    "complex inputs": (lambda: data.check_data_matrix(X * 1j), ValueError, "--data"),
    "NaN inputs": (lambda: ntk.ntk_gram(kn.Plain(), np.full((3, 2), np.nan), 2), ValueError, "--data"),
    "zero rows": (lambda: ntk.ntk_gram(kn.Plain(), np.zeros((3, 2)), 2), ValueError, "--data"),
    "inputs near 1e300": (lambda: ntk.ntk_gram(kn.Plain(), X * 1e300, 2), ValueError, "--data"),
    # resources and ranges implied by the request
    "NTK past the float64 range": (lambda: ntk.ntk_gram(kn.BatchNorm(), X, 5000), ValueError, "--depth"),
    "sampling that cannot fit": (lambda: montecarlo.sample_statistics(
        kn.Plain(), X, [(0, 1)], seed=0, seeds=2, width=2 * 10**9, depth=2), ValueError, "--width"),
    "output onto a device": (lambda: knio.write_text("/dev/null", "x"), ValueError, "/dev/null"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_api_refuses_bad_arguments_naming_the_parameter(name):
    call, kind, text = CASES[name]
    with pytest.raises(kind) as raised:
        call()
    assert isinstance(raised.value, kn.KernelnormInputError)  # also a ValueError
    message = str(raised.value)
    assert "\n" not in message and text in message, message


def test_labels_outside_the_network_classes_are_refused_not_reported_as_divergence():
    from kernelnorm.nn import build_network
    from kernelnorm.train import TrainConfig, train

    network = build_network("fcnn", "plain", input_shape=(4,), n_classes=3, depth=1, width=4)
    x = np.ones((8, 1, 4, 1), np.float32)
    labels = np.array([0, 1, 2, 5, 0, 1, 2, 0])
    with pytest.raises(ValueError, match="label 5 is outside 0..2"):
        train(network, (x, labels, x[:0], labels[:0]), TrainConfig(epochs=1, batch_size=4))
