"""Monte-Carlo checks of the infinite-width theory on finite random networks (docs/theory.md §2, §4, §8).

Networks are built from the analytic core's scheme objects (``scheme.init``/``scheme.apply``),
batched with ``jax.vmap`` over seeds and ``lax.scan`` over depth, from explicit keys. Estimators
carry confidence intervals from repeated seeds; rates are fitted on log-log scales.
"""

from kernelnorm.montecarlo._estimators import (
    Estimate,
    Slope,
    conditional_correlation_map,
    fit_transition_map,
    log_rms_error,
    loglog_slope,
    mean_ci,
    predicted_statistics,
)
from kernelnorm.montecarlo._gradients import (
    GradientStatistics,
    empirical_ntk,
    gradient_statistics,
    sample_gradient_statistics,
)
from kernelnorm.montecarlo._inputs import PairedInputs, anchored_pairs, data_pairs, independent_pairs
from kernelnorm.montecarlo._lemma1 import Lemma1Check, lemma1_check
from kernelnorm.montecarlo._minibatch import (
    MiniBatchMeasurement,
    exchangeable_inputs,
    gradient_growth_samples,
    heavy_tail_tolerance,
    measure_gradient_growth,
    tail_constants,
)
from kernelnorm.montecarlo._spread import activation_bias, activation_noise, correlation_spread
from kernelnorm.montecarlo._network import (
    ENGINES,
    LayerStatistics,
    check_sampling,
    first_layer,
    layer_activations,
    network_statistics,
    reduce_layer_input,
    sample_statistics,
    seed_keys,
)

__all__ = [
    "ENGINES", "Estimate", "GradientStatistics", "LayerStatistics", "Lemma1Check", "PairedInputs",
    "Slope", "activation_bias", "activation_noise", "anchored_pairs", "check_sampling",
    "conditional_correlation_map", "correlation_spread", "data_pairs", "empirical_ntk",
    "first_layer", "fit_transition_map", "gradient_statistics", "independent_pairs",
    "layer_activations",
    "lemma1_check", "log_rms_error", "loglog_slope", "mean_ci", "network_statistics",
    "predicted_statistics", "reduce_layer_input", "sample_gradient_statistics",
    "sample_statistics", "seed_keys",
    # mini-batch BN (kernelnorm.montecarlo._minibatch)
    "MiniBatchMeasurement", "exchangeable_inputs", "gradient_growth_samples",
    "heavy_tail_tolerance", "measure_gradient_growth", "tail_constants",
]
