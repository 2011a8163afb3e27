"""A result the client cannot unpickle fails that call only; nothing else on the target waits for it.

Real local backend, real job processes: the unreadable values are built where the job
runs (a module that exists only there; a value whose rebuild fails) and travel back as
they would from a cluster.
"""

from __future__ import annotations

import threading
import time

import pytest

from clustrix import cluster
from clustrix.errors import ClustrixError
from clustrix.hookspecs import hookimpl
from clustrix.job_access import store_here
from clustrix.plugins import manager

WAIT = 60  # a guard against hanging, not a speed requirement


def returns_class_only_the_cluster_has(tag: str):
    """Defined in the job: writes a module into a temporary directory there and returns an
    instance of its class, which cloudpickle pickles by reference to that module."""

    def make():
        import importlib
        import sys
        import tempfile

        where = tempfile.mkdtemp()
        name = f"only_on_cluster_{tag}"
        with open(f"{where}/{name}.py", "w") as f:
            f.write("class Thing:\n    pass\n")
        sys.path.insert(0, where)
        return importlib.import_module(name).Thing()

    return make


def _fails_to_rebuild():
    raise RuntimeError("this value cannot be rebuilt here")


class FailsToRebuild:
    """Pickles fine where it is made; unpickling it (on the client) raises."""

    def __reduce__(self):
        return (_fails_to_rebuild, ())


def test_unreadable_result_fails_its_job_only_and_the_other_job_on_the_target_completes():
    @cluster
    def unreadable():
        return returns_class_only_the_cluster_has("a")()

    @cluster
    def fine():
        return 42

    bad, good = unreadable.submit(), fine.submit()
    assert good.result(timeout=WAIT) == 42
    with pytest.raises(ClustrixError, match="ModuleNotFoundError") as info:
        bad.result(timeout=WAIT)
    assert type(info.value).__name__ == "ResultUnreadable"
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    store = store_here()
    assert store.row(good.job_id)["state"] == "COMPLETED"
    assert store.row(bad.job_id)["state"] == "FAILED"


def test_value_whose_rebuild_fails_fails_that_call_only_within_one_array_element():
    @cluster(tasks_per_job=3)
    def some(i):
        return FailsToRebuild() if i == 1 else i * 10

    futures = some.map([0, 1, 2])
    assert futures[0].job.n_elements == 1  # all three calls share one result file
    assert futures[0].result(timeout=WAIT) == 0
    assert futures[2].result(timeout=WAIT) == 20
    with pytest.raises(ClustrixError, match="cannot be rebuilt here") as info:
        futures[1].result(timeout=WAIT)
    assert type(info.value).__name__ == "ResultUnreadable"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_clustrix_result_says_why_a_result_cannot_be_read(cli_runner):
    @cluster
    def unreadable():
        return returns_class_only_the_cluster_has("b")()

    future = unreadable.submit()
    with pytest.raises(ClustrixError):
        future.result(timeout=WAIT)
    from clustrix.cli import main

    done = cli_runner.invoke(main, ["result", future.job_id])
    assert done.exit_code == 1, done.output
    assert "cannot be unpickled here" in done.output
    assert "ModuleNotFoundError: No module named 'only_on_cluster_b'" in done.output


class FetchFailsFor:
    """A fetch that fails for the jobs of one function (a dropped connection, say) until released."""

    def __init__(self, function: str) -> None:
        self.function = function
        self.release = threading.Event()
        self.failures = 0

    @hookimpl(tryfirst=True)
    def clustrix_fetch(self, job, target, elements):
        if job.function.endswith(self.function) and not self.release.is_set():
            self.failures += 1
            raise ConnectionResetError("connection dropped while fetching")
        return None


def test_a_job_whose_fetch_fails_does_not_hold_up_the_other_jobs_of_its_target():
    @cluster
    def held(x):
        return x

    @cluster
    def free(x):
        return x

    spy = FetchFailsFor("held")
    manager().register(spy, "test-fetch-fails")
    try:
        first = held.submit(1)
        deadline = time.monotonic() + WAIT
        while not first.job.result_path(0).exists():  # the local backend writes it in place
            assert time.monotonic() < deadline, "the first job never finished"
            time.sleep(0.05)
        second = free.submit(2)  # every cycle settling it also tries (and fails) to fetch the first
        assert second.result(timeout=WAIT) == 2  # settled although the first job's fetch keeps failing
        assert spy.failures >= 1 and not first.done()
        spy.release.set()
        assert first.result(timeout=WAIT) == 1  # retried in a later cycle once the fetch works
    finally:
        manager().unregister("test-fetch-fails")


@pytest.fixture
def cli_runner():
    from click.testing import CliRunner

    return CliRunner()
