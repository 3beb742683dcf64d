"""Proxy Normalization Figure 5: Theorem 1 verified in random LN nets, and channel-wise linearity.

Theorem 1 (their Eq. 6): in layer-normalised random nets, ``rho^(l) = 1 - mu_c^2 share`` of the
normalised pre-activations is bounded by ``rho^(1) r^(l-1)``, ``r = 1/(1 + nu_beta^2/
nu_gamma^2)`` (0.963 for their gamma ~ N(1, 0.2^2), beta ~ N(0, 0.2^2);
``kernelnorm.power.theorem1_rate``), with equality for ``phi = identity`` (their §D.4).
Measured: (left) ReLU LN nets, rho against the bound; (middle) identity LN nets, the ratio
rho / bound (equality case: 1 in the wide limit), next to a finite-width prediction derived here;
(right) channel-wise linearity R^2 of the activation step for LN, GN, BN and LN+PN (§C.2:
collapse implies linearity).

Finite width (mean field, derived for this figure): with ``u = M/F`` the ratio of channel-mean
to fluctuation power of the normalised ``y``, the identity activation step gives ``M' = nu_g^2 M
+ nu_b^2``, ``F' = nu_g^2 F``; a random periodic conv preserves both in expectation; LN then
subtracts each input's mean over positions *and the C channels*, removing ``1/C`` of the
channel-mean power (independent, symmetric channel means): ``u' = (1 - 1/C)(u + b (1 + u))``,
``b = nu_b^2/nu_g^2 = 1/r - 1``. Asymptotic log rate ``-(log(1 + b) + log(1 - 1/C))``: LN's
mean subtraction slows the collapse at finite width (their Appendix A.2.1 remark).
Run: python analysis/proxynorm_fig5_theorem1.py [--profile default] [--data digits]
"""

from __future__ import annotations

from kernelnorm.io import handle_interrupts  # first: from here on Ctrl-C is one line, exit 130

handle_interrupts()

import numpy as np  # noqa: E402

from kernelnorm.io import pipeline_main, run_script  # noqa: E402
from kernelnorm.power import log_rate, make_inputs, power_profile, theorem1_rate  # noqa: E402

FIGURE = {
    "name": "proxynorm_fig5_theorem1",
    "paper": "Proxy Norm Fig. 5 (Theorem 1, Appendix C.2)",
    "claim": "in random LN nets rho = 1 - mu_c^2 share decays at least like r^l (equality for "
             "phi = identity); collapsed channels make the nonlinearity channel-wise linear",
    "estimate_s": 31,
    "estimate_full_s": 80000,
    "data": "digits",
}
PROFILES = {
    "tiny": {"depth": 12, "width": 16, "realisations": 3, "resolution": 8, "inputs": 16,
             "linearity_norms": ["ln", "bn"]},
    "default": {"depth": 50, "width": 64, "realisations": 6, "resolution": 8, "inputs": 64,
                "linearity_norms": ["ln", "gn", "bn", "ln+pn"]},
    "full": {"depth": 200, "width": 256, "realisations": 50, "resolution": 16, "inputs": 128,
             "linearity_norms": ["ln", "gn", "bn", "ln+pn"]},
}


def _interval(values: np.ndarray) -> dict:
    low, high = np.quantile(values, [0.1, 0.9], axis=0)
    return {"mean": values.mean(axis=0), "low": low, "high": high}


def finite_width_rho(rho1: float, *, depth: int, width: int, rate: float) -> np.ndarray:
    """Mean-field rho^(l) of identity LN nets at ``C = width`` channels (module docstring)."""
    b, u, out = 1.0 / rate - 1.0, (1.0 - rho1) / rho1, []
    for _ in range(depth):
        out.append(1.0 / (1.0 + u))
        u = (1.0 - 1.0 / width) * (u + b * (1.0 + u))
    return np.array(out)


def theorem1(inputs, config: dict, *, seed: int, activation: str) -> dict:
    """rho per realisation and depth for LN nets, its bound and fitted per-layer log rate."""
    profile = power_profile("ln", depth=config["depth"], width=config["width"],
                            realisations=config["realisations"], inputs=inputs,
                            activation=activation, seed=seed)
    rho = 1.0 - profile.shares[..., 0]  # (realisations, depth)
    rate = theorem1_rate()
    bound = rho.mean(axis=0)[0] * rate ** np.arange(config["depth"])
    ratio = rho / (rho[:, :1] * rate ** np.arange(config["depth"]))
    print(f"LN, {activation}: rho at depth {config['depth']} = {rho[:, -1].mean():.4g}, bound "
          f"{bound[-1]:.4g}; fitted log rate {log_rate(rho.mean(axis=0)):.4f} vs log r = "
          f"{np.log(rate):.4f}", flush=True)
    finite = finite_width_rho(rho.mean(axis=0)[0], depth=config["depth"],
                              width=config["width"], rate=rate)
    return {"rho": _interval(rho), "ratio": _interval(ratio), "bound": bound,
            "fitted_log_rate": log_rate(rho.mean(axis=0)), "rho_samples": rho,
            "finite_width": finite, "finite_width_log_rate": log_rate(finite)}


def compute(config: dict, *, seed: int, data: str) -> dict:
    inputs = make_inputs(data, config["inputs"], config["resolution"], seed=seed)
    rate = theorem1_rate()
    linearity = {}
    for norm in config["linearity_norms"]:
        profile = power_profile(norm, depth=config["depth"], width=config["width"],
                                realisations=config["realisations"], inputs=inputs, seed=seed)
        linearity[profile.as_dict()["label"]] = _interval(profile.linearity)
        print(f"{norm}: linearity at depth {config['depth']} = "
              f"{profile.linearity[:, -1].mean():.3f}", flush=True)
    return {"rate": rate, "log_rate": np.log(rate),
            "relu": theorem1(inputs, config, seed=seed, activation="relu"),
            "identity": theorem1(inputs, config, seed=seed, activation="identity"),
            "linearity": linearity,
            "gaussian_relu_linearity": 0.25 / (0.5 - 0.5 / np.pi)}


def main(argv=None) -> int:
    return pipeline_main(compute, __doc__, figure=FIGURE, profiles=PROFILES, argv=argv)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
