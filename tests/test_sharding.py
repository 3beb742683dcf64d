"""Monte-Carlo seeds and power realisations sharded over several devices: one device's numbers.

The two-device run is a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
(the flag must be set before JAX starts). Every seed's network is computed from its own key, so
the split changes only which device computes it: the results must be identical to the bit.
"""

import json
import os
import subprocess
import sys

import numpy as np

CODE = """
import json, sys
import numpy as np
import jax
from kernelnorm import WeightMean, with_stable_init
from kernelnorm.montecarlo import anchored_pairs, sample_statistics

inputs = anchored_pairs([0.3, -0.2, 0.9], 8, seed=2)
stats = sample_statistics(with_stable_init(WeightMean(sigma_b2=0.1)), inputs.x, inputs.pairs,
                          seed=7, seeds=5, width=16, depth=3, chunk=3)
from kernelnorm.power import make_inputs, power_profile
profile = power_profile("ln", depth=3, width=8, realisations=3, inputs=make_inputs("gaussian", 4, 8, seed=1),
                        seed=5, dtype="float64")
print(json.dumps({"devices": jax.device_count(),
                  "stats": {k: np.asarray(v).tolist() for k, v in stats._asdict().items()},
                  "power": {k: np.asarray(getattr(profile, k)).tolist()
                            for k in ("shares", "power", "imbalance", "linearity")}}))
"""


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_seeds_and_realisations_sharded_over_two_devices_reproduce_one_device():
    one, two = _run(1), _run(2)
    assert (one["devices"], two["devices"]) == (1, 2)
    for part in ("stats", "power"):  # Monte-Carlo seeds; power realisations (3 on 2 devices)
        for name, values in one[part].items():
            np.testing.assert_array_equal(np.asarray(two[part][name]), np.asarray(values),
                                          err_msg=f"{part}.{name}")
