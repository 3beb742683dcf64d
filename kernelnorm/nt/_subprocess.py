"""Run the neural-tangents oracle in the pinned ``.venv-nt`` interpreter from the main one."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Environment variable naming the neural-tangents interpreter (default ``.venv-nt/bin/python``).
PYTHON_ENV = "KERNELNORM_NT_PYTHON"


class OracleUnavailable(RuntimeError):
    """The pinned neural-tangents interpreter is missing."""


def oracle_python() -> Path:
    """The interpreter of the pinned neural-tangents environment."""
    path = Path(os.environ.get(PYTHON_ENV, REPO_ROOT / ".venv-nt" / "bin" / "python"))
    if not path.exists():
        raise OracleUnavailable(
            f"{path} not found: build the pinned neural-tangents environment "
            "(python -m venv .venv-nt && .venv-nt/bin/pip install neural-tangents==0.6.5 "
            "jax==0.4.38 jaxlib==0.4.38 tensorflow-cpu; see DEVELOPERS.md), "
            f"or point {PYTHON_ENV} at it")
    return path


def run_oracle(cases: list[dict], arrays: dict[str, np.ndarray], *, timeout: float = 900.0):
    """Compute neural-tangents kernels for ``cases`` (see :mod:`kernelnorm.nt._oracle`).

    Returns ``(results, meta)``: ``results[name] = (nngp, ntk)`` float64 arrays, ``meta`` the
    timings and versions. Raises :class:`OracleUnavailable` or ``RuntimeError`` with the
    oracle's stderr.
    """
    python = oracle_python()
    with tempfile.TemporaryDirectory(prefix="kernelnorm-nt-") as tmp:
        spec = {"arrays": os.path.join(tmp, "in.npz"), "output": os.path.join(tmp, "out.npz"),
                "cases": cases}
        np.savez(spec["arrays"], **arrays)
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env.pop("JAX_NUMPY_RANK_PROMOTION", None)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        done = subprocess.run([str(python), "-m", "kernelnorm.nt._oracle", spec_path],
                              env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"neural-tangents oracle failed ({done.returncode}):\n{done.stderr[-4000:]}")
        with np.load(spec["output"]) as loaded:
            results = {c["name"]: (loaded[f"nngp__{c['name']}"], loaded[f"ntk__{c['name']}"])
                       for c in cases}
        with open(spec["output"] + ".json", encoding="utf-8") as handle:
            meta = json.load(handle)
    return results, meta


def diagonal_tolerance(depth: int) -> float:
    """Relative error of neural-tangents' ReLU NTK on the input diagonal after ``depth`` layers:
    its angle ``arctan2(sqrt(q1 q2 - c^2), c)`` cancels to ``sqrt(8 eps)`` at ``c = q``, a
    relative error ``<= 2 sqrt(8 eps) / pi`` of ``T_dot`` per layer, so ``depth`` times that."""
    import math

    return depth * 2 * math.sqrt(8 * np.finfo(np.float64).eps) / math.pi
