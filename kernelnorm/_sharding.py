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
    replicated."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    host = np.asarray(array)
    sharding = NamedSharding(_mesh() if mesh is None else mesh,
                             PartitionSpec(AXIS) if split else PartitionSpec())
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def fetch(tree):
    """A (possibly sharded) result tree as numpy on this process, gathered from every host."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def keys_mapped(function, replicated: int):
    """``mapped(key_data, *replicated)``: ``function(key, *replicated)`` for every row ``key`` of
    ``key_data`` (raw ``uint32`` PRNG keys, their count a multiple of :func:`device_count`), each
    device running its share one after another with ``lax.map`` inside ``shard_map``: the same
    operations, hence the same numbers, as one call per key on one device. Returns the stacked
    outputs as numpy. Build it once and call it per batch: it compiles once per input shape."""
    import jax
    from jax.sharding import PartitionSpec

    def local(keys, *args):
        return jax.lax.map(lambda k: function(k, *args), keys)

    share = jax.jit(jax.shard_map(local, mesh=_mesh(),
                                  in_specs=(PartitionSpec(AXIS),) + (PartitionSpec(),) * replicated,
                                  out_specs=PartitionSpec(AXIS)))

    def mapped(key_data, *arrays):
        return fetch(share(place(key_data, split=True), *(place(a, split=False) for a in arrays)))

    return mapped


def pad_to_devices(items, count: int):
    """The pytree ``items`` (leaves with ``count`` entries along the leading axis) padded to a
    multiple of :func:`device_count` by repeating its last entry, as numpy: every device gets an
    equal share. Drop the outputs past ``count``."""
    import jax

    padded = -(-count // device_count()) * device_count()
    keep = np.minimum(np.arange(padded), count - 1)
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[keep], items)


def device_mapped(function):
    """``function`` (one item's pytree of arrays -> a pytree of arrays) as
    ``mapped(items)``: ``items`` stacks items along the leading axis of every leaf (their count a
    multiple of :func:`device_count`, see :func:`pad_to_devices`), split over the devices in
    contiguous shares; each device runs its share one item after another (``lax.map`` inside
    ``shard_map``), the program of one item on one device, hence its numbers. ``mapped`` returns
    the stacked outputs as numpy. Build it once and call it per batch of items: it compiles once
    per input shape. ``check_vma=False``: with the check, a ``lax.scan`` in ``function`` whose
    carry starts from a closed-over constant (the same on every device) and then depends on the
    item is rejected; every output is split over the devices, so nothing relies on the check."""
    import jax
    from jax.sharding import PartitionSpec

    share = jax.jit(jax.shard_map(lambda local: jax.lax.map(function, local), mesh=_mesh(),
                                  in_specs=(PartitionSpec(AXIS),), out_specs=PartitionSpec(AXIS),
                                  check_vma=False))

    def mapped(items):
        return fetch(share(jax.tree_util.tree_map(lambda leaf: place(leaf, split=True), items)))

    return mapped
