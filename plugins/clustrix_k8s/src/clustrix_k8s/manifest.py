"""What the backend sends: the payload Secret and the batch/v1 Job, as plain API dicts.

Names and labels follow the API server's rules (DNS-1123 labels of at most 63
characters, label values of at most 63), whatever the function is called; resources
are written as valid quantities. Nothing here talks to the cluster.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import cloudpickle

from clustrix.plugin import KEY_FILE, ConfigError, Job, SubmissionRejected, lead_time, parse_memory, parse_time

log = logging.getLogger("clustrix.k8s")

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "clustrix"
JOB_ID_LABEL = "clustrix.io/job-id"
FUNCTION_LABEL = "clustrix.io/function"
FUNCTION_ANNOTATION = "clustrix.io/function"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
SELECTOR = f"{MANAGED_BY}={MANAGER}"

PAYLOAD_MOUNT = "/clustrix/payload"
WORK_MOUNT = "/clustrix/work"
CONTAINER = "clustrix"
#: a Secret's (and a ConfigMap's) data may hold at most 1 MiB (core.MaxSecretSize)
MAX_PAYLOAD_BYTES = 1048576
#: the calls' checkpoints harvested from the last attempt's pod logs, in the job's local dir
CHECKPOINTS = "checkpoints"
#: payload keys: a call's checkpoint (``ckpt.CALL.pkl``), the elements not to run again
CHECKPOINT_KEY = "ckpt."
SKIP = "skip.json"
#: Job names are copied into a pod label (job-name) and the pods' hostnames; keep room
#: for the "-INDEX" suffix of Indexed Jobs' hostnames within 63 characters
MAX_JOB_NAME = 52

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def dns_label(text: str, limit: int) -> str:
    """Lowercase letters, digits and '-', starting and ending alphanumeric, at most ``limit``."""
    clean = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    clean = re.sub(r"-{2,}", "-", clean)[:limit].rstrip("-")
    return clean or "fn"


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", clean)


def job_name(job: Job) -> str:
    """``clustrix-FUNCTION-JOBID`` (``-aN`` added for attempt N > 1 of a retried job: each
    attempt is a Job of its own), the function part shortened to fit the name limit."""
    suffix = f"-{job.job_id.lower()}" + (f"-a{job.attempt}" if job.attempt > 1 else "")
    room = MAX_JOB_NAME - len("clustrix-") - len(suffix)
    short = job.function.rsplit(".", 1)[-1]
    return f"clustrix-{dns_label(short, room)}{suffix}"


def labels(job: Job) -> dict[str, str]:
    """Labels on the Job, its pods and its Secret; the managed-by one selects them all."""
    extra = dict(job.settings.get("k8s_labels") or {})
    return {
        **extra,
        MANAGED_BY: MANAGER,
        JOB_ID_LABEL: label_value(job.job_id),
        FUNCTION_LABEL: label_value(job.function.rsplit(".", 1)[-1]) or "fn",
    }


def quantity_bytes(size: int) -> str:
    """Bytes as the exact quantity Kubernetes reads: '16Gi', '16G' (16GB), '512Mi', or a byte count."""
    units = (("Ti", 2**40), ("T", 10**12), ("Gi", 2**30), ("G", 10**9), ("Mi", 2**20), ("M", 10**6), ("Ki", 2**10))
    for suffix, factor in (*units, ("k", 10**3)):
        if size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def resources_of(settings: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """requests/limits from cores, memory, cpu_limit, memory_limit and gpus."""
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    cores = settings.get("cores")
    if cores:
        requests["cpu"] = str(cores)
    if settings.get("cpu_limit") is not None:
        limits["cpu"] = str(settings["cpu_limit"])
    memory = settings.get("memory")
    if memory is not None:
        requests["memory"] = quantity_bytes(parse_memory(memory))
    limit = settings.get("memory_limit") or memory
    if limit is not None:
        limits["memory"] = quantity_bytes(parse_memory(limit))
        if memory is not None and parse_memory(limit) < parse_memory(memory):
            raise ConfigError(f"memory_limit {limit!r} is below the memory request {memory!r}")
    if settings.get("gpus"):
        limits[str(settings.get("k8s_gpu_resource") or "nvidia.com/gpu")] = str(settings["gpus"])
    out = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def default_image() -> str:
    """The official image of this interpreter's minor version (pickled code is version-bound)."""
    return f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def bootstrap_source() -> bytes:
    return resources.files(__package__).joinpath("bootstrap.py").read_bytes()


