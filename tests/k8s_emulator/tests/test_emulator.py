"""End-to-end tests of the emulator through the official kubernetes client."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from k8s_emulator import CONTEXT, Emulator

NS = "default"


@pytest.fixture
def apis(k8s_emulator: Emulator) -> tuple[client.BatchV1Api, client.CoreV1Api]:
    cfg = client.Configuration()
    config.load_kube_config(
        config_file=str(k8s_emulator.kubeconfig),
        context=CONTEXT,
        client_configuration=cfg,
    )
    cfg.retries = 0
    api = client.ApiClient(cfg)
    return client.BatchV1Api(api), client.CoreV1Api(api)


def make_job(
    name: str,
    command: list[str] | None = None,
    *,
    image: str = "python:3.11-slim",
    labels: dict[str, str] | None = None,
    backoff_limit: int | None = 0,
    restart_policy: str | None = "Never",
    limits: dict[str, str] | None = None,
    env: list[client.V1EnvVar] | None = None,
    mounts: list[client.V1VolumeMount] | None = None,
    volumes: list[client.V1Volume] | None = None,
    container_name: str = "main",
    **spec: Any,
) -> client.V1Job:
    container = client.V1Container(
        name=container_name,
        image=image,
        command=command or ["python3", "-c", "print(42)"],
        env=env,
        volume_mounts=mounts,
        resources=client.V1ResourceRequirements(limits=limits) if limits else None,
    )
    pod = client.V1PodSpec(restart_policy=restart_policy, containers=[container], volumes=volumes)
    tmpl = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels), spec=pod)
    meta = client.V1ObjectMeta(name=name, labels=labels)
    return client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=meta,
        spec=client.V1JobSpec(template=tmpl, backoff_limit=backoff_limit, **spec),
    )


def wait_until(pred: Callable[[], Any], timeout: float = 15.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def condition(job: client.V1Job) -> tuple[str, str] | None:
    for c in (job.status.conditions or []) if job.status else []:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return c.type, c.reason
    return None


def finished(batch: client.BatchV1Api, name: str, timeout: float = 15.0) -> client.V1Job:
    return wait_until(
        lambda: (j := batch.read_namespaced_job(name, NS)) and condition(j) and j,
        timeout,
    )


def pods_of(core: client.CoreV1Api, name: str) -> list[client.V1Pod]:
    return core.list_namespaced_pod(NS, label_selector=f"job-name={name}").items


def msg(exc: pytest.ExceptionInfo[ApiException]) -> str:
    """The Status message of an ApiException."""
    return json.loads(exc.value.body)["message"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


# -- CRUD and selectors ----------------------------------------------------------


def test_kubeconfig_and_discovery(k8s_emulator: Emulator, apis: Any) -> None:
    cfg = yaml.safe_load(k8s_emulator.kubeconfig.read_text())
    assert cfg["current-context"] == "clustrix-test"
    assert cfg["clusters"][0]["cluster"]["server"] == k8s_emulator.url
    assert cfg["users"][0]["user"]["token"]
    api = apis[0].api_client
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert "batch" in [g.name for g in client.ApisApi(api).get_api_versions().groups]


def test_job_crud(apis: Any) -> None:
    batch, _ = apis
    created = batch.create_namespaced_job(NS, make_job("crud", ["python3", "-c", "pass"], labels={"app": "x"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": created.metadata.uid}
    assert created.spec.parallelism == 1 and created.spec.completions == 1
    assert batch.read_namespaced_job("crud", NS).metadata.labels == {"app": "x"}
    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job(NS, make_job("crud"))
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "AlreadyExists"
    batch.create_namespaced_job("other-ns", make_job("crud"))
    assert [j.metadata.name for j in batch.list_namespaced_job(NS).items] == ["crud"]
    assert sorted(j.metadata.namespace for j in batch.list_job_for_all_namespaces().items) == [NS, "other-ns"]
    batch.delete_namespaced_job("crud", NS, propagation_policy="Background")
    with pytest.raises(ApiException) as exc:
        batch.read_namespaced_job("crud", NS)
    assert exc.value.status == 404 and '"crud" not found' in msg(exc)
    with pytest.raises(ApiException) as exc:
        batch.delete_namespaced_job("crud", NS)
    assert exc.value.status == 404


def test_label_selectors(apis: Any) -> None:
    batch, _ = apis
    for name, labels in [
        ("a", {"app": "x", "tier": "1"}),
        ("b", {"app": "y", "tier": "2"}),
        ("c", {"app": "z"}),
    ]:
        batch.create_namespaced_job(NS, make_job(name, ["true"], labels=labels))

    def names(sel: str) -> list[str]:
        return sorted(j.metadata.name for j in batch.list_namespaced_job(NS, label_selector=sel).items)

    assert names("app=x") == ["a"]
    assert names("app==y") == ["b"]
    assert names("app!=x") == ["b", "c"]
    assert names("app in (x, z)") == ["a", "c"]
    assert names("app notin (x)") == ["b", "c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]
    assert names("app in (x,y),tier=2") == ["b"]


# -- running pods ----------------------------------------------------------------


def test_hello_job_succeeds_with_log(k8s_emulator: Emulator, apis: Any) -> None:
    batch, core = apis
    batch.create_namespaced_job(NS, make_job("hello", labels={"team": "t1"}))
    job = finished(batch, "hello")
    assert condition(job) == ("Complete", "CompletionsReached")
    assert job.status.succeeded == 1 and job.status.start_time and job.status.completion_time
    (pod,) = pods_of(core, "hello")
    assert pod.status.phase == "Succeeded"
    assert pod.metadata.labels["team"] == "t1" and pod.metadata.labels["controller-uid"] == job.metadata.uid
    term = pod.status.container_statuses[0].state.terminated
    assert term.exit_code == 0 and term.reason == "Completed"
    assert "42" in core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert core.read_namespaced_pod_log(pod.metadata.name, NS, container="main").strip() == "42"
    assert core.read_namespaced_pod(pod.metadata.name, NS).metadata.owner_references[0].kind == "Job"


def test_secret_volume_mount_is_rewritten(apis: Any) -> None:
    batch, core = apis
    data = {"data.txt": base64.b64encode(b"secret-payload").decode()}
    core.create_namespaced_secret(NS, client.V1Secret(metadata=client.V1ObjectMeta(name="payload"), data=data))
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"k": "cm-value"})
    core.create_namespaced_config_map(NS, cm)
    script = (
        "import os,sys;print(open('/payload/data.txt').read());print(open(os.environ['CFG']+'/k').read());"
        "print(os.environ['TOKEN']);print(os.getcwd()==os.environ['OUT'])"
    )
    job = make_job(
        "mounted",
        ["python3", "-c", script],
        env=[
            client.V1EnvVar(name="CFG", value="/etc/cfg"),
            client.V1EnvVar(name="OUT", value="/scratch"),
            client.V1EnvVar(
                name="TOKEN",
                value_from=client.V1EnvVarSource(
                    secret_key_ref=client.V1SecretKeySelector(name="payload", key="data.txt")
                ),
            ),
        ],
        mounts=[
            client.V1VolumeMount(name="payload", mount_path="/payload", read_only=True),
            client.V1VolumeMount(name="cfg", mount_path="/etc/cfg"),
            client.V1VolumeMount(name="scratch", mount_path="/scratch"),
        ],
        volumes=[
            client.V1Volume(
                name="payload",
                secret=client.V1SecretVolumeSource(secret_name="payload"),
            ),
            client.V1Volume(name="cfg", config_map=client.V1ConfigMapVolumeSource(name="cfg")),
            client.V1Volume(name="scratch", empty_dir=client.V1EmptyDirVolumeSource()),
        ],
    )
    job.spec.template.spec.containers[0].working_dir = "/scratch"
    batch.create_namespaced_job(NS, job)
    assert condition(finished(batch, "mounted")) == ("Complete", "CompletionsReached")
    log = core.read_namespaced_pod_log(pods_of(core, "mounted")[0].metadata.name, NS)
    assert log.split() == ["secret-payload", "cm-value", "secret-payload", "True"]


def test_indexed_job(apis: Any) -> None:
    batch, core = apis
    cmd = [
        "python3",
        "-c",
        "import os,time;time.sleep(0.3);print('idx', os.environ['JOB_COMPLETION_INDEX'])",
    ]
    batch.create_namespaced_job(
        NS,
        make_job("idx", cmd, completions=3, parallelism=2, completion_mode="Indexed"),
    )
    peak = 0
    end = time.monotonic() + 15
    while time.monotonic() < end:
        job = batch.read_namespaced_job("idx", NS)
        peak = max(peak, job.status.active or 0 if job.status else 0)
        if condition(job):
            break
        time.sleep(0.05)
    assert condition(job) == ("Complete", "CompletionsReached") and peak == 2
    assert job.status.completed_indexes == "0-2" and job.status.succeeded == 3
    pods = pods_of(core, "idx")
    indexes = sorted(p.metadata.labels["batch.kubernetes.io/job-completion-index"] for p in pods)
    assert indexes == ["0", "1", "2"]
    sel = "job-name=idx,batch.kubernetes.io/job-completion-index=1"
    (pod,) = core.list_namespaced_pod(NS, label_selector=sel).items
    assert pod.metadata.name.startswith("idx-1-")
    assert core.read_namespaced_pod_log(pod.metadata.name, NS).strip() == "idx 1"


def test_failing_job_backoff(apis: Any) -> None:
    batch, core = apis
    batch.create_namespaced_job(NS, make_job("fail0", ["python3", "-c", "import sys;print('boom');sys.exit(3)"]))
    job = finished(batch, "fail0")
    assert condition(job) == ("Failed", "BackoffLimitExceeded") and job.status.failed == 1
    (pod,) = pods_of(core, "fail0")
    term = pod.status.container_statuses[0].state.terminated
    assert pod.status.phase == "Failed" and term.exit_code == 3 and term.reason == "Error"
    batch.create_namespaced_job(NS, make_job("fail2", ["false"], backoff_limit=2))
    assert condition(finished(batch, "fail2")) == ("Failed", "BackoffLimitExceeded")
    assert len(pods_of(core, "fail2")) == 3
    unset = batch.create_namespaced_job(NS, make_job("default-backoff", ["true"], backoff_limit=None))
    assert unset.spec.backoff_limit == 6


def test_oom_kill(apis: Any) -> None:
    batch, core = apis
    cmd = ["python3", "-c", "import time;b=b'x'*(300<<20);time.sleep(20)"]
    batch.create_namespaced_job(NS, make_job("oom", cmd, limits={"memory": "64Mi", "cpu": "500m"}))
    job = finished(batch, "oom")
    assert condition(job) == ("Failed", "BackoffLimitExceeded")
    term = pods_of(core, "oom")[0].status.container_statuses[0].state.terminated
    assert term.reason == "OOMKilled" and term.exit_code == 137


def test_active_deadline(apis: Any) -> None:
    batch, core = apis
    t0 = time.monotonic()
    batch.create_namespaced_job(NS, make_job("slow", ["sleep", "30"], active_deadline_seconds=1))
    assert condition(finished(batch, "slow")) == ("Failed", "DeadlineExceeded")
    assert time.monotonic() - t0 < 5
    assert pods_of(core, "slow") == []  # active pods are deleted, like the real job controller


def test_image_pull_failure(apis: Any) -> None:
    batch, core = apis
    batch.create_namespaced_job(NS, make_job("badimg", image="registry.example/invalid-image:latest"))

    def reasons() -> set[str]:
        pods = pods_of(core, "badimg")
        return {
            (cs.state.waiting.reason if cs.state.waiting else "")
            for p in pods
            for cs in p.status.container_statuses or []
        }

    seen: set[str] = set()
    wait_until(
        lambda: seen.update(reasons()) or {"ErrImagePull", "ImagePullBackOff"} <= seen,
        timeout=5,
    )
    (pod,) = pods_of(core, "badimg")
    assert pod.status.phase == "Pending"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log(pod.metadata.name, NS)
    assert exc.value.status == 400 and "waiting to start" in msg(exc)
    assert batch.read_namespaced_job("badimg", NS).status.active == 1
    batch.create_namespaced_job(NS, make_job("badimg2", image="does-not-exist/foo"))
    wait_until(lambda: any(p.status.container_statuses for p in pods_of(core, "badimg2")))


def test_eviction(k8s_emulator: Emulator, apis: Any) -> None:
    batch, core = apis
    batch.create_namespaced_job(NS, make_job("evictme", ["sleep", "30"]))
    pod = wait_until(lambda: [p for p in pods_of(core, "evictme") if p.status.phase == "Running"])[0]
    pid = int(pod.status.container_statuses[0].container_id.split("//")[1])
    k8s_emulator.evict(pod.metadata.name)
    assert condition(finished(batch, "evictme")) == ("Failed", "BackoffLimitExceeded")
    pod = core.read_namespaced_pod(pod.metadata.name, NS)
    assert pod.status.phase == "Failed" and pod.status.reason == "Evicted"
    assert "low on resource: memory" in pod.status.message
    assert not pid_alive(pid)


TRAPS_SIGTERM = """
import signal, sys, time
def term(*args):
    print("got SIGTERM", flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
signal.signal(signal.SIGTERM, term)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_evicted_pod_gets_sigterm_then_sigkill_when_its_grace_period_ends(k8s_emulator: Emulator, apis: Any) -> None:
    batch, core = apis
    for name, on_sigterm in (("graceful", "exit"), ("stubborn", "ignore")):
        job = make_job(name, ["python3", "-c", TRAPS_SIGTERM, on_sigterm])
        job.spec.template.spec.termination_grace_period_seconds = 1
        batch.create_namespaced_job(NS, job)
    for name in ("graceful", "stubborn"):
        pod = wait_until(
            lambda: [p for p in pods_of(core, name) if "ready" in core.read_namespaced_pod_log(p.metadata.name, NS)]
        )[0]
        k8s_emulator.evict(pod.metadata.name)
    for name, exit_code, reason in (("graceful", 0, "Completed"), ("stubborn", 137, "Error")):
        assert condition(finished(batch, name)) == ("Failed", "BackoffLimitExceeded")
        (pod,) = pods_of(core, name)
        assert pod.status.phase == "Failed" and pod.status.reason == "Evicted"
        term = pod.status.container_statuses[0].state.terminated
        assert (term.exit_code, term.reason) == (exit_code, reason), name
        assert "got SIGTERM" in core.read_namespaced_pod_log(pod.metadata.name, NS)


def test_unreachable_then_back(k8s_emulator: Emulator, apis: Any) -> None:
    batch, _ = apis
    batch.create_namespaced_job(
        NS,
        make_job("survivor", ["python3", "-c", "import time;time.sleep(0.5);print('ok')"]),
    )
    k8s_emulator.pause()
    try:
        with pytest.raises(urllib3.exceptions.HTTPError):
            batch.read_namespaced_job("survivor", NS, _request_timeout=2)
        wait_until(lambda: condition_dict(k8s_emulator.job("survivor")), timeout=10)
    finally:
        k8s_emulator.resume()
    assert condition(batch.read_namespaced_job("survivor", NS)) == (
        "Complete",
        "CompletionsReached",
    )


def condition_dict(job: dict[str, Any] | None) -> bool:
    return any(c["type"] == "Complete" for c in ((job or {}).get("status") or {}).get("conditions") or [])


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_delete_propagation(k8s_emulator: Emulator, apis: Any, policy: str) -> None:
    batch, core = apis
    batch.create_namespaced_job(NS, make_job("longrun", ["sleep", "30"]))
    pod = wait_until(lambda: [p for p in pods_of(core, "longrun") if p.status.phase == "Running"])[0]
    pid = int(pod.status.container_statuses[0].container_id.split("//")[1])
    batch.delete_namespaced_job("longrun", NS, propagation_policy=policy)
    if policy == "Orphan":
        assert [p.metadata.name for p in pods_of(core, "longrun")] == [pod.metadata.name]
        assert pid_alive(pid)
    else:
        assert pods_of(core, "longrun") == []
        wait_until(lambda: not pid_alive(pid), timeout=3)


def test_request_counts(k8s_emulator: Emulator, apis: Any) -> None:
    batch, core = apis
    k8s_emulator.clear_requests()
    batch.list_namespaced_job(NS, label_selector="app=x")
    core.list_namespaced_pod(NS)
    batch.list_namespaced_job(NS)
    counts = k8s_emulator.request_counts()
    assert counts[("list", "jobs")] == 2 and counts[("list", "pods")] == 1
    assert k8s_emulator.count("list", "jobs") == 2
    assert k8s_emulator.requests[0].query["labelSelector"] == "app=x"


# -- secrets / configmaps --------------------------------------------------------


def test_secret_and_configmap_crud(apis: Any) -> None:
    _, core = apis
    sec = client.V1Secret(
        metadata=client.V1ObjectMeta(name="s1", labels={"a": "b"}),
        string_data={"k": "v"},
    )
    created = core.create_namespaced_secret(NS, sec)
    assert base64.b64decode(created.data["k"]) == b"v" and created.type == "Opaque"
    assert [s.metadata.name for s in core.list_namespaced_secret(NS, label_selector="a=b").items] == ["s1"]
    core.delete_namespaced_secret("s1", NS)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_secret("s1", NS)
    assert exc.value.status == 404
    binary = {"blob": base64.b64encode(b"\x00\x01").decode()}
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"x": "y"}, binary_data=binary)
    core.create_namespaced_config_map(NS, cm)
    got = core.read_namespaced_config_map("c1", NS)
    assert got.data == {"x": "y"} and base64.b64decode(got.binary_data["blob"]) == b"\x00\x01"
    assert len(core.list_namespaced_config_map(NS).items) == 1
    core.delete_namespaced_config_map("c1", NS)
    assert core.list_namespaced_config_map(NS).items == []


