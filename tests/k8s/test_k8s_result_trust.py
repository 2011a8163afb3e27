"""On Kubernetes a result is taken only from a pod the job's own Job controls, and only
if the job's key signed it: a look-alike pod (same labels, which anyone who may create
pods can set) or an unsigned result in a pod log is never unpickled.

Real ``kubernetes`` client against the API emulator, whose kubelet runs the pods.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from clustrix import cluster
from clustrix.errors import ClustrixError
from k8s_emulator import Emulator

TIMEOUT = 60


class RunsCodeWhenUnpickled:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def forged_log_block(job_id: str, marker: Path) -> str:
    """A result block as the bootstrap prints it, with a valid length and sha256 but no
    signature by the job's key: an old-format result whose unpickling runs code."""
    body = pickle.dumps([("ok", RunsCodeWhenUnpickled(str(marker)))])
    data = b"CLUSTRIX1 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    tag = f"job={job_id} element=0"
    return (
        f"\n==== CLUSTRIX RESULT BEGIN {tag} bytes={len(data)} sha256={hashlib.sha256(data).hexdigest()} ====\n"
        + base64.encodebytes(data).decode()
        + f"==== CLUSTRIX RESULT END {tag} ====\n"
    )


def _wait(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_lookalike_pod_with_the_jobs_labels_is_not_taken_for_its_pod(
    k8s_options: dict[str, Any], k8s_emulator: Emulator, tmp_path: Path
) -> None:
    release, marker = tmp_path / "release", tmp_path / "forged-result-ran"

    @cluster(**k8s_options)
    def real(path: str) -> str:
        import os
        import time

        while not os.path.exists(path):
            time.sleep(0.05)
        return "from the job's own pod"

    future = real.submit(str(release))
    name = future.native_id.split("/", 1)[1]
    _wait(lambda: k8s_emulator.pods(name), "the job's pod")
    labels = dict(k8s_emulator.pods(name)[0]["metadata"]["labels"])
    impostor_labels = {k: v for k, v in labels.items() if "controller-uid" not in k}  # the uid cannot be faked
    script = f"import sys; sys.stdout.write({forged_log_block(future.job_id, marker)!r})"
    impostor = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{name}-0-impostor", "labels": impostor_labels},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "clustrix", "image": "python:3.11-slim", "command": ["python3", "-c", script]}],
        },
    }
    client.CoreV1Api(k8s_emulator.api_client()).create_namespaced_pod("default", impostor)

    def impostor_succeeded() -> bool:
        pods = k8s_emulator.store.list("pods", "default")
        return any(
            p["metadata"]["name"] == impostor["metadata"]["name"] and p["status"]["phase"] == "Succeeded" for p in pods
        )

    _wait(impostor_succeeded, "the impostor pod to succeed")
    release.write_text("go")  # the watcher saw the impostor succeed while the job's own pod still ran
    assert future.result(timeout=TIMEOUT) == "from the job's own pod"
    assert not marker.exists(), "the impostor's result was unpickled"


def test_unsigned_result_in_the_jobs_pod_log_is_refused(k8s_options: dict[str, Any], tmp_path: Path) -> None:
    marker = tmp_path / "forged-result-ran"
    block = forged_log_block("JOBID", marker)

    @cluster(**k8s_options)
    def forges(template: str) -> None:
        import os
        import sys

        sys.stdout.write(template.replace("JOBID", os.environ["CLUSTRIX_JOB_ID"]))
        sys.stdout.flush()
        os._exit(0)  # no result of its own: the forged block is the only one in the log

    with pytest.raises(ClustrixError, match="refusing to unpickle"):
        forges.submit(block).result(timeout=TIMEOUT)
    assert not marker.exists(), "an unsigned result from a pod log was unpickled"
