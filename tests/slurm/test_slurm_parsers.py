"""Slurm's answers, as recorded from a real Slurm 22.05 (tests/infra/samples), read right."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustrix.job import State
from clustrix_slurm import parsing

SAMPLES = Path(__file__).parent.parent / "infra" / "samples"


def sample(name: str) -> str:
    return (SAMPLES / f"slurm_{name}.txt").read_text()


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("PENDING", State.PENDING),
        ("CONFIGURING", State.PENDING),
        ("REQUEUED", State.PENDING),
        ("RUNNING", State.RUNNING),
        ("COMPLETING", State.RUNNING),
        ("SUSPENDED", State.RUNNING),
        ("COMPLETED", State.COMPLETED),
        ("FAILED", State.FAILED),
        ("CANCELLED", State.CANCELLED),
        ("CANCELLED by 1001", State.CANCELLED),
        ("CANCELLED+", State.CANCELLED),
        ("TIMEOUT", State.TIMEOUT),
        ("DEADLINE", State.TIMEOUT),
        ("OUT_OF_MEMORY", State.OUT_OF_MEMORY),
        ("NODE_FAIL", State.NODE_FAIL),
        ("BOOT_FAIL", State.NODE_FAIL),
        ("PREEMPTED", State.PREEMPTED),
        ("SOMETHING_NEW", State.FAILED),
    ],
)
def test_every_slurm_state_maps_to_a_clustrix_state(text: str, state: State) -> None:
    assert parsing.state_of(text) == state


def test_sacct_noheader_output_gives_final_state_of_each_job_and_array_task() -> None:
    states = parsing.parse_table(sample("sacct_parsable2_noheader_all"), column=2)  # JobID,JobName,State,...
    assert states[("51", None)] == State.CANCELLED  # "CANCELLED by 1001"
    assert states[("54", 0)] == State.COMPLETED
    assert states[("54", 1)] == State.FAILED
    assert states[("55", None)] == State.COMPLETED
    assert states[("58", None)] == State.OUT_OF_MEMORY
    assert states[("59", None)] == State.TIMEOUT


def test_sacct_job_steps_are_ignored() -> None:
    text = "55|COMPLETED\n55.batch|FAILED\n55.extern|COMPLETED\n"
    assert parsing.parse_table(text) == {("55", None): State.COMPLETED}


def test_sacct_pending_array_range_expands_to_its_tasks() -> None:
    states = parsing.parse_table("54_[0-3,7%2]|PENDING\n")
    assert sorted(states) == [("54", 0), ("54", 1), ("54", 2), ("54", 3), ("54", 7)]


def test_sacct_later_record_of_a_reused_id_wins() -> None:
    assert parsing.parse_table("55|FAILED\n55|COMPLETED\n") == {("55", None): State.COMPLETED}


def test_table_keeps_only_the_asked_jobs() -> None:
    assert set(parsing.parse_table(sample("sacct_parsable2_noheader_all"), ["56"], column=2)) == {("56", None)}


def test_squeue_all_states_output_gives_terminal_states_while_the_controller_remembers() -> None:
    states = parsing.parse_table(sample("squeue_t_all_finished"), column=2)  # %i|%j|%T|%r
    assert states[("54", 0)] == State.COMPLETED
    assert states[("54", 2)] == State.FAILED
    assert states[("57", None)] == State.CANCELLED
    assert states[("59", None)] == State.TIMEOUT


def test_squeue_live_pending_and_running() -> None:
    assert parsing.parse_table(sample("squeue_pending"), column=2) == {("52", None): State.PENDING}
    assert parsing.parse_table(sample("squeue_running"), column=2) == {("51", None): State.RUNNING}


def test_scontrol_array_tasks_are_keyed_by_array_id_and_task() -> None:
    states = parsing.parse_scontrol_jobs(sample("scontrol_show_job_array"))
    assert states == {("54", 2): State.FAILED, ("54", 1): State.FAILED, ("54", 0): State.COMPLETED}


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("scontrol_show_job_completed", State.COMPLETED),
        ("scontrol_show_job_failed", State.FAILED),
        ("scontrol_show_job_timeout", State.TIMEOUT),
        ("scontrol_show_job_out_of_memory", State.OUT_OF_MEMORY),
        ("scontrol_show_job_cancelled", State.CANCELLED),
        ("scontrol_show_job_pending", State.PENDING),
        ("scontrol_show_job_oneliner_running", State.RUNNING),
    ],
)
def test_scontrol_show_job_gives_the_state(name: str, state: State) -> None:
    states = parsing.parse_scontrol_jobs(sample(name))
    assert list(states.values()) == [state]


def test_scontrol_unknown_job_gives_nothing() -> None:
    assert parsing.parse_scontrol_jobs(sample("scontrol_show_job_unknown")) == {}


def test_scontrol_pending_array_range_expands() -> None:
    line = "JobId=70 ArrayJobId=70 ArrayTaskId=0-2%1 ArrayTaskThrottle=1 JobName=a JobState=PENDING Reason=None\n"
    assert set(parsing.parse_scontrol_jobs(line)) == {("70", 0), ("70", 1), ("70", 2)}


def test_sbatch_parsable_id_with_and_without_cluster() -> None:
    assert parsing.parse_sbatch("123\n") == "123"
    assert parsing.parse_sbatch("123;clustrix\n") == "123"
    with pytest.raises(ValueError, match="no job id"):
        parsing.parse_sbatch("sbatch: error: something\n")


def test_max_array_size_read_from_scontrol_show_config() -> None:
    text = "Configuration data as of 2026-11-30T06:24:44\nMaxArraySize            = 1001\nMaxJobCount = 10000\n"
    assert parsing.parse_config_value(text, "MaxArraySize") == "1001"
    assert parsing.parse_config_value(text, "Missing") is None