def test_oversized_secret_and_configmap(apis: Any) -> None:
    _, core = apis
    big = base64.b64encode(b"x" * (1048576 + 1)).decode()
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_secret(
            NS,
            client.V1Secret(metadata=client.V1ObjectMeta(name="big"), data={"d": big}),
        )
    assert exc.value.status in (413, 422) and "1048576" in msg(exc)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="big"), data={"d": "x" * (1048576 + 1)})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, cm)
    assert exc.value.status in (413, 422) and "1048576" in msg(exc)
    huge = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="huge"), data={"d": "x" * (4 << 20)})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, huge)
    assert exc.value.status == 413
    ok = base64.b64encode(b"x" * 1048576).decode()
    core.create_namespaced_secret(NS, client.V1Secret(metadata=client.V1ObjectMeta(name="exact"), data={"d": ok}))


# -- validation ------------------------------------------------------------------


def _mutate(fn: Callable[[client.V1Job], None], name: str = "bad") -> client.V1Job:
    job = make_job(name)
    fn(job)
    return job


def _container(job: client.V1Job) -> client.V1Container:
    return job.spec.template.spec.containers[0]


INVALID_JOBS: list[tuple[str, client.V1Job, str]] = [
    ("uppercase-name", make_job("BadName"), 'metadata.name: Invalid value: "BadName"'),
    ("long-name", make_job("a" * 64), "must be no more than 63 characters"),
    ("underscore-name", make_job("bad_name"), "RFC 1123 subdomain"),
    (
        "no-name",
        _mutate(lambda j: setattr(j.metadata, "name", None)),
        "metadata.name: Required value",
    ),
    (
        "label-value",
        make_job("lbl", labels={"app": "bad value!"}),
        'metadata.labels: Invalid value: "bad value!"',
    ),
    (
        "label-long",
        make_job("lbl", labels={"app": "x" * 64}),
        "must be no more than 63 characters",
    ),
    (
        "label-key",
        make_job("lbl", labels={"bad key": "v"}),
        'metadata.labels: Invalid value: "bad key"',
    ),
    (
        "container-name",
        make_job("cn", container_name="Main_1"),
        "spec.template.spec.containers[0].name: Invalid value",
    ),
    (
        "no-image",
        _mutate(lambda j: setattr(_container(j), "image", None)),
        "spec.template.spec.containers[0].image: Required value",
    ),
    (
        "mem-16GB",
        make_job("q", limits={"memory": "16GB"}),
        'resources.limits[memory]: Invalid value: "16GB": must match the regex',
    ),
    ("mem-space", make_job("q", limits={"memory": "1 Gi"}), 'Invalid value: "1 Gi"'),
    (
        "cpu-abc",
        make_job("q", limits={"cpu": "abc"}),
        'resources.limits[cpu]: Invalid value: "abc"',
    ),
    (
        "restart-always",
        make_job("rp", restart_policy="Always"),
        'restartPolicy: Unsupported value: "Always"',
    ),
    (
        "restart-unset",
        make_job("rp", restart_policy=None),
        'restartPolicy: Unsupported value: "Always"',
    ),
    (
        "indexed-no-completions",
        make_job("ix", completion_mode="Indexed", parallelism=2),
        "spec.completions: Required value",
    ),
    (
        "negative-backoff",
        make_job("nb", backoff_limit=-1),
        "spec.backoffLimit: Invalid value: -1",
    ),
]


