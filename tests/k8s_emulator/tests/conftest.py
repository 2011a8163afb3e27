"""Make ``k8s_emulator`` importable and expose its fixture."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[2])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from k8s_emulator.fixtures import k8s_emulator  # noqa: E402, F401
