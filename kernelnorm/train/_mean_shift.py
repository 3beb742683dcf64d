"""Mean shift through a trained conv net: how much of each layer's input common mode its filters
pass on (Mean Shift Rejection §1, §3; measured with the power decomposition of Proxy Norm Eq. 5).

The mean shift of a layer input ``x`` ``(N, H, W, C)`` is its channel-mean component
``S_k = mean_{n, alpha} x_{n, alpha, k}`` (the ``mu_c^2`` term of the power decomposition,
:func:`kernelnorm.power.power_terms`). A convolution is linear, ``W * x = W * S + W * (x - S)``,
and away from the borders ``(W * S)_f = sum_k S_k sum_i W_{i,k,f}``: a filter whose every spatial
slice sums to zero (CZM) passes none of it. Per convolution we report

* ``input_share``: ``sum_k S_k^2 / sum_k E[x_k^2]``, the mean-shift share of the input;
* ``output_share``: the same share of the convolution's output (before bias and normaliser);
* ``transmitted``: ``||W * S||^2 / ||W * x||^2`` over all output positions (zero padding
  included), the share of the output power that is the input's mean shift passed on;
* ``transmitted_interior``: the same at positions whose receptive field lies inside the map,
  ``mean_f (sum_k S_k sum_i W_ikf)^2 / mean(W * x)^2`` -- exactly 0 for CZM filters;
* ``common_mode_gain``: ``sum_{k,f} (sum_i W_ikf)^2 / sum W^2``, the filters' gain for a
  spatially constant input relative to a random filter of the same norm (i.i.d. weights: 1 in
  expectation; CZM: 0; a ``1 x 1`` filter: 1).

The convolutions' inputs and effective kernels (``e^g V``, weight mean, ...) are read off the
network's own forward pass (its jaxpr), so nothing in :mod:`kernelnorm.nn` needs hooks.
"""

from __future__ import annotations

import numpy as np


def conv_inputs(network, params, state, x) -> list[dict]:
    """Every convolution of ``network.apply(params, state, x, train=False)`` in forward order:
    ``{"layer", "info", "input", "kernel", "output"}`` (numpy; ``output`` without bias)."""
    import jax
    from jax.extend.core import Literal

    closed = jax.make_jaxpr(lambda p, s, a: network.apply(p, s, a, train=False)[0])(params, state, x)
    jaxpr = closed.jaxpr
    env = {}

    def read(var):
        return var.val if isinstance(var, Literal) else env[var]

    for var, value in zip(jaxpr.constvars, closed.consts):
        env[var] = value
    for var, value in zip(jaxpr.invars, jax.tree_util.tree_leaves((params, state, x))):
        env[var] = value
    found = []
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        bound = eqn.primitive.get_bind_params(eqn.params)  # (subfuns, params) before jax 0.7
        subfuns, bind_params = bound if isinstance(bound, tuple) else ((), bound)
        outputs = eqn.primitive.bind(*subfuns, *values, **bind_params)
        outputs = outputs if eqn.primitive.multiple_results else [outputs]
        if eqn.primitive.name == "conv_general_dilated":
            found.append({"input": values[0], "kernel": values[1], "output": outputs[0],
                          "params": eqn.params})
        for var, value in zip(eqn.outvars, outputs):
            env[var] = value
    convs = [(name, info) for name, info in network.layers.items() if len(info.shape) == 4]
    if len(convs) != len(found):
        raise RuntimeError(f"found {len(found)} convolutions, the network has {len(convs)}")
    out = []
    for (name, info), conv in zip(convs, found):
        if tuple(conv["kernel"].shape) != info.shape:
            raise RuntimeError(f"convolution order mismatch at {name}")
        out.append({"layer": name, "info": info, "params": conv["params"],
                    **{k: np.asarray(conv[k], np.float64) for k in ("input", "kernel", "output")}})
    return out


def common_mode_gain(kernel) -> float:
    """``sum_{k,f} (sum_i W_ikf)^2 / sum W^2`` of an HWIO kernel (module docstring)."""
    kernel = np.asarray(kernel, np.float64)
    slice_sums = kernel.sum(axis=(0, 1))
    return float((slice_sums ** 2).sum() / (kernel ** 2).sum())


def _mean_shift_share(y) -> float:
    from kernelnorm.power import layer_shares, power_terms

    return float(layer_shares(*power_terms(np.asarray(y, np.float64)))[0])


def mean_shift_profile(network, params, state, x) -> list[dict]:
    """Per convolution of ``network`` on the inputs ``x`` (evaluation mode): the mean-shift
    measures of the module docstring, with ``layer``, ``czm_filter`` and ``kernel_size``."""
    import jax

    rows = []
    for conv in conv_inputs(network, params, state, x):
        inputs, kernel, output = conv["input"], conv["kernel"], conv["output"]
        means = inputs.mean(axis=(0, 1, 2), keepdims=True)
        shifted = np.asarray(jax.lax.conv_general_dilated(
            np.broadcast_to(means, (1, *inputs.shape[1:])), kernel,
            **{k: v for k, v in conv["params"].items() if k in _CONV_ARGS}), np.float64)
        power = (output ** 2).mean()
        interior = np.einsum("k,kf->f", means.ravel(), kernel.sum(axis=(0, 1)))
        rows.append({
            "layer": conv["layer"], "czm_filter": bool(conv["info"].czm_filter),
            "kernel_size": int(kernel.shape[0] * kernel.shape[1]),
            "input_share": _mean_shift_share(inputs), "output_share": _mean_shift_share(output),
            "transmitted": float((shifted ** 2).mean() / power),
            "transmitted_interior": float((interior ** 2).mean() / power),
            "common_mode_gain": common_mode_gain(kernel),
        })
    return rows


_CONV_ARGS = ("window_strides", "padding", "lhs_dilation", "rhs_dilation", "dimension_numbers",
              "feature_group_count", "batch_group_count")