@pytest.mark.parametrize(
    "job,expected",
    [(j, m) for _, j, m in INVALID_JOBS],
    ids=[i for i, _, _ in INVALID_JOBS],
)
def test_job_validation_rejections(apis: Any, job: client.V1Job, expected: str) -> None:
    batch, _ = apis
    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job(NS, job)
    assert exc.value.status == 422, exc.value.body
    assert expected in msg(exc)
    assert json.loads(exc.value.body)["reason"] == "Invalid" and "is invalid" in msg(exc)
    assert batch.list_namespaced_job(NS).items == []


def test_validation_message_format(apis: Any) -> None:
    batch, _ = apis
    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job(NS, make_job("fmt", limits={"memory": "16GB"}))
    status = json.loads(exc.value.body)
    assert status["kind"] == "Status" and status["code"] == 422
    assert status["message"].startswith(
        'Job.batch "fmt" is invalid: spec.template.spec.containers[0].resources.limits[memory]: Invalid value: "16GB": must match the regex'
    )
    (cause,) = status["details"]["causes"]
    assert cause["field"] == "spec.template.spec.containers[0].resources.limits[memory]"


@pytest.mark.parametrize("qty", ["500m", "2", "1Gi", "16G", "1.5Gi", "100Mi", "0.5", "1e3"])
def test_valid_quantities_accepted(apis: Any, qty: str) -> None:
    batch, _ = apis
    key = "cpu" if qty in ("500m", "0.5") else "memory"
    created = batch.create_namespaced_job(NS, make_job("qty", limits={key: qty}), dry_run="All")
    assert created.metadata.name == "qty"
    assert batch.list_namespaced_job(NS).items == []


