"""Power profiles over depth and realisations, Theorem 1's rate, and the collapse comparison."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernelnorm._costs import check_power_request
from kernelnorm._errors import KernelnormInputError, check_seed
from kernelnorm.power._decomposition import TERMS, channel_imbalance, layer_shares
from kernelnorm.power._nets import NetConfig
from kernelnorm.power._schemes import check_groups, label, power_scheme

#: Lower/upper quantiles of the interval over realisations.
INTERVAL = (0.1, 0.9)


def theorem1_rate(*, gamma_mean: float = 1.0, gamma_std: float = 0.2, beta_std: float = 0.2):
    """Per-layer factor of Theorem 1 (Proxy Norm Eq. 6) for layer-normalised random nets::

        rho^(l) <~ rho^(l-1) / (1 + nu_beta^2 / nu_gamma^2),  rho = 1 - mu_c^2 share of y

    ``nu_beta^2 = E[beta^2] = beta_std^2`` and ``nu_gamma^2 = E[gamma^2] = gamma_mean^2 +
    gamma_std^2`` are the mean squares of the affine parameters. Derivation (wide nets, periodic
    convs): the activation step ``gamma y + beta`` keeps the non-mean power times ``nu_gamma^2``
    while the total becomes ``nu_gamma^2 + nu_beta^2``; a random conv preserves both powers in
    expectation and LN is a constant scaling. Equality for ``phi = identity`` (their §D.4);
    a mean-shifting ``phi`` (ReLU) only decays ``rho`` faster.
    Defaults (their §A.1): ``1 / (1 + 0.04/1.04) = 0.962963``.
    """
    return 1.0 / (1.0 + beta_std**2 / (gamma_mean**2 + gamma_std**2))


@dataclass(frozen=True)
class PowerProfile:
    """Per-realisation statistics of the normalised pre-activations ``y`` of every layer.

    Attributes:
        config: the net.
        shares: ``(R, depth, 4)`` layer shares of the four terms (order of ``TERMS``).
        power: ``(R, depth)`` channel-averaged power ``mean_c P_c``.
        imbalance: ``(R, depth)`` channel imbalance ``std_c P_c / mean_c P_c``.
        linearity: ``(R, depth)`` channel-wise linearity ``R^2`` of the activation step.
    """

    config: NetConfig
    shares: np.ndarray
    power: np.ndarray
    imbalance: np.ndarray
    linearity: np.ndarray

    def _stat(self, values: np.ndarray) -> dict:
        low, high = np.quantile(values, INTERVAL, axis=0)
        return {"mean": values.mean(axis=0), "low": low, "high": high}

    def summary(self) -> dict:
        """Means and ``INTERVAL`` quantiles over realisations, per depth."""
        out = {term: self._stat(self.shares[..., k]) for k, term in enumerate(TERMS)}
        for name in ("power", "imbalance", "linearity"):
            out[name] = self._stat(getattr(self, name))
        return out

    def rows(self) -> list[dict]:
        """One row per layer: mean shares, power, imbalance, linearity."""
        summary = self.summary()
        return [{"depth": layer + 1, **{key: float(stat["mean"][layer])
                                        for key, stat in summary.items()}}
                for layer in range(self.config.depth)]

    def as_dict(self) -> dict:
        summary = self.summary()
        return {
            "norm": self.config.scheme.name, "label": label(self.config.scheme),
            "depth": self.config.depth, "width": self.config.width,
            "activation": getattr(self.config.activation, "name", str(self.config.activation)),
            "realisations": int(self.shares.shape[0]), "terms": list(TERMS),
            "interval": list(INTERVAL),
            "layers": {key: {k: v.tolist() for k, v in stat.items()}
                       for key, stat in summary.items()},
        }


def power_profile(norm, *, depth: int, width: int, realisations: int, inputs,
                  groups: int | None = None, activation="relu", seed: int = 0,
                  dtype: str = "float32", norm_eps: float = 0.0, proxy_eps: float | None = None,
                  n_quantiles: int | None = None, gamma_std: float = 0.2, beta_std: float = 0.2,
                  progress=None) -> PowerProfile:
    """Run ``realisations`` independent random nets of scheme ``norm`` on ``inputs``.

    ``norm``: a registered scheme (name or :class:`kernelnorm.Scheme`); ``groups``,
    ``proxy_eps`` and ``n_quantiles`` override its fields. ``inputs``: ``(N, *spatial, C_in)``
    (see ``make_inputs``). Realisation ``r`` uses key ``fold_in(PRNGKey(seed), r)``: same seed,
    same numbers. ``progress`` wraps the loop over realisations (e.g. a tqdm factory). With
    several devices, realisations run on all of them at once (:func:`realisations_on_devices`).
    """
    import jax

    scheme = power_scheme(norm, groups=groups, proxy_eps=proxy_eps, proxy_quantiles=n_quantiles)
    for name, value in (("--depth", depth), ("--width", width), ("--realisations", realisations)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise KernelnormInputError(name, f"must be a positive integer, got {value!r}")
    check_groups(scheme, width)
    inputs = np.asarray(inputs)
    check_power_request(depth=depth, width=width, realisations=realisations, n_inputs=len(inputs),
                        resolution=inputs.shape[1], spatial=inputs.ndim - 2,
                        in_channels=inputs.shape[-1], dtype=dtype)
    check_seed("--seed", seed)
    config = NetConfig(scheme, int(depth), int(width), activation=activation, norm_eps=norm_eps,
                       gamma_std=gamma_std, beta_std=beta_std, dtype=dtype)
    base = jax.random.PRNGKey(seed)
    loop = range(realisations) if progress is None else progress(range(realisations))
    shares, power, imbalance, linearity = [], [], [], []
    for terms, channel_power, lin in realisations_on_devices(config, inputs, base, loop):
        shares.append(layer_shares(terms, channel_power))
        power.append(channel_power.mean(axis=-1))
        imbalance.append(channel_imbalance(channel_power))
        linearity.append(lin)
    return PowerProfile(config, *(np.stack(a) for a in (shares, power, imbalance, linearity)))


def realisations_on_devices(config, inputs, base, loop):
    """Yield ``run_realisation`` for each ``r`` of ``loop`` (key ``fold_in(base, r)``); with
    ``D > 1`` devices, ``D`` realisations at a time, one per device (:mod:`kernelnorm._sharding`:
    same numbers as one device)."""
    import jax

    from kernelnorm._sharding import device_count, device_mapped
    from kernelnorm.power._nets import _compiled, run_realisation

    devices = device_count()
    if devices == 1:
        for r in loop:
            yield run_realisation(config, inputs, jax.random.fold_in(base, r))
        return
    x = jax.numpy.asarray(inputs, dtype=config.dtype)
    mapped = device_mapped(_compiled(config), replicated=1)  # compiled once
    pending = []
    for r in loop:
        pending.append(r)
        if len(pending) == devices:
            yield from _device_batch(x, base, pending, mapped)
            pending = []
    if pending:
        yield from _device_batch(x, base, pending, mapped)


def _device_batch(x, base, indices, mapped):
    import jax

    from kernelnorm._sharding import pad_to_devices

    keys = np.stack([np.asarray(jax.random.fold_in(base, r)) for r in indices])
    outputs = mapped(pad_to_devices(keys, len(indices)), x)
    for k in range(len(indices)):
        yield tuple(np.asarray(o[k]) for o in outputs)


def log_rate(values: np.ndarray, layers: np.ndarray | None = None) -> float:
    """Least-squares slope of ``log values`` against the layer index: the per-layer log rate."""
    values = np.asarray(values, dtype=np.float64)
    layers = np.arange(1, len(values) + 1) if layers is None else np.asarray(layers)
    return float(np.polyfit(layers, np.log(values), 1)[0])


#: Schemes compared by ``kernelnorm compare --power``.
COMPARE_NORMS = ("plain", "bn", "weight-mean", "ln", "ln+pn", "gn", "czmig")


def collapse_shares(*, depth: int = 50, width: int = 32, realisations: int = 2,
                    resolution: int = 8, n_inputs: int = 32, norms=COMPARE_NORMS,
                    groups: int | None = None, activation="relu", seed: int = 0,
                    progress=None) -> dict:
    """``{scheme name: mean mu_c^2 share at depth}``: channel-wise collapse per scheme.

    Small defaults keep ``kernelnorm compare --power`` to about a minute on 2 cores; digits
    inputs at ``resolution``. ``progress`` wraps the loop over schemes.
    """
    from kernelnorm.power._inputs import make_inputs

    inputs = make_inputs("digits", n_inputs, resolution, seed=seed)
    out = {}
    for norm in (norms if progress is None else progress(norms)):
        profile = power_profile(norm, depth=depth, width=width, realisations=realisations,
                                inputs=inputs, groups=groups, activation=activation, seed=seed)
        out[profile.config.scheme.name] = float(profile.shares[:, -1, 0].mean())
    return out


def add_collapse_column(rows: list[dict], shares: dict, column: str) -> list[dict]:
    """Rows of ``kernelnorm compare`` (each with its scheme's ``norm`` name) with a ``column``
    of collapse shares.

    A share fills the first row of its scheme (the random nets use the stable init, i.e. the
    critical plain row); schemes without a kernel row (IN, CZMIG) become new rows with ``"-"``
    in the kernel columns; kernel rows without a random-net counterpart get ``"-"``.
    """
    from kernelnorm._registry import SCHEMES

    keys = list(rows[0]) if rows else ["scheme", "norm"]
    out = [dict(row, **{column: "-"}) for row in rows]
    first_row = {}
    for row in out:
        first_row.setdefault(row.get("norm"), row)
    for name, share in shares.items():
        row = first_row.get(name)
        if row is None:
            row = {key: "-" for key in keys}
            row.update(scheme=SCHEMES[name].label, norm=name)
            out.append(row)
        row[column] = share
    return out
