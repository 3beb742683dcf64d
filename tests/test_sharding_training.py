"""Training sweeps sharded over several devices: one device's numbers.

The two-device run is a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
(the flag must be set before JAX starts). A sequential ``train_sweep`` on one device calls the
compiled run once per run; on two it runs two at a time, one per device (``shard_map`` +
``lax.map``), the last group padded. ``train_full_batch`` runs its keys one after another on one
device and splits them over two. Every run comes from its own inputs and each device runs the
one-run program, so the results must be identical to the bit.
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
import jax
from kernelnorm import BatchNorm
from kernelnorm.data import load_digits, normalise_rows
from kernelnorm.montecarlo import seed_keys
from kernelnorm.nn import build_network
from kernelnorm.train import DenseNetwork, images, train_full_batch, train_sweep

x, y, x_test, y_test = images(load_digits())
network = build_network("fcnn", "bn", input_shape=(8, 8, 1), depth=2, width=16)
runs = [{"lr": 0.05, "seed": 0}, {"lr": 0.1, "seed": 1}, {"lr": 0.02, "seed": 2}]  # 3 on 2 devices
finished = []
records = train_sweep(network, (x[:96], y[:96], x_test[:32], y_test[:32]), runs, epochs=2,
                      batch_size=32, schedule="msr-resnet110", keep_params=True,
                      progress=lambda record: finished.append(record["seed"]))
many = [{"lr": 0.01 * (k + 1), "seed": k} for k in range(11)]  # 6 vmapped groups of 2, padded
batched = train_sweep(network, (x[:96], y[:96], x_test[:32], y_test[:32]), many, epochs=1,
                      batch_size=32, batched=True)
digits = load_digits()
curves = train_full_batch(DenseNetwork(BatchNorm(), depth=3, width=16, outputs=10),
                          normalise_rows(digits.x[:24]), np.eye(10)[digits.y[:24]],
                          keys=seed_keys(3, 3), lr=0.3, steps=15)
print(json.dumps({"devices": jax.device_count(), "finished": finished,
                  "seconds": [r["seconds"] for r in records],
                  "sweep": [{"losses": r["losses"].tolist(), "test_loss": r["test_loss"],
                             "test_accuracy": r["test_accuracy"],
                             "params": [np.asarray(a).tolist() for a in jax.tree_util.tree_leaves(r["params"])]}
                            for r in records],
                  "batched": [[r["test_loss"]] + r["losses"].tolist() for r in batched],
                  "curves": curves.tolist()}))
"""


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_training_sweeps_sharded_over_two_devices_reproduce_one_device():
    one, two = _run(1), _run(2)
    assert (one["devices"], two["devices"]) == (1, 2)
    assert one["finished"] == two["finished"] == [0, 1, 2]  # progress once per run, in order
    assert all(s > 0 for s in one["seconds"] + two["seconds"])
    for k, (a, b) in enumerate(zip(one["sweep"], two["sweep"])):
        for name in ("losses", "test_loss", "test_accuracy"):
            np.testing.assert_array_equal(np.asarray(b[name]), np.asarray(a[name]), err_msg=f"run {k} {name}")
        for leaf, (p, q) in enumerate(zip(a["params"], b["params"])):
            np.testing.assert_array_equal(np.asarray(q), np.asarray(p), err_msg=f"run {k} params leaf {leaf}")
    np.testing.assert_array_equal(np.asarray(two["curves"]), np.asarray(one["curves"]))
    assert np.all(np.isfinite(one["curves"])) and np.asarray(one["curves"]).shape == (3, 16)
    # batched sweeps: 11 runs in vmapped groups of 2, spread over the devices
    np.testing.assert_array_equal(np.asarray(two["batched"]), np.asarray(one["batched"]))
    assert np.all(np.isfinite(one["batched"])) and len(one["batched"]) == 11