def test_requests_above_limits_rejected(apis: Any) -> None:
    batch, _ = apis
    job = make_job("rq", limits={"memory": "1Gi"})
    _container(job).resources.requests = {"memory": "2Gi"}
    with pytest.raises(ApiException) as exc:
        batch.create_namespaced_job(NS, job)
    assert exc.value.status == 422 and "must be less than or equal to memory limit of 1Gi" in msg(exc)


def test_secret_and_configmap_validation(apis: Any) -> None:
    _, core = apis
    for name, data in [("Bad_Name", {"k": "dg=="}), ("ok", {"bad key": "dg=="})]:
        with pytest.raises(ApiException) as exc:
            core.create_namespaced_secret(NS, client.V1Secret(metadata=client.V1ObjectMeta(name=name), data=data))
        assert exc.value.status == 422
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x" * 254)))
    assert exc.value.status == 422 and "253" in msg(exc)
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x" * 253)))


# -- concurrency, restarts, watch, cleanup ----------------------------------------


def test_many_concurrent_jobs(apis: Any) -> None:
    batch, core = apis
    for i in range(8):
        cmd = ["python3", "-c", f"print('job', {i})"]
        batch.create_namespaced_job(NS, make_job(f"many-{i}", cmd, labels={"group": "many"}))
    wait_until(
        lambda: all(
            condition(j) == ("Complete", "CompletionsReached")
            for j in batch.list_namespaced_job(NS, label_selector="group=many").items
        ),
        timeout=30,
    )
    for i in range(8):
        (pod,) = pods_of(core, f"many-{i}")
        assert core.read_namespaced_pod_log(pod.metadata.name, NS).strip() == f"job {i}"


