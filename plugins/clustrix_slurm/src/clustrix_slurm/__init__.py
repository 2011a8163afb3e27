"""SLURM backend for Clustrix: directives and parsers on the core's batch-scheduler engine."""

from __future__ import annotations

from .scheduler import SlurmScheduler

plugin = SlurmScheduler()

__all__ = ["SlurmScheduler", "plugin"]
