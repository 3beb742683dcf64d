"""neural-tangents adapter: weight mean as stax layers, and the oracle runner.

The stax builders (:func:`Centred`, :func:`fc_network`, :func:`conv_network`) need
neural-tangents (pinned env ``.venv-nt``: neural-tangents 0.6.5, jax 0.4.38); they import it
lazily, so ``import kernelnorm.nt`` works in the main environment too, where
:func:`run_oracle` calls the pinned interpreter as a subprocess.
"""

from kernelnorm.nt._layers import (
    Centred,
    activation_mean_fn,
    conv_network,
    fc_network,
    nt_activation,
)
from kernelnorm.nt._subprocess import OracleUnavailable, diagonal_tolerance, oracle_python, run_oracle

__all__ = [
    "Centred", "OracleUnavailable", "activation_mean_fn", "conv_network", "diagonal_tolerance",
    "fc_network",
    "nt_activation", "oracle_python", "run_oracle",
]
