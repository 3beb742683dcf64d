"""Independent work (Monte-Carlo seeds, power realisations, training runs, the shards of an NTK
product) spread over every device JAX sees, one mesh axis.

A 1-D mesh over ``jax.devices()`` (all local devices; on several hosts, all devices of all
processes once the user has called ``jax.distributed.initialize()`` before any JAX work). The
leading axis of a batch (one entry per seed) is split over the mesh with a ``NamedSharding``;
``jit`` then runs each device's share, and since every entry is computed from its own key, the
numbers are those of one device. See docs/scaling.md for the commands.
"""

from __future__ import annotations

import numpy as np

AXIS = "batch"


def device_count() -> int:
    """Devices of the mesh (all processes' devices under ``jax.distributed``)."""
    import jax

    return jax.device_count()


def _mesh(count: int | None = None):
    """The 1-D mesh over the first ``count`` devices (default: all)."""
    import jax

    return jax.sharding.Mesh(np.asarray(jax.devices()[:count]), (AXIS,))


def place(array, *, split: bool, mesh=None):
    """``array`` (the same on every process) on ``mesh`` (default: every device): its leading
    axis split over the devices (``split``; its length a multiple of their count) or
    replicated; an array already placed so is returned as it is."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    sharding = NamedSharding(_mesh() if mesh is None else mesh,
                             PartitionSpec(AXIS) if split else PartitionSpec())
    if isinstance(array, jax.Array) and array.sharding == sharding:
        return array  # placed already (e.g. constants placed once and passed on every call)
    host = np.asarray(array)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def fetch(tree):
    """A (possibly sharded) result tree as numpy on this process, gathered from every host."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def pad_to_devices(items, count: int):
    """The pytree ``items`` (leaves with ``count`` entries along the leading axis) padded to a
    multiple of :func:`device_count` by repeating its last entry, as numpy: every device gets an
    equal share. Drop the outputs past ``count``."""
    import jax

    padded = -(-count // device_count()) * device_count()
    keep = np.minimum(np.arange(padded), count - 1)
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[keep], items)


def device_mapped(function, *, replicated: int = 0, devices: int | None = None):
    """``function(item, *arrays)`` (pytrees of arrays) as ``mapped(items, *arrays)``: ``items``
    stacks items along the leading axis of every leaf (their count a multiple of the devices',
    see :func:`pad_to_devices`), split over the first ``devices`` devices (default: all) in
    contiguous shares; the ``replicated`` ``arrays`` go to every device. Each device runs its
    share one item after another (``lax.map`` inside ``shard_map``), the program of one item on
    one device, hence its numbers. ``mapped`` returns the stacked outputs as numpy. Build it
    once and call it per batch of items: it compiles once per input shape. ``check_vma=False``:
    with the check, a ``lax.scan`` in ``function`` whose carry starts from a closed-over constant
    (the same on every device) and then depends on the item is rejected; every output is split
    over the devices, so nothing relies on the check."""
    import jax
    from jax.sharding import PartitionSpec

    mesh = _mesh(devices)

    def local(share, *arrays):
        return jax.lax.map(lambda item: function(item, *arrays), share)

    run = jax.jit(jax.shard_map(local, mesh=mesh,
                                in_specs=(PartitionSpec(AXIS),) + (PartitionSpec(),) * replicated,
                                out_specs=PartitionSpec(AXIS), check_vma=False))

    def mapped(items, *arrays):
        split = jax.tree_util.tree_map(lambda leaf: place(leaf, split=True, mesh=mesh), items)
        return fetch(run(split, *(place(a, split=False, mesh=mesh) for a in arrays)))

    return mapped
