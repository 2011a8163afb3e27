"""Grid Engine backend for Clustrix: directives and parsers on the core's batch-scheduler engine."""

from __future__ import annotations

from .scheduler import SGEScheduler

plugin = SGEScheduler()

__all__ = ["SGEScheduler", "plugin"]
