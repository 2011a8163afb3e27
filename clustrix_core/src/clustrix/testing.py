"""Conformance kit: the tests every Clustrix backend must pass.

Subclass :class:`BackendConformance` in your test suite and provide a
``backend_options`` fixture returning the ``@cluster`` keywords that select your
backend (``{"cluster_type": "mybackend", ...}``)::

    from clustrix.testing import BackendConformance

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def backend_options(self):
            return {"cluster_type": "mybackend"}

The functions the tests submit are defined inside the tests, so cloudpickle sends them
by value: the execution host needs Python and cloudpickle, not Clustrix or pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from .decorator import cluster
from .errors import PicklingError, PluginContractError
from .future import ClusterFuture
from .hookspecs import REQUIRED_HOOKS, hookimpl
from .job import Job, State
from .lifecycle import resolve
from .plugins import check_backend, implemented, manager
from .target import Target


def wait_for_state(future: ClusterFuture, done: Callable[[State], bool], timeout: float) -> State:
    """Ask the backend (not the future) until ``done(state)`` holds for the call's element."""
    target, job = future.target, future.job
    deadline = time.monotonic() + timeout
    state = State.PENDING
    while time.monotonic() < deadline:
        answer = target.hooks.clustrix_status(jobs=[job], target=target) or {}
        if job.job_id in answer:
            state = answer[job.job_id].of(job.element_of(future.index))
            if done(state):
                return state
        time.sleep(0.2)
    raise AssertionError(f"job {future.job_id} did not reach the expected state in {timeout} s (last: {state})")


def wait_for_output(future: ClusterFuture, text: str, timeout: float, stream: str = "err") -> None:
    """Wait until the call's element has written ``text`` to its stdout/stderr log.

    A scheduler reports RUNNING before Python has started; a test that kills the job
    to check what it had printed must wait for the print itself.
    """
    job = future.job
    path = job.remote_log(job.element_of(future.index), stream)
    deadline = time.monotonic() + timeout
    while text not in (future.target.transport.read_text(path) or ""):
        if time.monotonic() > deadline:
            raise AssertionError(f"job {future.job_id} did not write {text!r} to {path} in {timeout} s")
        time.sleep(0.1)


