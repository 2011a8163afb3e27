"""The Job and Secret the backend builds: valid names, labels and quantities; payload off the args."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clustrix_k8s import manifest as m
from clustrix_k8s.results import NoResult, extract


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize(
    ("memory", "quantity"),
    [
        ("16GB", "16G"),
        ("2Gi", "2Gi"),
        ("512MB", "512M"),
        ("4G", "4Gi"),
        (1024, "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("1.0001MB", "1000100"),
    ],
)
def test_memory_becomes_an_exact_kubernetes_quantity(make_job: Any, memory: Any, quantity: str) -> None:
    res = container(m.job_manifest(make_job(memory=memory), "name"))["resources"]
    assert res["requests"]["memory"] == quantity
    assert res["limits"]["memory"] == quantity, "without memory_limit the limit is the request"


def test_cores_limits_and_gpus_map_to_requests_and_limits(make_job: Any) -> None:
    job = make_job(cores=4, cpu_limit="4500m", memory="1GB", memory_limit="2GB", gpus=2)
    res = container(m.job_manifest(job, "name"))["resources"]
    assert res == {
        "requests": {"cpu": "4", "memory": "1G"},
        "limits": {"cpu": "4500m", "memory": "2G", "nvidia.com/gpu": "2"},
    }


def test_map_is_one_indexed_job_with_parallelism_from_max_concurrent(make_job: Any) -> None:
    spec = m.job_manifest(make_job(n_calls=10, max_concurrent=3), "name")["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 10, 3)


def test_defaults_do_not_retry_and_time_becomes_the_pod_deadline(make_job: Any) -> None:
    spec = m.job_manifest(make_job(time="01:30:00", k8s_ttl_seconds=600), "name")["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["template"]["spec"]["activeDeadlineSeconds"] == 5400
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_placement_settings_reach_the_pod_spec(make_job: Any) -> None:
    toleration = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    job = make_job(
        k8s_service_account="runner",
        k8s_node_selector={"pool": "batch"},
        k8s_tolerations=[toleration],
        k8s_image="registry.example/py:3.11",
        k8s_labels={"team": "physics"},
    )
    manifest = m.job_manifest(job, "name")
    pod = manifest["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "runner"
    assert pod["nodeSelector"] == {"pool": "batch"}
    assert pod["tolerations"] == [toleration]
    assert container(manifest)["image"] == "registry.example/py:3.11"
    assert manifest["metadata"]["labels"]["team"] == "physics"
    assert manifest["metadata"]["labels"][m.MANAGED_BY] == "clustrix"
    assert manifest["spec"]["template"]["metadata"]["labels"][m.JOB_ID_LABEL] == job.job_id


def test_long_function_names_give_valid_names_and_labels(make_job: Any) -> None:
    name = "Outer.<locals>." + "a_really_long_Function_Name_" * 8
    job = make_job(function_name=name)
    job_name = m.job_name(job)
    assert len(job_name) <= m.MAX_JOB_NAME and job.job_id in job_name
    assert job_name == job_name.lower() and job_name[0].isalnum() and job_name[-1].isalnum()
    for value in m.labels(job).values():
        assert len(value) <= 63 and value[0].isalnum() and value[-1].isalnum()
    assert m.job_manifest(job, job_name)["metadata"]["annotations"][m.FUNCTION_ANNOTATION] == name


def test_payload_is_mounted_not_passed_in_the_container_args(make_job: Any, tmp_path: Path) -> None:
    job = make_job()
    files = m.payload(job, tmp_path / "blobs")
    manifest = json.dumps(m.job_manifest(job, "name"))
    blobs = [k for k in files if len(k) == 64]
    assert blobs and not any(digest in manifest for digest in blobs)
    assert {"manifest.json", "runner.py", "bootstrap.py"} <= set(files)
    volumes = m.job_manifest(job, "name")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "payload", "secret": {"secretName": "name", "defaultMode": 0o444}} in volumes


def test_result_in_a_log_is_read_between_its_markers(make_job: Any) -> None:
    import base64
    import hashlib

    data = bytes(range(256)) * 50
    body = base64.encodebytes(data)
    head = (
        f"==== CLUSTRIX RESULT BEGIN job=c1 element=3 bytes={len(data)} sha256={hashlib.sha256(data).hexdigest()} ===="
    )
    log = b"user output\n" + head.encode() + b"\n" + body + b"==== CLUSTRIX RESULT END job=c1 element=3 ====\n"
    assert extract(log, "c1", 3) == data
    with pytest.raises(NoResult, match="altered"):
        extract(log.replace(body[:8], base64.b64encode(b"tampere")[:8]), "c1", 3)
    with pytest.raises(NoResult, match="not its end"):
        extract(log[: len(log) // 2], "c1", 3)
    with pytest.raises(NoResult, match="no result marker"):
        extract(b"just output\n", "c1", 3)
