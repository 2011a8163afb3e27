"""joblib's Parallel and scikit-learn's n_jobs on Clustrix (backend "clustrix").

The grid search runs on the real Slurm and SGE and must pick the same parameters as the
same search run locally by joblib's default backend.
"""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure import require

joblib = pytest.importorskip("joblib")
pytest.importorskip("sklearn")

import clustrix.joblib  # noqa: E402  (registers the backend)
from clustrix.errors import ConfigError  # noqa: E402

CLUSTERS: dict[str, dict[str, Any]] = {
    "slurm": {"cluster_type": "slurm", "memory": "512MB", "time": "00:10:00"},
    "sge": {"cluster_type": "sge"},
}


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"three is not allowed: {x}")
    return x


def test_parallel_runs_batches_as_one_job_in_order() -> None:
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="clustrix", tasks_per_job=4):
        results = Parallel(n_jobs=-1)(delayed(square)(i) for i in range(10))
    assert results == [i * i for i in range(10)]
    jobs = clustrix.jobs()
    assert len(jobs) == 1 and jobs[0]["calls"] == 10


def test_a_failing_task_reraises_its_exception_type() -> None:
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="clustrix"), pytest.raises(ValueError, match="three is not allowed"):
        Parallel(n_jobs=-1)(delayed(fail_on_three)(i) for i in range(5))


def test_a_bad_setting_fails_before_anything_runs() -> None:
    from joblib import Parallel, delayed, parallel_config

    with pytest.raises(ConfigError), parallel_config(backend="clustrix", cores=-2):
        Parallel()(delayed(square)(i) for i in range(2))


def grid_search(backend: str | None, **settings: Any) -> dict[str, Any]:
    from joblib import parallel_config
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": [0.01, 0.1]}, cv=3, n_jobs=-1)
    if backend is None:
        search.fit(X, y)
    else:
        with parallel_config(backend=backend, **settings):
            search.fit(X, y)
    return {"params": search.best_params_, "score": round(search.best_score_, 12)}


@pytest.mark.parametrize("cluster", list(CLUSTERS))
def test_grid_search_on_a_cluster_finds_what_a_local_run_finds(cluster: str) -> None:
    require(cluster)
    local = grid_search(None)
    remote = grid_search("clustrix", **CLUSTERS[cluster])
    assert remote == local
    (job,) = clustrix.jobs()
    assert job["backend"] == cluster and job["state"] == "COMPLETED"