class StatusSpy:
    """Hookwrapper recording how many of ``watched`` jobs each status call asked about (the
    calls about other jobs, e.g. a watcher still following an earlier test's, are left out)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.watched: set[str] = set()

    @hookimpl(wrapper=True)
    def clustrix_status(self, jobs: Any, target: Any) -> Any:
        mine = [job for job in jobs if job.job_id in self.watched]
        if mine:
            self.calls.append(len(mine))
        return (yield)


class _OnlySubmits:
    """A backend that forgot every hook but ``clustrix_submit``: must be refused."""

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        return "never"


class BackendConformance:
    """The contract (required hooks, an incomplete backend refused, the job's files where
    the layout helpers say), round trip, exception type, unpicklable input, map order,
    arrays, cancel, batched status, ``env`` and ``setup`` applied."""

    #: seconds any single job may take on this backend, queueing included
    timeout: float = 120
    #: whether the job's files live where ``target.transport`` reaches them (False on Kubernetes,
    #: whose pods keep theirs); the layout check reads them there
    remote_files: bool = True

    @pytest.fixture
    def backend_options(self) -> dict[str, Any]:
        raise NotImplementedError("provide a backend_options fixture returning @cluster keywords")

    def test_backend_implements_the_required_hooks(self, backend_options: dict[str, Any]) -> None:
        name = resolve(backend_options).values["cluster_type"]
        plugins = manager()
        assert name in plugins.backends(), f"{name!r} is not a loaded backend: see `clustrix plugins`"
        plugin = plugins.pm.get_plugin(name)
        check_backend(plugins.pm, plugin, name)
        assert set(REQUIRED_HOOKS) <= implemented(plugins.pm, plugin)

    def test_incomplete_backend_is_refused_at_registration(self) -> None:
        with pytest.raises(PluginContractError, match="clustrix_status"):
            manager().register(_OnlySubmits(), name="conformance-incomplete")
        assert not manager().pm.has_plugin("conformance-incomplete")

    def test_round_trip_returns_value(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def add(a: int, b: int) -> dict[str, int]:
            return {"sum": a + b}

        future = add.submit(2, 3)
        assert isinstance(future, ClusterFuture)
        assert future.result(timeout=self.timeout) == {"sum": 5}
        assert future.native_id

    def test_remote_exception_keeps_its_type(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def fail(key: str) -> None:
            raise KeyError(key)

        with pytest.raises(KeyError) as info:
            fail.submit("missing-key").result(timeout=self.timeout)
        assert info.value.args == ("missing-key",)
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "Remote traceback" in notes and "in fail" in notes

    def test_unpicklable_argument_fails_at_submit(self, backend_options: dict[str, Any]) -> None:
        import threading

        @cluster(**backend_options)
        def use(lock: Any) -> None:
            return None

        with pytest.raises(PicklingError, match="argument 0"):
            use.submit(threading.Lock())

    def test_map_keeps_input_order(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def square(x: int) -> int:
            return x * x

        futures = square.map(range(7))
        assert [f.result(timeout=self.timeout) for f in futures] == [x * x for x in range(7)]
        assert len({f.job.job_id for f in futures}) == 1, "a map is one job (an array where there are arrays)"
        assert len({f.job_id for f in futures}) == 7

    def test_map_with_packing_keeps_order_and_exceptions(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def invert(x: int) -> float:
            return 1 / x

        futures = invert.map([4, 2, 0, 1, 5], tasks_per_job=2)
        assert futures[0].job.n_elements == 3
        assert futures[0].result(timeout=self.timeout) == 0.25
        with pytest.raises(ZeroDivisionError):
            futures[2].result(timeout=self.timeout)
        assert [f.result(timeout=self.timeout) for i, f in enumerate(futures) if i != 2] == [0.25, 0.5, 1.0, 0.2]

    def test_env_and_setup_are_applied(self, backend_options: dict[str, Any]) -> None:
        options = dict(backend_options)
        value = "two words, $HOME and 'quotes' stay literal"
        options["env"] = {**(options.get("env") or {}), "CLUSTRIX_KIT_ENV": value}
        setup = options.get("setup") or []
        options["setup"] = [*([setup] if isinstance(setup, str) else setup), "export CLUSTRIX_KIT_SETUP=ran"]

        @cluster(**options)
        def environment() -> tuple[str | None, str | None]:
            import os

            return os.environ.get("CLUSTRIX_KIT_ENV"), os.environ.get("CLUSTRIX_KIT_SETUP")

        assert environment.submit().result(timeout=self.timeout) == (value, "ran")

    def test_job_files_are_where_the_layout_helpers_say(self, backend_options: dict[str, Any]) -> None:
        if not self.remote_files:
            pytest.skip("this backend keeps its job files off the transport's filesystem (remote_files = False)")

        @cluster(**{**backend_options, "keep_files": True})
        def speak(x: int) -> int:
            import sys

            print(f"to stdout {x}")
            print(f"to stderr {x}", file=sys.stderr)
            return x

        futures = speak.map([1, 2])
        assert [f.result(timeout=self.timeout) for f in futures] == [1, 2]
        job, transport = futures[0].job, futures[0].target.transport
        results = transport.listdirs([job.remote_results_dir])[job.remote_results_dir]
        for x, future in zip([1, 2], futures, strict=True):
            element = job.element_of(future.index)
            assert job.remote_result(element).rsplit("/", 1)[1] in results
            assert f"to stdout {x}" in (transport.read_text(job.remote_log(element, "out")) or "")
            assert f"to stderr {x}" in (transport.read_text(job.remote_log(element)) or "")

    def test_cancel_stops_a_running_job(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def nap(seconds: float) -> str:
            import time

            time.sleep(seconds)
            return "woke up"

        future = nap.submit(300)
        wait_for_state(future, lambda s: s == State.RUNNING, self.timeout)
        assert future.cancel()
        assert future.cancelled()
        final = wait_for_state(future, lambda s: s.terminal, self.timeout)
        assert final != State.COMPLETED

    def test_status_is_batched(self, backend_options: dict[str, Any]) -> None:
        @cluster(**backend_options)
        def nap(seconds: float) -> float:
            import time

            time.sleep(seconds)
            return seconds

        spy = StatusSpy()
        manager().pm.register(spy, name="conformance-status-spy")
        try:
            futures = []
            for _ in range(3):
                futures.append(nap.submit(1.5))
                spy.watched.add(futures[-1].job.job_id)
            target = futures[0].target
            answer = target.hooks.clustrix_status(jobs=[f.job for f in futures], target=target)
            assert set(answer) == {f.job.job_id for f in futures}
            assert [f.result(timeout=self.timeout) for f in futures] == [1.5] * 3
        finally:
            manager().pm.unregister(name="conformance-status-spy")
        assert max(spy.calls) == 3, f"one status call should cover all outstanding jobs, saw {spy.calls}"
