"""Grid Engine parsers against outputs recorded from a real Son of Grid Engine 8.1.9."""

from __future__ import annotations

from pathlib import Path

from clustrix.job import State
from clustrix_sge import parsing

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_terse_submit_output_gives_job_number_for_plain_and_array_jobs():
    assert parsing.parse_submit("39\n") == "39"
    assert parsing.parse_submit("42.1-3:1\n") == "42"


def test_qstat_xml_states_of_running_pending_held_and_error_jobs():
    codes = parsing.parse_qstat_xml(sample("qstat_xml_mixed.txt"))
    states = {key: parsing.live_state(code) for key, code in codes.items()}
    assert states[("22", None)] == State.RUNNING
    assert states[("23", None)] == State.PENDING
    assert states[("24", None)] == State.PENDING  # hqw
    assert states[("21", None)] == State.FAILED  # Eqw
    assert [states[("25", t)] for t in (1, 2, 3)] == [State.PENDING] * 3  # <tasks>1-3:1</tasks>


def test_a_job_being_deleted_before_it_ran_is_cancelled_and_one_running_still_runs():
    assert [parsing.live_state(code) for code in ("dqw", "dhqw", "dt", "dr", "dEqw")] == [
        State.CANCELLED,
        State.CANCELLED,
        State.RUNNING,
        State.RUNNING,
        State.FAILED,
    ]


def test_qstat_xml_array_tasks_are_listed_one_by_one_when_running():
    codes = parsing.parse_qstat_xml(sample("qstat_xml_array_running.txt"))
    assert codes == {("42", 1): "r", ("42", 2): "r", ("42", 3): "qw"}


def test_qstat_xml_without_jobs_is_empty():
    assert parsing.parse_qstat_xml(sample("qstat_xml_empty.txt")) == {}


def test_task_ranges_with_steps_and_lists():
    assert parsing.task_ids("2-10:4,15") == [2, 6, 10, 15]


def test_error_reason_is_read_from_qstat_j():
    reasons = parsing.error_reasons(sample("qstat_j_error_state.txt"))
    assert reasons == ['error: can\'t open output file "/nonexistent/x.out": No such file or directory']


def test_qacct_completed_failed_timeout_cancelled():
    def state(name: str) -> State:
        (record,) = parsing.parse_qacct(sample(name))
        return record.state

    assert state("qacct_j_completed.txt") == State.COMPLETED
    assert state("qacct_j_failed_exit3.txt") == State.FAILED
    assert state("qacct_j_h_rt_exceeded.txt") == State.TIMEOUT
    assert state("qacct_j_cancelled_qdel_running.txt") == State.CANCELLED
    assert state("qacct_j_error_state_qdel.txt") == State.FAILED


def test_qacct_failure_reason_names_the_failure():
    (record,) = parsing.parse_qacct(sample("qacct_j_h_rt_exceeded.txt"))
    assert "failed 37" in record.reason and "h_rt" in record.reason


def test_qacct_array_has_one_record_per_task():
    records = parsing.parse_qacct(sample("qacct_j_array.txt"))
    assert [(r.task, r.exit_status, r.state) for r in records] == [
        (1, 0, State.COMPLETED),
        (2, 1, State.FAILED),
        (3, 2, State.FAILED),
    ]


def test_qacct_unknown_job_has_no_record():
    assert parsing.parse_qacct(sample("qacct_j_unknown.txt")) == []
