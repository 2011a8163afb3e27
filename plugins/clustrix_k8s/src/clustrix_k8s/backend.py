"""The Kubernetes backend's hook implementations.

Every call (or ``.map()``) is one Indexed batch/v1 Job; its payload is a Secret mounted
into the pods; results, and the checkpoints a retry resumes from, come back through the
pod logs. Per poll cycle, status costs two list calls per namespace (Jobs and pods, by
the managed-by label), however many jobs are outstanding.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clustrix.plugin import (
    STDERR_TAIL_BYTES,
    Job,
    JobStatus,
    Setting,
    State,
    SubmissionRejected,
    Target,
    hookimpl,
    typed_failure,
)

from . import manifest as m
from .api import REQUEST_TIMEOUT, Clients, Cluster, api_message, clients, cluster_of
from .results import NoResult, checkpoints, extract
from .settings import SETTINGS
from .states import K8sJobStatus, job_status

log = logging.getLogger("clustrix.k8s")
#: how many jobs' last observations (and cancellations) are remembered
MEMORY = 2000


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "status", None) == 404


class _Bounded(OrderedDict):  # type: ignore[type-arg]
    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MEMORY:
            self.popitem(last=False)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")


def pods_by_controller(pods: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Pods by the uid of the Job controlling them: its controller-uid label (set by the Job
    controller, and the Job's own selector) must agree with the controlling owner reference.
    Labels such as job-name can be set by anyone who can create a pod; the uid cannot be
    chosen, so a look-alike pod is never mistaken for one of a job's."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        uid = next((labels[k] for k in CONTROLLER_UID_LABELS if labels.get(k)), None)
        owners = [
            o
            for o in meta.get("ownerReferences") or []
            if o.get("controller") and o.get("kind") == "Job" and o.get("uid") == uid
        ]
        if uid and owners:
            found[uid].append(pod)
    return found


class K8sBackend:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled: _Bounded = _Bounded()
        self._observed: _Bounded = _Bounded()  # job id -> last K8sJobStatus
        self._problems: _Bounded = _Bounded()  # (job id, element) -> why its result is missing

    # --- where a job lives -----------------------------------------------------------

    @staticmethod
    def place(job: Job) -> tuple[Cluster, str]:
        """The job's cluster/namespace and Job name (from its native id once submitted)."""
        cluster = cluster_of(job.settings)
        if job.native_id and "/" in job.native_id:
            namespace, name = job.native_id.split("/", 1)
            return Cluster(cluster.kubeconfig, cluster.context, namespace), name
        return cluster, m.job_name(job)

    # --- hooks -------------------------------------------------------------------------

    @hookimpl
    def clustrix_settings(self) -> Sequence[Setting]:
        return SETTINGS

    @hookimpl
    def clustrix_render(self, job: Job, target: Target) -> str:
        return json.dumps(m.job_manifest(job, m.job_name(job)), indent=2)

    @hookimpl
    def clustrix_prepare_environment(self, job: Job, target: Target) -> str:
        """The pod's own Python; its bootstrap checks cloudpickle there (installing the
        client's major.minor, see bootstrap.py), so nothing is probed on this machine."""
        return m.pod_python(job)

    @hookimpl
    def clustrix_stage(self, job: Job, target: Target) -> bool:
        """Create the payload Secret (after every check, so a refusal leaves nothing behind)."""
        files = m.payload(job, target.home / "blobs")
        m.fit_checkpoints(job, files)
        m.check_payload_size(job, files)
        cluster, name = self.place(job)
        m.job_manifest(job, name)  # bad settings fail here, before anything exists
        api = clients(cluster)
        try:
            api.core.create_namespaced_secret(
                cluster.namespace, m.secret(job, name, files), _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            if not hasattr(exc, "status"):
                raise
            raise SubmissionRejected(f"the payload Secret was refused: {api_message(exc)}", job_id=job.job_id) from None
        return True

    @hookimpl
    def clustrix_submit(self, job: Job, target: Target) -> str:
        cluster, name = self.place(job)
        api = clients(cluster)
        body = m.job_manifest(job, name)
        try:
            raw = api.batch.create_namespaced_job(
                cluster.namespace, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            self._delete_secret(api, cluster.namespace, name)
            if not hasattr(exc, "status"):
                raise
            raise SubmissionRejected(f"the Job was refused: {api_message(exc)}", job_id=job.job_id) from None
        uid = json.loads(raw.data)["metadata"]["uid"]
        self._own_secret(api, cluster.namespace, name, uid)
        return f"{cluster.namespace}/{name}"

    def _own_secret(self, api: Clients, namespace: str, name: str, uid: str) -> None:
        """Make the Job own its Secret, so the cluster deletes it with the Job (TTL, kubectl)."""
        owner = {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "blockOwnerDeletion": False}
        try:
            api.core.patch_namespaced_secret(
                name, namespace, {"metadata": {"ownerReferences": [owner]}}, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception:
            log.warning("could not make Job %s/%s own its Secret; it is deleted after fetch", namespace, name)

    @hookimpl
    def clustrix_status(self, jobs: Sequence[Job], target: Target) -> dict[str, JobStatus]:
        """Two list calls per namespace (Jobs, pods), by the managed-by label, for all jobs;
        a job's pods are those its Job controls (by uid), whatever their labels say."""
        groups: dict[Cluster, list[tuple[Job, str]]] = defaultdict(list)
        answer: dict[str, JobStatus] = {}
        for job in jobs:
            if job.job_id in self._cancelled:  # deleted by clustrix_cancel: no need to ask
                answer[job.job_id] = job_status(job, None, [], cancelled=True)
                with self._lock:
                    self._observed.remember(job.job_id, answer[job.job_id])
                continue
            cluster, name = self.place(job)
            groups[cluster].append((job, name))
        for cluster, members in groups.items():
            api = clients(cluster)
            kw: dict[str, Any] = {"label_selector": m.SELECTOR, "_preload_content": False}
            kw["_request_timeout"] = REQUEST_TIMEOUT
            job_objs = json.loads(api.batch.list_namespaced_job(cluster.namespace, **kw).data)["items"]
            pods = json.loads(api.core.list_namespaced_pod(cluster.namespace, **kw).data)["items"]
            by_name = {o["metadata"]["name"]: o for o in job_objs}
            pods_of = pods_by_controller(pods)
            for job, name in members:
                obj = by_name.get(name)
                mine = pods_of.get(obj["metadata"].get("uid") or "", []) if obj else []
                status = job_status(job, obj, mine, job.job_id in self._cancelled)
                answer[job.job_id] = status
                with self._lock:
                    self._observed.remember(job.job_id, status)
        return answer

    @hookimpl
    def clustrix_fetch(self, job: Job, target: Target, elements: Sequence[int]) -> bool:
        """Decode each ended element's result from its pod log into job.result_path(e), and
        its calls' last checkpoints into the job's ``checkpoints/`` (the next attempt's pod
        gets them in its Secret). A pod that did not succeed is read too: stopped by SIGTERM
        (eviction, preemption, its deadline) its call may have saved and returned a requeue.
        An element whose result is here already (fetched before; in a later attempt its pod
        does not run it again, see ``skip.json``) is not read again."""
        cluster, name = self.place(job)
        api = clients(cluster)
        with self._lock:
            status = self._observed.get(job.job_id)
        if status is None:  # fetched without a status call of this process: ask now
            status = self.clustrix_status([job], target)[job.job_id]
        assert isinstance(status, K8sJobStatus)
        for e in elements:
            if job.result_path(e).exists() or status.of(e) in (State.CANCELLED, State.REJECTED):
                continue
            succeeded, pod = status.of(e) == State.COMPLETED, status.pods.get(e)
            if pod is None:
                if succeeded:
                    self._problem(job, e, "its pod is gone, so its log (which carries the result) cannot be read")
                continue
            try:
                raw = api.core.read_namespaced_pod_log(
                    pod, cluster.namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
                )
            except Exception as exc:
                if not hasattr(exc, "status"):
                    raise
                if succeeded:
                    self._problem(job, e, f"the log of pod {pod} cannot be read: {api_message(exc)}")
                else:
                    log.warning(
                        "job %s: the log of pod %s cannot be read (%s): a retry of element %d starts "
                        "from its last checkpoint read before, if any",
                        job.job_id,
                        pod,
                        api_message(exc),
                        e,
                    )
                continue
            self._keep_checkpoints(job, raw.data, e)
            try:
                data = extract(raw.data, job.job_id, e)
            except NoResult as exc:
                if succeeded:
                    self._problem(job, e, f"pod {pod} succeeded but {exc}")
                continue
            _write_atomic(job.result_path(e), data)
        if status.stuck:
            self._delete(api, cluster.namespace, [job])  # its pods would wait for the image forever
        elif status.state.terminal and not job.settings.get("keep_files"):
            self._delete_secret(api, cluster.namespace, name)  # the Job stays (for its logs) until its TTL
        return True

    @staticmethod
    def _keep_checkpoints(job: Job, pod_log: bytes, element: int) -> None:
        """The last intact checkpoint of each call of ``element`` in its pod log, as
        ``checkpoints/CALL.pkl`` (kept as printed: never unpickled here)."""
        found = checkpoints(pod_log, job.job_id, job.calls_of(element))
        if found:
            m.checkpoint_dir(job).mkdir(mode=0o700, exist_ok=True)
        for call, data in found.items():
            _write_atomic(m.checkpoint_dir(job) / f"{call}.pkl", data)

    def _problem(self, job: Job, element: int, text: str) -> None:
        with self._lock:
            self._problems.remember((job.job_id, element), text)

    @hookimpl
    def clustrix_extract_error(
        self, job: Job, target: Target, call_index: int, status: JobStatus, outcome: Any
    ) -> BaseException | None:
        """Pod reasons (OOMKilled, DeadlineExceeded, Evicted, image pull) and the pod log tail."""
        if outcome is not None:
            return None
        element = job.element_of(call_index)
        reasons = status.reasons if isinstance(status, K8sJobStatus) else {}
        pods = status.pods if isinstance(status, K8sJobStatus) else {}
        with self._lock:
            problem = self._problems.get((job.job_id, element))
        message = problem or reasons.get(element) or status.reason
        tail = ""
        pod = pods.get(element)
        if pod and status.of(element) != State.REJECTED:
            tail = self._log_tail(job, pod)
        return typed_failure(job, call_index, status, tail, message or "")

    def _log_tail(self, job: Job, pod: str) -> str:
        cluster, _ = self.place(job)
        try:
            raw = clients(cluster).core.read_namespaced_pod_log(
                pod, cluster.namespace, tail_lines=80, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except Exception as exc:
            if not hasattr(exc, "status"):
                raise
            return ""
        text = bytes(raw.data).decode(errors="replace")
        return text[-STDERR_TAIL_BYTES:]

    @hookimpl
    def clustrix_cancel(self, jobs: Sequence[Job], target: Target) -> bool:
        """Delete the Jobs with their pods (Background propagation) and their Secrets."""
        groups: dict[Cluster, list[Job]] = defaultdict(list)
        for job in jobs:
            cluster, _ = self.place(job)
            groups[cluster].append(job)
        for cluster, members in groups.items():
            self._delete(clients(cluster), cluster.namespace, members)
            with self._lock:
                for job in members:
                    self._cancelled.remember(job.job_id, True)
        return True

    @hookimpl
    def clustrix_cleanup(self, job: Job, target: Target) -> bool:
        cluster, _ = self.place(job)
        self._delete(clients(cluster), cluster.namespace, [job])
        return True

    # --- deleting ---------------------------------------------------------------------

    @staticmethod
    def _delete(api: Clients, namespace: str, jobs: Sequence[Job]) -> None:
        """Delete Jobs (their pods with them: Background propagation) and Secrets: one call per kind."""
        ids = ",".join(m.label_value(job.job_id) for job in jobs)
        selector = f"{m.SELECTOR},{m.JOB_ID_LABEL} in ({ids})"
        api.batch.delete_collection_namespaced_job(
            namespace, label_selector=selector, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT
        )
        api.core.delete_collection_namespaced_secret(
            namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT
        )

    @staticmethod
    def _delete_secret(api: Clients, namespace: str, name: str) -> None:
        try:
            api.core.delete_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            if not _not_found(exc):
                log.warning("could not delete Secret %s/%s: %s", namespace, name, api_message(exc))