def payload(job: Job, blob_dir: Any) -> dict[str, bytes]:
    """The files the pod needs: manifest, runner, bootstrap, the job's key, its blobs and
    the results of the jobs whose futures it takes; for a retried job, the elements whose
    results are here already (``skip.json``: their pods do not run them again) and the
    last checkpoint of each call still to run (``ckpt.CALL.pkl``, see ``bootstrap.py``).

    The key (with which the runner signs the result the pod prints) travels in the
    payload Secret: readable by whoever may read Secrets in the namespace or exec into
    the pod, who could equally change what the job runs; the pod log alone, readable
    more widely, never holds it.
    """
    manifest = json.loads((job.local_dir / "manifest.json").read_text())
    digests = sorted({manifest["function"], *(e["blob"] for e in manifest["elements"])})
    files = {
        "manifest.json": (job.local_dir / "manifest.json").read_bytes(),
        "runner.py": (job.local_dir / "runner.py").read_bytes(),
        "checkpoint.py": (job.local_dir / "checkpoint.py").read_bytes(),
        "bootstrap.py": bootstrap_source(),
        KEY_FILE: (job.local_dir / KEY_FILE).read_bytes(),
    }
    for digest in digests:
        files[digest] = (blob_dir / digest).read_bytes()
    for dep in sorted(job.local_dir.glob("dep.*.pkl")):  # results of the jobs it takes (clustrix.dependencies)
        files[dep.name] = dep.read_bytes()
    done = [e for e in range(job.n_elements) if job.result_path(e).exists()]
    if done:
        files[SKIP] = json.dumps(done).encode()
    finished = {i for e in done for i in job.calls_of(e)}
    for path in sorted(checkpoint_dir(job).glob("*.pkl")):
        if path.stem.isdigit() and int(path.stem) not in finished:
            files[f"{CHECKPOINT_KEY}{int(path.stem)}.pkl"] = path.read_bytes()
    return files


def checkpoint_dir(job: Job) -> Path:
    """Where the client keeps each call's last checkpoint read from a pod log: ``CALL.pkl``."""
    return job.local_dir / CHECKPOINTS


def fit_checkpoints(job: Job, files: dict[str, bytes]) -> None:
    """Leave checkpoints out, the largest first, while the payload is over the Secret limit:
    the attempt is still submitted and those calls start from their beginning (a warning
    names them), rather than the retry being refused for a checkpoint."""
    dropped = []
    for name in sorted((k for k in files if k.startswith(CHECKPOINT_KEY)), key=lambda k: -len(files[k])):
        if sum(len(v) for v in files.values()) <= MAX_PAYLOAD_BYTES:
            break
        dropped.append(name[len(CHECKPOINT_KEY) : -len(".pkl")])
        del files[name]
    if dropped:
        log.warning(
            "job %s attempt %d: the checkpoints of calls %s do not fit in the payload Secret (%d bytes at most): "
            "those calls start from their beginning. Save less in checkpoint.save (a path on shared storage)",
            job.job_id,
            job.attempt,
            ", ".join(sorted(dropped, key=int)),
            MAX_PAYLOAD_BYTES,
        )


def check_payload_size(job: Job, files: Mapping[str, bytes]) -> None:
    """Refuse, before anything is created, a payload the API server would refuse."""
    size = sum(len(v) for v in files.values())
    if size <= MAX_PAYLOAD_BYTES:
        return
    raise SubmissionRejected(
        f"the payload (function + arguments + runner) is {size} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
        "(1 MiB) limit Kubernetes puts on one Secret or ConfigMap. Pass large data another way: put it "
        "on storage the pods can read (a PersistentVolumeClaim, an object store URL) and pass its path or "
        "URL as the argument, or split the work into several smaller submits",
        job_id=job.job_id,
    )


def secret(job: Job, name: str, files: Mapping[str, bytes]) -> dict[str, Any]:
    import base64

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": labels(job)},
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in files.items()},
    }


