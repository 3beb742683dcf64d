"""Matrix-free NTK products sharded over several devices: one device's numbers, to the bit.

A pass of :mod:`kernelnorm.ntk._blockwise` cuts the row blocks into ``SHARDS = 8`` shards, each
accumulated on its own and summed in shard order on the host; ``D`` devices (a divisor of 8) run
``8 / D`` shards each. The additions are the same whatever ``D``, so the product, and the
Lanczos eigenvalues built on it, must be identical on 1, 2 and 3 devices (3 uses 2: the largest
divisor of 8 it has). Each run is a subprocess: ``XLA_FLAGS`` must be set before JAX starts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

CODE = """
import json
import numpy as np
from kernelnorm import Plain
from kernelnorm.ntk import BlockwiseNTK, lanczos_extremes

rng = np.random.default_rng(4)
x = rng.standard_normal((203, 12)) * rng.uniform(0.5, 2.0, (203, 1))
operator = BlockwiseNTK(Plain(sigma_w2=2.0, sigma_b2=0.1), x, 4, block=5)
product = operator.matmat(rng.standard_normal((203, 3)))
spectrum = lanczos_extremes(operator, tol=1e-9, vectors=8)
print(json.dumps({"devices": operator.devices, "product": product.tolist(),
                  "bound": operator.error_bound(),
                  "eigenvalues": [spectrum.lambda_min, spectrum.lambda_max]}))
"""


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_blockwise_products_on_two_and_three_devices_reproduce_one_device():
    one, two, three = _run(1), _run(2), _run(3)
    assert (one["devices"], two["devices"], three["devices"]) == (1, 2, 2)
    for other in (two, three):
        for name in ("product", "bound", "eigenvalues"):
            np.testing.assert_array_equal(np.asarray(other[name]), np.asarray(one[name]),
                                          err_msg=name)
