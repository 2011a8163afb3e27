"""From what the API reports (a Job and its pods) to the state of each element.

Pod-level reasons become typed states: OOMKilled -> OUT_OF_MEMORY, DeadlineExceeded ->
TIMEOUT, Evicted (and other disruptions) -> PREEMPTED, an image that cannot be pulled
-> REJECTED at once (the kubelet would retry forever), an element whose pod the Job
controller stopped because another one failed the Job -> LOST (retried by ``retries``). The status answer carries, per
element, the reason in words and the pod whose log holds the result or the error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clustrix.plugin import Job, JobStatus, State

from .manifest import INDEX_LABEL

#: waiting reasons after which a pod never starts without someone changing the Job
FATAL_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
DISRUPTIONS = frozenset({"Evicted", "Preempting", "Shutdown", "NodeShutdown", "Terminated"})


@dataclass
class K8sJobStatus(JobStatus):
    """A JobStatus with, per element, a reason in words and the pod to read."""

    reasons: dict[int, str] = field(default_factory=dict)
    pods: dict[int, str] = field(default_factory=dict)
    stuck: bool = False  # a pod can never start: the Job should be deleted


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = obj.get("status") or {}
    return {c.get("type", ""): c for c in status.get("conditions") or [] if c.get("status") == "True"}


def parse_indexes(text: str | None) -> set[int]:
    """'0-2,5' -> {0, 1, 2, 5} (Job status.completedIndexes)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def _index(pod: dict[str, Any]) -> int | None:
    meta = pod.get("metadata") or {}
    value = (meta.get("labels") or {}).get(INDEX_LABEL) or (meta.get("annotations") or {}).get(INDEX_LABEL)
    return int(value) if value is not None else None


def pods_by_index(pods: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for pod in pods:
        index = _index(pod)
        if index is not None:
            out.setdefault(index, []).append(pod)
    for group in out.values():
        group.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    return out


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def waiting_problem(pod: dict[str, Any]) -> str | None:
    """'ErrImagePull: message' when a container waits for something that will not come."""
    for cs in _containers(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING:
            return f"{waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
    return None


def failure_of(pod: dict[str, Any]) -> tuple[State, str]:
    """The typed state and the words for a Failed pod."""
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name", "?")
    reason, message = status.get("reason") or "", status.get("message") or ""
    disruption = _conditions(pod).get("DisruptionTarget")
    if reason in DISRUPTIONS or disruption:
        why = reason or (disruption or {}).get("reason", "disrupted")
        return State.PREEMPTED, f"pod {name} was evicted or preempted ({why}: {message or disruption})"
    if reason == "DeadlineExceeded":
        return State.TIMEOUT, f"pod {name} exceeded its time limit (activeDeadlineSeconds from `time`)"
    if reason == "NodeLost":
        return State.NODE_FAIL, f"pod {name}: its node was lost ({message})"
    for cs in _containers(pod):
        for key in ("state", "lastState"):
            term = (cs.get(key) or {}).get("terminated") or {}
            if term.get("reason") == "OOMKilled":
                return State.OUT_OF_MEMORY, f"pod {name} was OOMKilled: it used more than its memory limit"
    for cs in _containers(pod):
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            code, why = term.get("exitCode"), term.get("reason") or "Error"
            return State.FAILED, f"pod {name} failed: container exited with code {code} ({why})"
    return State.FAILED, f"pod {name} failed: {reason or 'no reason given'} {message}".rstrip()


def job_status(job: Job, obj: dict[str, Any] | None, pods: list[dict[str, Any]], cancelled: bool) -> K8sJobStatus:
    """The state of every element of ``job`` from its Job object and pods."""
    answer = K8sJobStatus(State.RUNNING)
    if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
        state = State.CANCELLED if cancelled else State.LOST
        why = "the Job was cancelled" if cancelled else "the Kubernetes Job is gone (deleted, or removed by its TTL)"
        for e in range(job.n_elements):
            answer.elements[e], answer.reasons[e] = state, why
        answer.state, answer.reason = State.COMPLETED, why
        return answer
    conditions = _conditions(obj)
    completed = parse_indexes((obj.get("status") or {}).get("completedIndexes"))
    by_index = pods_by_index(pods)
    for e in range(job.n_elements):
        mine = by_index.get(e, [])
        succeeded = [p for p in mine if _phase(p) == "Succeeded"]
        active = [p for p in mine if _phase(p) in ("Pending", "Running", "Unknown")]
        failed = [p for p in mine if _phase(p) == "Failed"]
        if succeeded or e in completed:
            answer.elements[e] = State.COMPLETED
            if succeeded:
                answer.pods[e] = succeeded[-1]["metadata"]["name"]
            continue
        if active:
            pod = active[-1]
            answer.pods[e] = pod["metadata"]["name"]
            problem = waiting_problem(pod)
            if problem:
                image = ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [{}])[0]
                answer.elements[e] = State.REJECTED
                answer.reasons[e] = (
                    f"pod {pod['metadata']['name']} cannot start ({problem}); image {image.get('image')!r}: "
                    "set k8s_image to an image the cluster can pull, with Python and cloudpickle"
                )
                answer.stuck = True
            else:
                answer.elements[e] = State.RUNNING if _phase(pod) == "Running" else State.PENDING
            continue
        if "Failed" in conditions:
            if failed:
                answer.pods[e] = failed[-1]["metadata"]["name"]
                answer.elements[e], answer.reasons[e] = failure_of(failed[-1])
            else:
                # its pod was deleted (or never made) when the Job failed: the cluster stopped it, so a
                # retry runs it again (LOST), like the element that failed the Job
                cond = conditions["Failed"]
                kind = State.TIMEOUT if cond.get("reason") == "DeadlineExceeded" else State.LOST
                answer.elements[e] = kind
                answer.reasons[e] = (
                    f"the Job failed ({cond.get('reason')}: {cond.get('message')}) before element {e} finished, "
                    "and its pod was stopped: with k8s_backoff_limit=0 one failed pod ends the whole Job"
                )
            continue
        answer.elements[e] = State.PENDING  # not started yet, or a retry is coming
    if all(s.terminal for s in answer.elements.values()):
        answer.state = State.COMPLETED
    return answer
