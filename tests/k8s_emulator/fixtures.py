"""pytest fixtures: ``pytest_plugins = ["k8s_emulator.fixtures"]`` or import the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .emulator import Emulator


@pytest.fixture
def k8s_emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A running :class:`Emulator` with ``.kubeconfig`` written under ``tmp_path``."""
    emu = Emulator().start()
    try:
        emu.write_kubeconfig(tmp_path / "kubeconfig")
        yield emu
    finally:
        emu.stop()