def test_on_failure_restarts_in_place(apis: Any) -> None:
    batch, core = apis
    script = (
        "import os,sys;p='/work/marker'\n"
        "if os.path.exists(p): print('second run'); sys.exit(0)\n"
        "open(p,'w').close(); print('first run'); sys.exit(1)"
    )
    job = make_job(
        "flaky",
        ["python3", "-c", script],
        restart_policy="OnFailure",
        backoff_limit=2,
        mounts=[client.V1VolumeMount(name="work", mount_path="/work")],
        volumes=[client.V1Volume(name="work", empty_dir=client.V1EmptyDirVolumeSource())],
    )
    batch.create_namespaced_job(NS, job)
    assert condition(finished(batch, "flaky")) == ("Complete", "CompletionsReached")
    (pod,) = pods_of(core, "flaky")
    assert pod.status.container_statuses[0].restart_count == 1
    assert core.read_namespaced_pod_log(pod.metadata.name, NS).strip() == "second run"
    prev = core.read_namespaced_pod_log(pod.metadata.name, NS, previous=True)
    assert prev.strip() == "first run"


def test_memory_limit_counts_children(apis: Any) -> None:
    batch, core = apis
    child = "import time;b=b'x'*(200<<20);time.sleep(20)"
    cmd = ["sh", "-c", f'python3 -c "{child}"; echo done']
    batch.create_namespaced_job(NS, make_job("oom-child", cmd, limits={"memory": "64Mi"}))
    finished(batch, "oom-child")
    term = pods_of(core, "oom-child")[0].status.container_statuses[0].state.terminated
    assert term.reason == "OOMKilled" and term.exit_code == 137


