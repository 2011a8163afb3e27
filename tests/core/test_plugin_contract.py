"""The plugin contract fails loudly: an incomplete backend is refused when it is
registered, and a backend whose status keeps failing fails its futures instead of
letting them wait forever."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from clustrix import cluster
from clustrix.errors import PluginContractError, StatusUnavailable
from clustrix.plugin import BatchScheduler, Job, JobStatus, Target, hookimpl
from clustrix.plugins import manager


class OnlySubmits:
    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        return "1"


def test_backend_missing_required_hooks_is_refused_naming_plugin_and_hooks() -> None:
    with pytest.raises(PluginContractError, match=r"'half'.*clustrix_status, clustrix_cancel"):
        manager().register(OnlySubmits(), name="half")
    assert not manager().pm.has_plugin("half")
    assert "half" not in manager().backends()


def test_batch_scheduler_missing_a_method_cannot_be_instantiated() -> None:
    class NoLive(BatchScheduler):
        def directives(self, job, target, chunk):  # type: ignore[no-untyped-def]
            return []

    with pytest.raises(TypeError, match="NoLive") as info:
        NoLive()  # type: ignore[abstract]
    for method in ("live", "finished", "submit_argv", "parse_submit", "cancel_argv"):
        assert method in str(info.value)


class StatusAlwaysFails:
    """A backend that starts jobs (nothing runs) but whose status call always raises."""

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        return "1"

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        raise RuntimeError("the scheduler answers garbage")

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        return True


@pytest.fixture
def failing_status_backend():
    manager().register(StatusAlwaysFails(), name="failing-status")
    yield "failing-status"
    manager().unregister("failing-status")


def test_repeated_status_errors_fail_the_futures_with_the_error(failing_status_backend) -> None:
    @cluster(cluster_type=failing_status_backend, status_failures=3, poll_interval=0.01, max_poll_interval=0.05)
    def never_runs() -> int:
        return 1

    future = never_runs.submit()
    with pytest.raises(StatusUnavailable, match=r"3 poll cycles in a row.*the scheduler answers garbage") as info:
        future.result(timeout=60)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_status_failures_setting_is_refused_below_one(failing_status_backend) -> None:
    from clustrix.errors import ConfigError

    with pytest.raises(ConfigError, match="status_failures"):

        @cluster(cluster_type=failing_status_backend, status_failures=0)
        def f() -> None: ...

        f.submit()


def test_scheduler_specific_keys_are_declared_by_their_plugins() -> None:
    from clustrix.config import CORE_SETTINGS

    table = manager().settings()
    assert table["partition"].plugin == table["qos"].plugin == "clustrix_slurm.scheduler"
    assert table["queue"].plugin in ("clustrix_pbs.scheduler", "clustrix_sge.scheduler")
    assert not {"partition", "qos", "queue"} & {s.name for s in CORE_SETTINGS}
