"""Workers that claim elements, on the real SGE: every result once, a killed worker's element rerun, its dependents still run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claims import every_result_once_from_few_workers, killed_worker_has_its_element_rerun


def test_few_workers_run_every_call_once(local_sge: dict[str, Any], tmp_path: Path) -> None:
    every_result_once_from_few_workers(local_sge, tmp_path)


def test_worker_killed_mid_call_has_its_element_rerun_by_another(local_sge: dict[str, Any], tmp_path: Path) -> None:
    dependent = killed_worker_has_its_element_rerun(local_sge, tmp_path)
    script = (dependent.local_dir / "job-0.sh").read_text()
    assert "-hold_jid " in script, "Grid Engine releases a held job whatever its parent's exit"