def test_watch_jobs(apis: Any) -> None:
    from kubernetes import watch

    batch, _ = apis
    batch.create_namespaced_job(NS, make_job("watched"))
    seen = []
    w = watch.Watch()
    for event in w.stream(batch.list_namespaced_job, NS, timeout_seconds=5):
        seen.append((event["type"], condition(event["object"])))
        if condition(event["object"]):
            w.stop()
            break
    assert seen[0][0] == "ADDED" and seen[-1] == (
        "MODIFIED",
        ("Complete", "CompletionsReached"),
    )


def test_stop_kills_all_processes(tmp_path: Any) -> None:
    emu = Emulator().start()
    try:
        api = emu.api_client()
        batch = client.BatchV1Api(api)
        for i in range(3):
            batch.create_namespaced_job(NS, make_job(f"sleeper-{i}", ["sleep", "60"]))
        running = wait_until(
            lambda: (
                (pods := [p for p in emu.pods() if p["status"].get("phase") == "Running"]) and len(pods) == 3 and pods
            )
        )
        pids = [int(p["status"]["containerStatuses"][0]["containerID"].split("//")[1]) for p in running]
        assert all(pid_alive(p) for p in pids)
    finally:
        emu.stop()
    assert not any(pid_alive(p) for p in pids)
    assert not emu.workdir.exists()


def test_follow_log_streams_until_exit(apis: Any) -> None:
    batch, core = apis
    cmd = ["python3", "-u", "-c", "import time\nfor i in range(3): print('line', i); time.sleep(0.2)"]
    batch.create_namespaced_job(NS, make_job("follow", cmd))
    pod = wait_until(lambda: [p for p in pods_of(core, "follow") if p.status.phase == "Running"])[0]
    resp = core.read_namespaced_pod_log(pod.metadata.name, NS, follow=True, _preload_content=False)
    text = b"".join(resp.stream()).decode()
    assert text.split("\n")[:3] == ["line 0", "line 1", "line 2"]
