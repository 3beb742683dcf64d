"""Strict test configuration: float64 JAX, rank promotion raises, warnings are errors (pyproject)."""

import os

os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("JAX_NUMPY_RANK_PROMOTION", "raise")
os.environ.setdefault("MPLBACKEND", "Agg")