def _env(job: Job) -> list[dict[str, str]]:
    env = [
        {"name": "CLUSTRIX_JOB_ID", "value": job.job_id},
        {"name": "CLUSTRIX_WORK", "value": WORK_MOUNT},
        {"name": "CLUSTRIX_MAX_RESULT_BYTES", "value": str(job.settings.get("k8s_max_result_bytes") or 0)},
        # the largest checkpoint.save the pod prints to its log for the next attempt; 0: none (no retries)
        {
            "name": "CLUSTRIX_MAX_CHECKPOINT_BYTES",
            "value": str(MAX_PAYLOAD_BYTES if job.settings.get("retries") else 0),
        },
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    env.append({"name": "CLUSTRIX_CLOUDPICKLE", "value": cloudpickle.__version__})  # the bootstrap checks the image's
    if not job.settings.get("k8s_install_cloudpickle", True):
        env.append({"name": "CLUSTRIX_CLOUDPICKLE_INSTALL", "value": "0"})
    for key, value in (job.settings.get("env") or {}).items():
        if not _ENV_NAME.match(str(key)):
            raise ConfigError(f"env: {key!r} is not a valid environment variable name")
        env.append({"name": str(key), "value": str(value)})
    return env


def pod_python(job: Job) -> str:
    """The interpreter the pod runs the bootstrap with: ``python=`` or the image's ``python3``."""
    return str(job.settings.get("python") or "python3")


def _command(job: Job) -> list[str]:
    run = [pod_python(job), f"{PAYLOAD_MOUNT}/bootstrap.py"]
    setup = list(job.settings.get("setup") or [])
    if not setup:
        return run
    import shlex

    return ["/bin/sh", "-c", "\n".join([*setup, "exec " + shlex.join(run)])]


def job_manifest(job: Job, name: str) -> dict[str, Any]:
    """One batch/v1 Job: an Indexed Job with one completion per element."""
    settings = job.settings
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.get("k8s_image") or default_image(),
        "command": _command(job),
        "env": _env(job),
        "volumeMounts": [
            {"name": "payload", "mountPath": PAYLOAD_MOUNT, "readOnly": True},
            {"name": "work", "mountPath": WORK_MOUNT},
        ],
    }
    if settings.get("k8s_image_pull_policy"):
        container["imagePullPolicy"] = settings["k8s_image_pull_policy"]
    res = resources_of(settings)
    if res:
        container["resources"] = res
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [
            {"name": "payload", "secret": {"secretName": name, "defaultMode": 0o444}},
            {"name": "work", "emptyDir": {}},
        ],
    }
    if settings.get("time") is not None:
        # on the pod, not the Job: each element gets the whole limit, as an array task does
        pod_spec["activeDeadlineSeconds"] = parse_time(settings["time"])
    # deleted, evicted, preempted or past its deadline, the pod gets SIGTERM (the runner makes
    # checkpoint.stopping() true) and this long to save and return before SIGKILL
    pod_spec["terminationGracePeriodSeconds"] = lead_time(settings)
    if settings.get("k8s_service_account"):
        pod_spec["serviceAccountName"] = settings["k8s_service_account"]
    if settings.get("k8s_node_selector"):
        pod_spec["nodeSelector"] = dict(settings["k8s_node_selector"])
    if settings.get("k8s_tolerations"):
        pod_spec["tolerations"] = list(settings["k8s_tolerations"])
    if settings.get("k8s_image_pull_secrets"):
        pod_spec["imagePullSecrets"] = [{"name": str(s)} for s in settings["k8s_image_pull_secrets"]]
    meta_labels = labels(job)
    annotations = {FUNCTION_ANNOTATION: job.function}
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": job.n_elements,
        "parallelism": min(job.n_elements, int(settings.get("max_concurrent") or job.n_elements)),
        "backoffLimit": int(settings.get("k8s_backoff_limit") or 0),
        "template": {"metadata": {"labels": meta_labels, "annotations": annotations}, "spec": pod_spec},
    }
    ttl = settings.get("k8s_ttl_seconds")
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = int(ttl)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": meta_labels, "annotations": annotations},
        "spec": spec,
    }
