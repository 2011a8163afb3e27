"""What each scheduler plugin writes for a job that waits for others (no scheduler needed)."""

from __future__ import annotations

import pytest

from clustrix.batch import BatchScheduler, Chunk
from clustrix.errors import ConfigError
from clustrix.job import Job
from clustrix_pbs.scheduler import PBSScheduler
from clustrix_sge.scheduler import SGEScheduler
from clustrix_slurm.scheduler import SlurmScheduler


def child_of(*parents: Job, elementwise: bool = False) -> Job:
    job = Job("cchild", "f", "slurm", {}, None, "/w/jobs/cchild", 4, 1)  # type: ignore[arg-type]
    job.after, job.after_elementwise = list(parents), elementwise
    return job


def parent(native_id: str) -> Job:
    return Job("cparent", "f", "slurm", {}, None, "/w/jobs/cparent", 4, 1, native_id=native_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scheduler", "all_lines", "elementwise_lines"),
    [
        (
            SlurmScheduler(),
            ["--dependency=afterok:11:12:20", "--kill-on-invalid-dep=yes"],
            ["--dependency=aftercorr:12", "--kill-on-invalid-dep=yes"],
        ),
        (SGEScheduler(), ["-hold_jid 11,12,20"], ["-hold_jid_ad 12"]),
        (PBSScheduler(), ["-W depend=afterok:11:12:20"], ["-W depend=afterok:11:12"]),  # no element-wise: all of it
    ],
)
def test_dependency_lines_per_scheduler(scheduler: BatchScheduler, all_lines: list[str], elementwise_lines: list[str]):
    chunk = Chunk(1, 2, 2, array=True)
    assert scheduler._dependency_lines(child_of(parent("11,12"), parent("20")), chunk) == all_lines
    assert scheduler._dependency_lines(child_of(parent("11,12"), elementwise=True), chunk) == elementwise_lines
    assert scheduler._dependency_lines(child_of(), chunk) == []


def test_a_native_id_that_could_change_the_directive_is_refused():
    with pytest.raises(ConfigError, match="cannot go in a directive"):
        SlurmScheduler()._dependency_lines(child_of(parent("11 --uid=0")), Chunk(0, 0, 1, array=False))


def test_pbs_array_ids_are_accepted():
    lines = PBSScheduler()._dependency_lines(child_of(parent("1234[].server")), Chunk(0, 0, 1, array=False))
    assert lines == ["-W depend=afterok:1234[].server"]
