"""Job controller: creates pods for Jobs and maintains Job status."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError
from .kubelet import Kubelet
from .store import Store, now_rfc3339

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
POLL = 0.05


def default_job(job: dict[str, Any]) -> None:
    """Apply apiserver defaulting and the generated selector/labels."""
    meta = job.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    spec = job.setdefault("spec", {})
    tmpl = spec.setdefault("template", {})
    tmeta = tmpl.setdefault("metadata", {}) or {}
    tmpl["metadata"] = tmeta
    if not meta.get("labels") and tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    if not spec.get("manualSelector") and not spec.get("selector"):
        uid = meta["uid"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = tmeta.setdefault("labels", {}) or {}
        tmeta["labels"] = labels
        name = meta.get("name") or meta.get("generateName") or ""
        labels.update({"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid})
        labels.update({"batch.kubernetes.io/job-name": name, "job-name": name})
    pspec = tmpl.get("spec") or {}
    if isinstance(pspec, dict) and pspec:
        pspec.setdefault("restartPolicy", "Always")
    pspec.setdefault("dnsPolicy", "ClusterFirst")
    pspec.setdefault("schedulerName", "default-scheduler")
    pspec.setdefault("terminationGracePeriodSeconds", 30)
    job["status"] = {}


def compress_indexes(indexes: set[int]) -> str:
    """``{0,1,2,4}`` -> ``"0-2,4"`` (Job status.completedIndexes format)."""
    out, items = [], sorted(indexes)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        out.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ",".join(out)


@dataclass
class JobState:
    """Controller-side bookkeeping for one Job (by uid)."""

    counted: set[str] = field(default_factory=set)
    known_active: set[str] = field(default_factory=set)
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    started: float | None = None
    next_create: float = 0.0
    finished_at: float | None = None


class JobController(threading.Thread):
    """Reconciles all Jobs every ``POLL`` seconds."""

    def __init__(self, store: Store, kubelet: Kubelet, backoff_seconds: float = 0.0) -> None:
        super().__init__(name="job-controller", daemon=True)
        self.store, self.kubelet = store, kubelet
        self.backoff_seconds = backoff_seconds
        self.states: dict[str, JobState] = {}
        self.stopped = threading.Event()
        self.errors: list[str] = []
        self.lock = threading.RLock()

    def run(self) -> None:
        while not self.stopped.wait(POLL):
            for job in self.store.list("jobs"):
                meta = job["metadata"]
                try:
                    with self.lock:
                        fresh = self.store.find("jobs", meta["namespace"], meta["name"])
                        if fresh is not None and fresh["metadata"]["uid"] == meta["uid"]:
                            self.reconcile(fresh)
                except Exception:
                    self.errors.append(traceback.format_exc())

    def stop(self) -> None:
        self.stopped.set()
        self.join(5)

    def delete_pod(self, ns: str, name: str, grace: float | None = None) -> None:
        """Delete a pod object and stop its processes (SIGTERM, SIGKILL after the grace
        period: ``grace`` seconds, else the pod's terminationGracePeriodSeconds)."""
        with contextlib.suppress(ApiError):
            self.store.delete("pods", ns, name)
        self.kubelet.kill(ns, name, grace=grace)

    def reconcile(self, job: dict[str, Any]) -> None:
        meta, spec = job["metadata"], job["spec"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        st = self.states.setdefault(uid, JobState())
        status = job.get("status") or {}
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in status.get("conditions") or []):
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None and st.finished_at is not None and time.monotonic() - st.finished_at >= ttl:
                self.delete_job(ns, name, uid, orphan=False)
            return
        if st.started is None:
            st.started = time.monotonic()
        pods = self.store.list("pods", ns, label_selector=f"controller-uid={uid}")
        active, restarts = [], 0
        for p in pods:
            pname, phase = (
                p["metadata"]["name"],
                (p.get("status") or {}).get("phase", "Pending"),
            )
            restarts += sum(cs.get("restartCount", 0) for cs in (p.get("status") or {}).get("containerStatuses") or [])
            if phase in ("Succeeded", "Failed"):
                if pname not in st.counted:
                    st.counted.add(pname)
                    if phase == "Succeeded":
                        st.succeeded += 1
                        idx = (p["metadata"].get("labels") or {}).get(INDEX_KEY)
                        if idx is not None:
                            st.succeeded_indexes.add(int(idx))
                    else:
                        st.failed += 1
                        delay = self.backoff_seconds * 2 ** min(st.failed - 1, 6)
                        st.next_create = time.monotonic() + delay
            else:
                active.append(p)
        names = {p["metadata"]["name"] for p in pods}
        for gone in st.known_active - names - st.counted:
            st.counted.add(gone)
            st.failed += 1
        indexed = spec.get("completionMode") == "Indexed"
        completions, parallelism = spec.get("completions"), spec.get("parallelism", 1)
        if indexed:
            complete = len(st.succeeded_indexes) >= completions
        elif completions is not None:
            complete = st.succeeded >= completions
        else:
            complete = st.succeeded >= 1 and not active
        deadline = spec.get("activeDeadlineSeconds")
        final: tuple[str, str, str] | None = None
        if complete:
            final = (
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            )
        elif st.failed + restarts > spec.get("backoffLimit", 6):
            final = (
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        elif deadline is not None and time.monotonic() - st.started >= deadline:
            final = (
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )
        if final is not None or spec.get("suspend"):
            for p in active:
                self.delete_pod(ns, p["metadata"]["name"])
            active = []
        elif time.monotonic() >= st.next_create:
            active += self._create_pods(job, st, active, indexed, completions, parallelism)
        st.known_active = {p["metadata"]["name"] for p in active}
        ready = sum(1 for p in active if (p.get("status") or {}).get("phase") == "Running")
        self._write_status(job, st, len(active), ready, final, indexed)

    def _create_pods(
        self,
        job: dict[str, Any],
        st: JobState,
        active: list[dict[str, Any]],
        indexed: bool,
        completions: Any,
        par: int,
    ) -> list[dict[str, Any]]:
        if indexed:
            running = {(p["metadata"].get("labels") or {}).get(INDEX_KEY) for p in active}
            todo = [i for i in range(completions) if i not in st.succeeded_indexes and str(i) not in running]
        elif completions is not None:
            todo = [None] * max(0, min(par, completions - st.succeeded) - len(active))
        else:
            todo = [None] * (max(0, par - len(active)) if st.succeeded == 0 else 0)
        return [self._create_pod(job, idx) for idx in todo[: max(0, par - len(active))]]

    def _create_pod(self, job: dict[str, Any], index: int | None) -> dict[str, Any]:
        meta, tmpl = job["metadata"], copy.deepcopy(job["spec"]["template"])
        tmeta = tmpl.get("metadata") or {}
        labels, annotations = (
            dict(tmeta.get("labels") or {}),
            dict(tmeta.get("annotations") or {}),
        )
        spec = tmpl["spec"]
        gen = f"{meta['name']}-"
        if index is not None:
            labels[INDEX_KEY] = annotations[INDEX_KEY] = str(index)
            gen = f"{meta['name']}-{index}-"
            spec.setdefault("hostname", f"{meta['name']}-{index}")
            ref = {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}}
            for c in spec.get("containers") or []:
                c["env"] = [
                    *(c.get("env") or []),
                    {"name": "JOB_COMPLETION_INDEX", "valueFrom": ref},
                ]
        spec.setdefault("nodeName", "emulator-node")
        spec.setdefault("serviceAccountName", "default")
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": meta["name"],
            "uid": meta["uid"],
        }
        owner.update(controller=True, blockOwnerDeletion=True)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": gen,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner],
            },
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        created = self.store.create("pods", meta["namespace"], pod)
        self.kubelet.start_pod(meta["namespace"], created["metadata"]["name"])
        return created

    def _write_status(
        self,
        job: dict[str, Any],
        st: JobState,
        active: int,
        ready: int,
        final: Any,
        indexed: bool,
    ) -> None:
        meta = job["metadata"]
        old = job.get("status") or {}
        new: dict[str, Any] = {
            "active": active,
            "ready": ready,
            "succeeded": st.succeeded,
            "failed": st.failed,
        }
        new.update(terminating=0, uncountedTerminatedPods={})
        new["startTime"] = old.get("startTime") or now_rfc3339()
        if indexed and st.succeeded_indexes:
            new["completedIndexes"] = compress_indexes(st.succeeded_indexes)
        conds = list(old.get("conditions") or [])
        if job["spec"].get("suspend") and not any(c["type"] == "Suspended" for c in conds):
            conds.append(_condition("Suspended", "JobSuspended", "Job suspended"))
        if final is not None:
            kind, reason, message = final
            pre = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            conds += [
                _condition(pre, reason, message),
                _condition(kind, reason, message),
            ]
            if kind == "Complete":
                new["completionTime"] = now_rfc3339()
            st.finished_at = time.monotonic()
        new["conditions"] = conds or None
        new = {k: v for k, v in new.items() if v is not None}
        if all(old.get(k) == v for k, v in new.items()):
            return
        self.store.update(
            "jobs",
            meta["namespace"],
            meta["name"],
            lambda o: o.__setitem__("status", new),
        )

    def delete_job(self, ns: str, name: str, uid: str, orphan: bool) -> None:
        """Remove a Job; unless ``orphan``, delete its pods and kill them."""
        with self.lock:
            with contextlib.suppress(ApiError):
                self.store.delete("jobs", ns, name)
            if not orphan:
                for p in self.store.list("pods", ns, label_selector=f"controller-uid={uid}"):
                    self.delete_pod(ns, p["metadata"]["name"])
            self.states.pop(uid, None)


def _condition(ctype: str, reason: str, message: str) -> dict[str, Any]:
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": ctype,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
    }
