"""A ClusterFuture passed as an argument is a dependency: the child gets the parent's value
(read on the execution host), or fails with DependencyFailed when the parent failed."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest

from clustrix import DependencyFailed, cluster, runner
from clustrix.dependencies import dumps_calls, futures_in, reference

LOCAL = {"cluster_type": "local"}


@cluster(**LOCAL)
def square(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return x * x


@cluster(**LOCAL)
def add(a: int, b: int = 0) -> int:
    return a + b


@cluster(**LOCAL)
def total(nested: dict) -> int:
    return sum(nested["values"]) + sum(v for pair in nested["pairs"] for v in pair)


def test_futures_at_any_depth_of_lists_tuples_dicts_become_their_values() -> None:
    squares = square.map([0, 1, 2, 4])
    sums = add.map(squares[:2], [10, 20])
    report = total.submit({"values": sums, "pairs": [(squares[2], squares[3])]})
    assert report.result(timeout=120) == (0 + 10) + (1 + 20) + 4 + 16


def test_a_whole_map_passed_as_an_argument_becomes_the_list_of_its_values() -> None:
    squares = square.map([0, 1, 2, 4])  # a FutureList, not a list: it travels as one
    report = total.submit({"values": squares, "pairs": []})
    assert report.result(timeout=120) == 0 + 1 + 4 + 16


def test_keyword_argument_future_is_resolved() -> None:
    parent = add.submit(2, 3)
    assert add.submit(1, b=parent).result(timeout=120) == 6


def test_failed_parent_makes_dependent_call_fail_with_dependency_failed() -> None:
    parents = square.map([2, 3])
    children = add.map(parents, [1, 1])
    assert children[0].result(timeout=120) == 5
    with pytest.raises(DependencyFailed) as info:
        children[1].result(timeout=120)
    err = info.value
    assert err.parent_id == parents[1].job_id
    assert err.job_id == children[1].job_id
    assert "ValueError" in str(err) and "three is refused" in str(err)
    assert "three is refused" in str(err.__cause__)


def test_references_name_the_parent_call_and_its_place_in_the_parent_job() -> None:
    parents = add.map([1, 2, 3], [0, 0, 0])
    for f in parents:
        f.result(timeout=120)
    assert futures_in([{"k": (parents[2],)}]) == [parents[2]]
    tag, call_id, remote_dir, element, offset = reference(parents[2])
    assert (tag, call_id, remote_dir) == (runner.REFERENCE, parents[2].job_id, parents[2].job.remote_dir)
    assert parents[2].job.calls_of(element)[offset] == 2


def _signed(key: bytes, entries: list[bytes]) -> bytes:
    body = pickle.dumps(entries, protocol=4)
    return runner.MAGIC + b" " + runner.sign(key, body) + b"\n" + body


def _parent_dir(tmp_path: Path, key: bytes, result: bytes) -> Path:
    parent = tmp_path / "parent"
    (parent / "results").mkdir(parents=True)
    (parent / "key").write_bytes(key)
    (parent / "results" / "0.pkl").write_bytes(result)
    return parent


def _resolve(tmp_path: Path, parent_dir: Path) -> object:
    child = tmp_path / "child"
    child.mkdir()
    buffer = io.BytesIO()

    class Referencing(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return (runner.REFERENCE, "cparent", str(parent_dir), 0, 0) if obj == "PARENT" else None

    Referencing(buffer, protocol=4).dump([(("PARENT",), {})])
    buffer.seek(0)
    calls = runner.ReferenceResolver(buffer, str(child), b"k" * 32, {}).load()
    return calls[0][0][0]


def test_runner_reads_the_parent_value_after_checking_the_parent_key(tmp_path: Path) -> None:
    import cloudpickle

    key = b"p" * 32
    parent = _parent_dir(tmp_path, key, _signed(key, [cloudpickle.dumps(("ok", {"big": 1}))]))
    assert _resolve(tmp_path, parent) == {"big": 1}


def test_runner_refuses_a_parent_result_not_signed_with_the_parent_key(tmp_path: Path) -> None:
    import cloudpickle

    forged = _signed(b"x" * 32, [cloudpickle.dumps(("ok", "evil"))])
    parent = _parent_dir(tmp_path, b"p" * 32, forged)
    with pytest.raises(RuntimeError, match="not an authentic"):
        _resolve(tmp_path, parent)


def test_runner_turns_a_parent_without_result_into_a_failed_dependency(tmp_path: Path) -> None:
    parent = _parent_dir(tmp_path, b"p" * 32, b"")
    (parent / "results" / "0.pkl").unlink()
    failed = _resolve(tmp_path, parent)
    assert isinstance(failed, runner.FailedDependency) and failed.parent == "cparent"


def test_dumps_calls_writes_no_future_state() -> None:
    parent = add.submit(1, 1)
    blob = dumps_calls([((parent,), {})])
    assert b"ClusterFuture" not in blob and parent.job_id.encode() in blob
    parent.result(timeout=120)
