"""Linearised (NTK) training dynamics of wide dense networks, and a full-batch trainer for them.

The networks are the dense blocks of the analytic core in the NTK parameterisation
(``W ~ N(0, 1)``, scale ``sqrt(sigma_w2 / n)`` outside), i.e. exactly the networks whose
infinite-width NNGP ``K`` and NTK ``Theta`` :mod:`kernelnorm.ntk` computes:

    h_1 = block.first_layer() on the inputs                 (d -> n)
    h_l = block(h_{l-1})                 l = 2 .. L-1        (n -> n)
    f   = readout(h_{L-1})                                   (n -> k outputs)

The readout is the block itself when the scheme has no normaliser (then ``f = h_L`` and the
network is the depth-``L`` network of :mod:`kernelnorm.ntk`), and the block without its
normaliser otherwise: a batch-normalised output would have zero mean and unit variance over the
batch whatever the weights, so it could not fit a target (the usual "BN, ReLU, ..., linear
classifier" layout).

Linearised dynamics (Jacot et al. 2018; Lee et al. 2019). Full-batch gradient descent with step
``eta`` on the mean squared error over the ``m`` training inputs,

    L(theta) = 1/(2m) sum_a ||f(x_a) - y_a||^2 ,    theta <- theta - eta grad L ,

moves the outputs, to first order in the step, by ``f_{t+1} - f_t = -(eta/m) Theta_t (f_t - y)``
with ``Theta_t = J_t J_t^T`` the empirical NTK (``J = df/dtheta``, one block ``Theta ⊗ I_k`` per
output at infinite width). In the NTK parameterisation ``Theta_t -> Theta`` (deterministic,
constant in ``t``) as the width grows, so the residual ``r_t = f_t - y`` obeys

    r_t = (I - eta Theta / m)^t r_0 ,   L_t = ||r_t||_F^2 / (2m) ,

stable iff ``eta < 2m / lambda_max(Theta)``. The width does not enter: ``eta`` is an ``O(1)``
number, the same for every width. The random initial output ``f_0 ~ GP(0, K)`` (one draw per
output) is handled in one of two ways:

* centred model ``f - f_0`` (train on targets ``y + f_0``): ``r_0 = -y`` exactly and every seed
  has the same prediction (:func:`linearised_loss` without ``nngp``);
* expected loss over initialisations, ``E L_t = (||A^t y||_F^2 + k tr(A^t K A^t)) / (2m)`` with
  ``A = I - eta Theta / m`` (:func:`linearised_loss` with ``nngp=K``).

Finite width: the empirical NTK at initialisation fluctuates around ``Theta`` by ``O(n^-1/2)``
(mean correction ``O(1/n)``; Hanin & Nica 2020), and it moves during training by ``O(1/n)``
(Dyer & Gur-Ari 2020; Huang & Yau 2020). So a single run's loss curve deviates from the
prediction by ``O(n^-1/2)`` (zero-mean fluctuation) and the mean over seeds by ``O(1/n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm._schemes import DenseBlock


def readout_block(block: DenseBlock) -> DenseBlock:
    """The output layer of a :class:`DenseNetwork` of ``block``: the block itself when its scheme
    has no normaliser, else the block without the normaliser at its own stable init (for a batch
    norm, whose block has no ``sigma_w``: the plain layer's, ReLU ``sigma_w2 = 2``)."""
    if block.scheme.normaliser is None:
        return block
    scheme = replace(block.scheme, normaliser=None)
    return DenseBlock(scheme, block.activation, sigma_w2=block.sigma_w2 if block.has_sigma_w else None,
                      sigma_b2=block.sigma_b2 if block.has_sigma_w else 0.0, width=block.width)


@dataclass(frozen=True)
class DenseNetwork:
    """A depth-``L`` dense network of ``block`` with ``outputs`` output units (module docstring).

    Attributes:
        block: the hidden layers' :class:`kernelnorm.DenseBlock` (its ``width`` is the Lemma 1
            width of a weight-mean block; pass ``width=n`` for a finite weight-mean network).
        depth: ``L >= 1`` weight layers (``L = 1``: the linear model ``f = first_layer(x)``).
        width: hidden width ``n``.
        outputs: ``k``, the number of output units.

    Example: ``DenseNetwork(kernelnorm.Plain(), depth=3, width=512, outputs=10)``.
    """

    block: DenseBlock
    depth: int
    width: int
    outputs: int = 1

    def __post_init__(self):
        for name, low in (("depth", 1), ("width", 1), ("outputs", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < low:
                raise KernelnormInputError(f"--{name}", f"must be an integer >= {low}, got {value!r}")

    @property
    def readout(self) -> DenseBlock:
        return readout_block(self.block)

    def layers(self) -> list[DenseBlock]:
        """The ``L`` blocks, input to output."""
        first = self.block.first_layer()
        if self.depth == 1:
            return [first]
        return [first, *[self.block] * (self.depth - 2), self.readout]

    def init(self, key, n_in: int):
        """Parameters (a list of ``{"w", "b"}``), ``W, b ~ N(0, 1)`` from ``key``."""
        import jax

        sizes = [n_in, *[self.width] * (self.depth - 1), self.outputs]
        keys = jax.random.split(key, self.depth)
        return [layer.init(k, a, b) for layer, k, a, b in zip(self.layers(), keys, sizes, sizes[1:])]

    def apply(self, params, x):
        """Outputs ``(m, k)`` on the batch ``x`` ``(m, d)``; batch normalisers use the whole
        batch (full-batch BN)."""
        layers = self.layers()
        h = layers[0].apply(params[0], x, activate=False)
        for layer, p in zip(layers[1:], params[1:]):
            h = layer.apply(p, h)
        return h

    def kernels(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Infinite-width NNGP ``K`` and NTK ``Theta`` of one output on the inputs ``x`` (``(m,
        m)`` each): :func:`kernelnorm.ntk.exact_gram_kernels` for the first ``L - 1`` layers, then
        the readout's step of the same recursion (MimicNorm Eq. 5-7)."""
        from kernelnorm.ntk import exact_gram_kernels

        if self.depth == 1:
            body = exact_gram_kernels(self.block, x, 1)[1]
            return np.asarray(body.nngp), np.asarray(body.ntk)
        below = exact_gram_kernels(self.block, x, self.depth - 1)[self.depth - 1]
        return readout_kernels(self.readout, below.q1, below.q2, below.nngp, below.ntk)


def readout_kernels(readout: DenseBlock, q1, q2, nngp, ntk) -> tuple[np.ndarray, np.ndarray]:
    """``(K', Theta')`` of one more layer ``readout`` on top of a layer with kernels ``(q1, q2,
    K)`` and NTK ``Theta``: ``K' = kernel_map(K)``, ``Theta' = K' + T_dot(K) Theta`` (MimicNorm
    Eq. 6-7, the step :func:`kernelnorm.ntk.layer_kernels` iterates, here with another block)."""
    t_dot = readout.derivative_kernel(q1, q2, nngp)
    k_next = np.asarray(readout.kernel_map(q1, q2, nngp)[2], dtype=np.float64)
    return k_next, k_next + t_dot * np.asarray(ntk, dtype=np.float64)


def stable_learning_rate(ntk, fraction: float = 1.0) -> float:
    """``eta = fraction * m / lambda_max(Theta)``; gradient descent on the linearised model is
    stable iff ``fraction < 2`` (``fraction = 1`` removes the top mode in one step)."""
    ntk = np.asarray(ntk, dtype=np.float64)
    if not 0 < fraction < 2:
        raise KernelnormInputError("--lr-fraction", f"must lie in (0, 2), got {fraction}")
    return float(fraction * ntk.shape[0] / np.linalg.eigvalsh(ntk)[-1])


def linearised_loss(ntk, targets, *, lr: float, steps: int, nngp=None, initial=None) -> np.ndarray:
    """Training loss ``L_t``, ``t = 0..steps``, of gradient descent on the linearised network.

    ``r_t = (I - lr Theta / m)^t r_0`` and ``L_t = ||r_t||_F^2 / (2m)`` (module docstring),
    evaluated in the eigenbasis of ``Theta``: ``L_t = sum_j (1 - lr lambda_j / m)^(2t) c_j / (2m)``.

    Args:
        ntk: ``Theta`` ``(m, m)``, symmetric positive semi-definite.
        targets: ``y`` ``(m,)`` or ``(m, k)``.
        lr: the step ``eta``; steps: ``T``.
        nngp: ``K`` of the initial outputs ``f_0 ~ GP(0, K)``, independent per output: the
            expected loss ``(||A^t y||^2 + k tr(A^t K A^t)) / (2m)``. ``None``: ``f_0 = initial``.
        initial: the initial outputs ``f_0`` (default 0: the centred model, ``r_0 = -y``).

    Returns:
        ``(steps + 1,)`` float64.

    Example: a one-layer linear model ``f = X w / sqrt(d)`` has ``Theta = X X^T / d`` at every
    width and GD on it follows this curve exactly (``tests/test_dynamics.py``).
    """
    theta = np.asarray(ntk, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(theta.shape[0], -1)
    m = theta.shape[0]
    r0 = -y if initial is None else np.asarray(initial, np.float64).reshape(y.shape) - y
    eigenvalues, vectors = np.linalg.eigh(theta)
    weights = ((vectors.T @ r0) ** 2).sum(axis=1)
    if nngp is not None:
        k = np.asarray(nngp, dtype=np.float64)
        weights = weights + y.shape[1] * np.einsum("ij,ik,kj->j", vectors, k, vectors)
    factors = (1.0 - lr * eigenvalues / m)[:, None] ** (2 * np.arange(int(steps) + 1))[None, :]
    return weights @ factors / (2.0 * m)


def train_full_batch(network: DenseNetwork, x, targets, *, keys, lr: float, steps: int,
                     centre: bool = True, dtype: str = "float32") -> np.ndarray:
    """Train ``network`` by full-batch gradient descent (``optax.sgd(lr)``) on the MSE
    ``L = ||f(x) - y||^2 / (2m)``, one run per key, and return the loss curves.

    The runs go one after another (``lax.map``), not under ``jax.vmap``: a vmapped product's
    rounding depends on how many runs share it, so a key's curve would change with the number of
    keys and of devices. On CPU this is no slower (BN, depth 3, width 512, m = 128, 8 keys, 150
    steps: 1.95 s against 2.20 s under vmap); on one accelerator, vmap would fill it better for
    narrow networks. With several devices (``jax.device_count() > 1``) the keys, padded to a
    multiple of the device count, are split over them (:func:`kernelnorm._sharding.device_mapped`),
    each device running the one-run program: the numbers of one device.

    Args:
        network: a :class:`DenseNetwork`.
        x: inputs ``(m, d)``; targets: ``(m,)`` or ``(m, k)`` with ``k = network.outputs``.
        keys: ``(S, 2)`` JAX keys (e.g. :func:`kernelnorm.montecarlo.seed_keys`).
        lr, steps: step ``eta`` and number of steps ``T``.
        centre: train the centred model ``f - f_0`` (targets ``y + f_0``), so ``r_0 = -y``.
        dtype: parameter and data dtype (float64 needs ``JAX_ENABLE_X64``).

    Returns:
        ``(S, steps + 1)`` float64 losses ``L_0 .. L_T``.
    """
    import jax
    import jax.numpy as jnp
    import optax

    from kernelnorm._sharding import device_mapped, pad_to_devices

    dt = jnp.dtype(dtype)
    xs = jnp.asarray(x, dt)
    ys = jnp.asarray(np.asarray(targets).reshape(len(xs), -1), dt)
    if ys.shape[1] != network.outputs:
        raise KernelnormInputError("--targets", f"need {network.outputs} columns, got {ys.shape[1]}")
    optimizer = optax.sgd(lr)

    # drawn eagerly, one network per key (threefry inside jit(vmap) compiles for seconds)
    draws = [network.init(key, xs.shape[1]) for key in keys]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a).astype(dt), *draws)

    def run(params):
        goal = ys + network.apply(params, xs) if centre else ys
        loss = lambda p: 0.5 * jnp.sum((network.apply(p, xs) - goal) ** 2) / xs.shape[0]  # noqa: E731

        def step(carry, _):
            p, state = carry
            value, grads = jax.value_and_grad(loss)(p)
            updates, state = optimizer.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), value

        (params, _), values = jax.lax.scan(step, (params, optimizer.init(params)), None, length=int(steps))
        return jnp.concatenate([values, loss(params)[None]])

    count = len(draws)
    return np.asarray(device_mapped(run)(pad_to_devices(stacked, count))[:count], dtype=np.float64)


@dataclass(frozen=True)
class GapStatistics:
    """Deviation of measured loss curves from a prediction, relative to ``L_0``.

    With per-seed relative deviations ``d_s(t) = (L_s(t) - L_pred(t)) / L_pred(0)`` over the
    ``T + 1`` steps and ``S`` seeds (RMS over steps throughout):

    * ``gap``: ``sqrt(mean_{s,t} d_s(t)^2)``, one run's deviation (declared ``O(n^-1/2)``);
    * ``bias``: ``sqrt(mean_t dbar(t)^2)``, ``dbar = mean_s d_s``, the deviation of the expected
      curve (declared ``O(1/n)``);
    * ``fluctuation``: ``sqrt(mean_t var_s d_s(t))``, the seed-to-seed spread (``O(n^-1/2)``);

    so that ``gap^2 = bias^2 + fluctuation^2`` exactly (population variance over seeds). Each
    comes with the standard error of its logarithm (``*_log_se``, delete-one jackknife over
    seeds), the weights of a log-log rate fit (:func:`kernelnorm.montecarlo.loglog_slope`).
    ``worst`` is ``max_{s,t} |d_s(t)|``.
    """

    gap: float
    gap_log_se: float
    bias: float
    bias_log_se: float
    fluctuation: float
    fluctuation_log_se: float
    worst: float
    seeds: int

    def as_dict(self) -> dict:
        import dataclasses

        return dataclasses.asdict(self)


def _gap_values(deviations) -> np.ndarray:
    mean = deviations.mean(axis=0)
    return np.sqrt(np.array([(deviations ** 2).mean(), (mean ** 2).mean(),
                             deviations.var(axis=0).mean()]))


def gap_statistics(measured, predicted) -> GapStatistics:
    """:class:`GapStatistics` of loss curves ``measured`` ``(S, T+1)`` (``S >= 3`` seeds) against
    ``predicted`` ``(T+1,)``."""
    measured = np.asarray(measured, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if measured.ndim != 2 or measured.shape[0] < 3 or measured.shape[1] != predicted.shape[0]:
        raise KernelnormInputError("--seeds", f"need (S >= 3, {predicted.shape[0]}) loss curves, "
                                   f"got {measured.shape}")
    deviations = (measured - predicted) / predicted[0]
    full = _gap_values(deviations)
    count = deviations.shape[0]
    leave_one_out = np.log(np.stack([_gap_values(np.delete(deviations, s, axis=0))
                                     for s in range(count)]))
    spread = leave_one_out - leave_one_out.mean(axis=0)
    log_se = np.sqrt((count - 1) / count * (spread ** 2).sum(axis=0))
    return GapStatistics(float(full[0]), float(log_se[0]), float(full[1]), float(log_se[1]),
                         float(full[2]), float(log_se[2]), float(np.abs(deviations).max()), count)


def hanin_nica_scale(depth: int, width: int) -> float:
    """``sqrt(5 L / n)``: the scale of the relative spread of a ReLU network's empirical NTK at
    initialisation (Hanin & Nica 2020: ``E[Theta(x,x)^2] / E[Theta(x,x)]^2`` grows like
    ``exp(5 L / n)``, so the relative standard deviation is about ``sqrt(5 L / n)`` for
    ``L << n``), the natural size of one run's relative deviation from the predicted loss curve."""
    return math.sqrt(5.0 * depth / width)
