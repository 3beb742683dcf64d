"""Reference kernels from neural-tangents, computed in the pinned ``.venv-nt`` interpreter.

Run as ``.venv-nt/bin/python -m kernelnorm.nt._oracle SPEC.json`` (with the repository on
``PYTHONPATH``, or kernelnorm installed there with ``pip install --no-deps -e .``). The spec
names an ``.npz`` of input arrays, an output ``.npz`` and a list of cases::

    {"arrays": "in.npz", "output": "out.npz", "cases": [
        {"name": "wm", "norm": "weight-mean", "activation": "relu", "sigma_w2": 2.93,
         "sigma_b2": 0.0, "width": null, "depth": 10, "x": "x", "architecture": "fc",
         "jit": false, "repeats": 0}]}

Convolutional cases add ``"architecture": "conv"``, ``"filter_shape"``, ``"readout"`` (``flatten``
or ``gap``), ``"padding"`` (``CIRCULAR`` or ``SAME``) and ``"layer_norm"`` (neural-tangents'
``LayerNorm`` over positions and channels after every conv).

For each case the output holds ``nngp__NAME`` and ``ntk__NAME``; ``OUTPUT.json`` holds the
timings (``first_call_s``: compile + run of the first call, ``steady_s``: the best of
``repeats`` further calls) and the process's peak resident memory before and after the case
(``peak_rss_before_kib``, ``peak_rss_after_kib``: ``ru_maxrss``, KiB on Linux). JAX runs in float64.
"""

from __future__ import annotations

import json
import math
import sys
import time


def _scheme(case):
    from kernelnorm._schemes import Plain, WeightMean

    kwargs = dict(sigma_w2=case["sigma_w2"], sigma_b2=case.get("sigma_b2", 0.0))
    if case["norm"] == "weight-mean":
        width = case.get("width")
        return WeightMean(case.get("activation", "relu"), width=math.inf if width is None else width,
                          **kwargs)
    return Plain(case.get("activation", "relu"), **kwargs)


def _kernel_fn(case):
    from kernelnorm.nt._layers import conv_network, fc_network

    scheme = _scheme(case)
    if case.get("architecture", "fc") == "fc":
        return fc_network(scheme, case["depth"])[2]
    return conv_network(scheme, case["depth"], filter_shape=tuple(case.get("filter_shape", (3, 3))),
                        readout=case.get("readout", "flatten"),
                        padding=case.get("padding", "CIRCULAR"),
                        layer_norm=case.get("layer_norm", False))[2]


def _run_case(case, x):
    import jax
    import numpy as np

    import resource

    kernel_fn = _kernel_fn(case)
    if case.get("jit", False):
        kernel_fn = jax.jit(kernel_fn, static_argnames="get")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    nngp, ntk = kernel_fn(x, None, ("nngp", "ntk"))
    ntk.block_until_ready()
    first = time.perf_counter() - start
    steady = []
    for _ in range(int(case.get("repeats", 0))):
        start = time.perf_counter()
        kernel_fn(x, None, ("nngp", "ntk"))[1].block_until_ready()
        steady.append(time.perf_counter() - start)
    timing = {"first_call_s": first, "steady_s": min(steady) if steady else None,
              "steady_all_s": steady, "peak_rss_before_kib": peak_before,
              "peak_rss_after_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    return np.asarray(nngp), np.asarray(ntk), timing


def main(argv=None) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    arrays = dict(np.load(spec["arrays"]))
    out, timings = {}, {}
    for case in spec["cases"]:
        x = jax.numpy.asarray(arrays[case.get("x", "x")], dtype=jax.numpy.float64)
        nngp, ntk, timing = _run_case(case, x)
        out[f"nngp__{case['name']}"], out[f"ntk__{case['name']}"] = nngp, ntk
        timings[case["name"]] = timing
    np.savez(spec["output"], **out)
    with open(spec["output"] + ".json", "w", encoding="utf-8") as handle:
        json.dump({"timings": timings, "jax": jax.__version__,
                   "neural_tangents": __import__("neural_tangents").__version__}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
