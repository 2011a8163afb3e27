"""PBS backend for Clustrix (PBS Pro/OpenPBS and Torque): directives and parsers on the core's batch engine."""

from __future__ import annotations

from .scheduler import PBSScheduler

plugin = PBSScheduler()

__all__ = ["PBSScheduler", "plugin"]
