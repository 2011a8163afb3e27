"""The local backend applies ``env`` and ``setup`` as every other backend does."""

from __future__ import annotations

import pytest

from clustrix import cluster
from clustrix.errors import JobFailed


def test_local_job_sees_its_env_and_what_setup_exported() -> None:
    @cluster(cluster_type="local", env={"GREETING": "hello $USER 'world'"}, setup=["export FROM_SETUP=yes"])
    def read() -> tuple[str | None, str | None]:
        import os

        return os.environ.get("GREETING"), os.environ.get("FROM_SETUP")

    assert read() == ("hello $USER 'world'", "yes")


def test_local_map_elements_all_see_env_and_setup() -> None:
    @cluster(cluster_type="local", env={"FACTOR": "3"}, setup="export OFFSET=1")
    def scale(x: int) -> int:
        import os

        return x * int(os.environ["FACTOR"]) + int(os.environ["OFFSET"])

    assert [f.result(timeout=60) for f in scale.map(range(5))] == [1, 4, 7, 10, 13]


def test_failing_setup_line_fails_the_job_with_its_output() -> None:
    @cluster(cluster_type="local", setup=["echo loading modules", "no-such-module-command --load gcc"])
    def never() -> str:
        return "ran without its setup"

    with pytest.raises(JobFailed) as info:
        never()
    assert "no-such-module-command" in str(info.value) and "not found" in str(info.value)
