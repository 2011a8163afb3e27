"""qstat -f parsing: Torque-wrapper records recorded for real, PBS Pro -x records in their documented layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustrix.job import State
from clustrix_pbs import parsing

SAMPLES = Path(__file__).parent / "samples"


def record(name: str) -> parsing.Record:
    (only,) = parsing.parse_qstat_full((SAMPLES / name).read_text())
    return only


@pytest.mark.parametrize(
    ("sample", "state"),
    [
        ("pro_qstat_f_x_queued.txt", State.PENDING),
        ("pro_qstat_f_x_held.txt", State.PENDING),
        ("pro_qstat_f_x_running.txt", State.RUNNING),
        ("pro_qstat_f_x_finished_ok.txt", State.COMPLETED),
        ("pro_qstat_f_x_finished_exit3.txt", State.FAILED),
        ("pro_qstat_f_x_walltime.txt", State.TIMEOUT),
        ("pro_qstat_f_x_deleted.txt", State.FAILED),
    ],
)
def test_pbs_pro_finished_and_live_states(sample: str, state: State) -> None:
    assert record(sample).state("pro") == state


def test_pbs_pro_signal_exit_is_explained() -> None:
    assert record("pro_qstat_f_x_deleted.txt").reason.startswith("exit status 271 (killed by signal 15)")


def test_long_values_continue_on_the_next_line() -> None:
    assert record("pro_qstat_f_x_queued.txt").comment == "Not Running: Insufficient amount of resource: ncpus"


def test_pbs_pro_array_subjobs_keep_their_index() -> None:
    records = parsing.parse_qstat_full((SAMPLES / "pro_qstat_f_x_t_array.txt").read_text())
    found = {parsing.split_id(r.job_id): r.state("pro") for r in records}
    assert found == {
        ("1208[]", None): State.RUNNING,  # B: the array has begun
        ("1208[]", 0): State.COMPLETED,
        ("1208[]", 1): State.RUNNING,
        ("1208[]", 2): State.FAILED,
    }


@pytest.mark.parametrize(
    ("sample", "state"),
    [
        ("torque_wrapper_qstat_f_queued.txt", State.PENDING),
        ("torque_wrapper_qstat_f_running.txt", State.RUNNING),
        ("torque_wrapper_qstat_f_completed.txt", None),  # C, no exit status: the result files decide
        ("torque_wrapper_qstat_f_failed_exit3.txt", None),
        ("torque_wrapper_qstat_f_cancelled.txt", None),
    ],
)
def test_torque_wrapper_states(sample: str, state: State | None) -> None:
    assert record(sample).state("torque") == state


def test_torque_wrapper_rejects_x_and_prints_no_record() -> None:
    assert parsing.parse_qstat_full((SAMPLES / "torque_wrapper_qstat_f_x_unsupported.txt").read_text()) == []


def test_submit_ids_of_pbs_pro_torque_and_the_wrappers() -> None:
    assert parsing.parse_submit("1234.pbs-server\n") == "1234.pbs-server"
    assert parsing.parse_submit("1235[].pbs-server\n") == "1235[].pbs-server"
    assert parsing.parse_submit("46\n") == "46"
    with pytest.raises(ValueError, match="no job id"):
        parsing.parse_submit("qsub: Unknown queue\n")
