"""Public conv networks of the kernel engine: :func:`random_net`, :func:`conv_net`, :class:`ConvNet`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from kernelnorm._activations import get_activation
from kernelnorm._errors import KernelnormInputError
from kernelnorm.conv import _engine
from kernelnorm.conv._arch import (
    PAPER_AFFINE_STD,
    Conv,
    Pool,
    build_layers,
    build_readout,
    check_depth,
    conv_scheme,
    infinite,
)
from kernelnorm.conv._duals import AffineStep, ProxyStep

#: Default working memory of one chunk of pairs (bytes).
DEFAULT_CHUNK_BYTES = 256 * 2**20
#: Live arrays per block entry inside a layer (block, NTK, dual, derivative dual, shifted copies).
WORKING_SET = 12
#: Entry-updates per second per Gauss-Hermite node of the activation step, measured on the
#: shared 2-core development machine (ReLU, float64): the basis of the stated time estimates.
ENTRY_RATE = 4.0e7


@dataclass(frozen=True)
class ConvKernels:
    """NNGP and NTK of the readout unit on ``N`` inputs (``(N, N)``, float64), and the cost."""

    nngp: np.ndarray
    ntk: np.ndarray | None
    seconds: float
    mode: str


@dataclass(frozen=True)
class Estimate:
    """Stated cost of a kernel computation before it starts.

    ``pairs``: input pairs computed (``N (N + 1) / 2``); ``entry_updates``: block entries x
    layers over all pairs; ``memory_bytes``: peak working memory (one chunk of pairs, the
    same-input records and the outputs); ``seconds``: ``entry_updates x nodes / ENTRY_RATE``.
    """

    pairs: int
    chunk: int
    entry_updates: float
    memory_bytes: float
    seconds: float

    def describe(self) -> str:
        return (f"{self.pairs} input pairs x {self.entry_updates / self.pairs:.3g} block "
                f"entries over the layers = {self.entry_updates:.3g} entry-updates; memory "
                f"~{_size(self.memory_bytes)} (chunks of {self.chunk} pairs); time "
                f"~{self.seconds:.0f} s at {ENTRY_RATE:.0e} entry-updates/s on 2 CPU cores, plus "
                "5-30 s of compilation")


def _size(count: float) -> str:
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


def available_memory() -> float:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (``inf`` where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf


@dataclass(frozen=True)
class ConvNet:
    """A conv network at infinite width (see :mod:`kernelnorm.conv`).

    Attributes:
        scheme: the registered scheme; activation: ``phi``.
        step: the activation step (:class:`AffineStep` or :class:`ProxyStep`).
        layers: ``Conv``/``Pool`` layers; readout: ``Readout`` or ``None``.
        normalise: the scheme's normaliser is layer norm (a per-input rescaling at infinite width).
    """

    scheme: object
    activation: object
    step: object
    layers: tuple
    readout: object
    normalise: bool

    @property
    def depth(self) -> int:
        return sum(isinstance(layer, Conv) for layer in self.layers)

    def mode(self, *, full: bool = False) -> str:
        """``"diag"`` when only same-position entries are needed (flatten readout, no CZM
        filters, no pooling), else ``"full"``."""
        needs_full = full or self.readout is None or self.readout.pooling == "gap" or any(
            isinstance(layer, Pool) or layer.kind == "czm" for layer in self.layers)
        return "full" if needs_full else "diag"

    def _nodes(self) -> int:
        if isinstance(self.step, ProxyStep):
            return 8 * len(self.step.nodes().t)  # two Owen's T functions and normal CDFs per node
        return len(self.step.gamma_quadrature()[0])

    def estimate(self, n_inputs: int, spatial_shape, *, ntk: bool = True, full: bool = False,
                 chunk_bytes: float = DEFAULT_CHUNK_BYTES, pairs: int | None = None) -> Estimate:
        """Cost of the kernels on ``n_inputs`` inputs of spatial shape ``spatial_shape``."""
        mode = self.mode(full=full)
        pairs = n_inputs * (n_inputs + 1) // 2 if pairs is None else pairs
        largest = _engine.block_entries(self, spatial_shape, mode)
        arrays = (2 if ntk else 1) * WORKING_SET
        chunk = int(max(1, min(pairs, 4096, chunk_bytes // (largest * _engine.ENTRY_BYTES * arrays))))
        chunk = -(-pairs // -(-pairs // chunk))  # balanced: the padded last chunk wastes nothing
        updates = float(pairs) * _engine.layer_entries(self, spatial_shape, mode)
        positions = math.prod(spatial_shape)
        records = 3.0 * n_inputs * positions * len(self.layers) * _engine.ENTRY_BYTES
        memory = chunk * largest * _engine.ENTRY_BYTES * arrays + records + 2.0 * n_inputs**2 * 8
        seconds = updates * self._nodes() * (2 if ntk else 1) / ENTRY_RATE
        return Estimate(pairs, chunk, updates, memory, seconds)

    def check_memory(self, estimate: Estimate, *, limit: float | None = None) -> None:
        """Refuse (one line naming ``--max-memory``) when the estimate exceeds ``limit``
        (default: 80% of the available memory)."""
        limit = 0.8 * available_memory() if limit is None else limit
        if estimate.memory_bytes > limit:
            raise KernelnormInputError(
                "--max-memory", f"the conv kernel needs ~{_size(estimate.memory_bytes)}, more "
                f"than the {_size(limit)} allowed ({estimate.describe()}); use fewer inputs, a "
                "smaller resolution or a flatten readout")

    def kernels(self, x, *, ntk: bool = True, chunk: int | None = None, progress=None,
                max_memory: float | None = None) -> ConvKernels:
        """NNGP and NTK ``(N, N)`` of the readout unit on channel-last inputs ``x``
        ``(N, *S, C)`` (float64; jit per layer; pairs in chunks of bounded memory)."""
        import jax

        if self.readout is None:
            raise KernelnormInputError("--readout", "the network has no readout (use gap or flatten)")
        x = check_images(x)
        estimate = self.estimate(x.shape[0], x.shape[1:-1], ntk=ntk)
        self.check_memory(estimate, limit=max_memory)
        start = time.perf_counter()
        with jax.enable_x64(True):
            nngp, theta = _engine.output_kernels(
                self, x, ntk=ntk, mode=self.mode(), chunk=chunk or estimate.chunk,
                progress=progress)
        return ConvKernels(nngp, theta, time.perf_counter() - start, self.mode())

    def layer_kernels(self, x, *, chunk: int | None = None, max_memory: float | None = None,
                      pairs=None):
        """Yield ``(layer index, pairs (i, j), K_y blocks (P, *S, *S))`` for every conv layer:
        the kernel of the normalised pre-activations ``y`` of every input pair ``i <= j``, or of
        the given ``pairs = (rows, cols)`` (full mode, all of them in memory: the power
        decomposition needs them together)."""
        import jax

        x = check_images(x)
        n = x.shape[0]
        count = None if pairs is None else len(pairs[0])
        estimate = self.estimate(n, x.shape[1:-1], ntk=False, full=True, pairs=count)
        stored = estimate.pairs * _engine.block_entries(self, x.shape[1:-1], "full") * 8
        self.check_memory(Estimate(estimate.pairs, estimate.chunk, estimate.entry_updates,
                                   estimate.memory_bytes + stored, estimate.seconds), limit=max_memory)
        with jax.enable_x64(True):
            yield from _engine.layerwise_blocks(self, x, chunk=chunk or estimate.chunk, pairs=pairs)


def check_images(x) -> np.ndarray:
    """Channel-last inputs ``(N, *S, C)`` with at least one spatial axis, finite, float64."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 3:
        raise KernelnormInputError("--data", f"expected images (N, H, W, C) or sequences (N, L, C), "
                                   f"got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise KernelnormInputError("--data", "inputs must be finite")
    return x


def _step(scheme, activation, gamma_std, beta_std, gamma_nodes):
    if scheme.proxy:
        return ProxyStep(activation, gamma_std, beta_std, scheme.proxy_eps, scheme.proxy_quantiles)
    return AffineStep(activation, gamma_std, beta_std, gamma_nodes=gamma_nodes)


def _build(norm, layout, *, activation, padding, readout, gamma_std, beta_std, sigma_w2,
           sigma_b2, width, in_channels, positions, gamma_nodes, overrides) -> ConvNet:
    scheme = conv_scheme(norm, **overrides)
    activation = get_activation(activation)
    width = infinite(width)
    layers = build_layers(scheme, activation, layout, padding=padding, width=width,
                          in_channels=in_channels, sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    head = build_readout(scheme, activation, readout, width=width, positions=positions,
                         sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    step = _step(scheme, activation, gamma_std, beta_std, gamma_nodes)
    return ConvNet(scheme, activation, step, layers, head, scheme.normaliser == "layer")


def random_net(norm, depth: int, *, activation="relu", kernel_size: int = 3,
               padding: str = "circular", gamma_std: float = PAPER_AFFINE_STD,
               beta_std: float = PAPER_AFFINE_STD, readout: str | None = None, sigma_w2=None,
               sigma_b2: float = 0.0, width=math.inf, in_channels: int = 1, positions: int = 1,
               gamma_nodes: int = 8, **overrides) -> ConvNet:
    """The random net of Proxy Norm Definition 1 at infinite width: ``depth`` periodic ``k x k``
    conv layers, each followed by the scheme's normaliser and the activation step
    ``phi(gamma y + beta)`` (or PN Eq. 7) with ``gamma ~ N(1, gamma_std^2)``, ``beta ~ N(0,
    beta_std^2)`` per channel (their §A.1: both 0.2), integrated out.

    ``width``: channel count of the finite nets whose gains to use (default: the limit);
    ``in_channels`` and ``positions`` only matter for the registry's fan-in rule.
    Example: ``random_net("ln", 50).layer_kernels(x)`` feeds the power decomposition.
    """
    layout = (kernel_size,) * check_depth(depth)
    return _build(norm, layout, activation=activation, padding=padding, readout=readout,
                  gamma_std=gamma_std, beta_std=beta_std, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                  width=width, in_channels=in_channels, positions=positions,
                  gamma_nodes=gamma_nodes, overrides=overrides)


def conv_net(norm, depth: int | None = None, *, layout=None, kernel_size: int = 3,
             padding: str = "same", readout: str = "gap", activation="relu", sigma_w2=None,
             sigma_b2: float = 0.0, gamma_std: float = 0.0, beta_std: float = 0.0,
             width=math.inf, in_channels: int = 1, positions: int = 1, gamma_nodes: int = 8,
             **overrides) -> ConvNet:
    """A conv/pool stack with a readout, like the trainable core's nets at initialisation
    (``gamma = 1``, ``beta = 0``): ``depth`` ``k x k`` convs, or an explicit ``layout`` (ints:
    conv sizes, ``"A"``: 2x2 average pooling), then ``readout`` (``gap`` or ``flatten``) and one
    dense unit. ``sigma_w2`` (default: the registry's stable init per layer) applies to every
    layer when given, like :class:`kernelnorm.DenseBlock`.

    Example: ``conv_net("plain", 10).kernels(x).ntk`` is the CNTK with global average pooling.
    """
    if layout is None:
        if depth is None:
            raise KernelnormInputError("--depth", "give depth or layout")
        layout = (kernel_size,) * check_depth(depth)
    return _build(norm, tuple(layout), activation=activation, padding=padding, readout=readout,
                  gamma_std=gamma_std, beta_std=beta_std, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                  width=width, in_channels=in_channels, positions=positions,
                  gamma_nodes=gamma_nodes, overrides=overrides)
