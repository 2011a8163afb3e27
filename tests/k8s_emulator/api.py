"""Resource operations behind the HTTP routes (create/get/list/delete/patch/log)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import TYPE_CHECKING, Any

from .controller import default_job
from .data_validation import (
    check_model,
    check_namespace,
    validate_configmap,
    validate_secret,
)
from .errors import (
    ApiError,
    FieldError,
    bad_request,
    invalid,
    method_not_allowed,
    not_found,
    too_large,
)
from .validation import check_job_selector, check_pod_spec, validate_job

if TYPE_CHECKING:
    from .emulator import Emulator

MAX_OBJECT_SIZE = 1572864  # etcd --max-request-bytes default (1.5 MiB)
KINDS = {
    "jobs": ("batch/v1", "Job", "V1Job"),
    "pods": ("v1", "Pod", "V1Pod"),
    "secrets": ("v1", "Secret", "V1Secret"),
    "configmaps": ("v1", "ConfigMap", "V1ConfigMap"),
}
ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background '
    'to remove them or set propagationPolicy=Orphan to suppress this warning"'
)


def with_kind(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    api_version, kind, _ = KINDS[resource]
    return {
        "apiVersion": api_version,
        "kind": kind,
        **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
    }


def list_body(resource: str, items: list[dict[str, Any]], rv: str, query: dict[str, str]) -> dict[str, Any]:
    api_version, kind, _ = KINDS[resource]
    start = int(query.get("continue") or 0)
    limit = int(query.get("limit") or 0)
    page = items[start : start + limit] if limit else items[start:]
    meta: dict[str, Any] = {"resourceVersion": rv}
    if limit and start + limit < len(items):
        meta["continue"] = str(start + limit)
        meta["remainingItemCount"] = len(items) - start - limit
    stripped = [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in page]
    return {
        "apiVersion": api_version,
        "kind": f"{kind}List",
        "metadata": meta,
        "items": stripped,
    }


def _validate(emu: Emulator, resource: str, obj: dict[str, Any]) -> None:
    if resource == "jobs":
        validate_job(obj)
    elif resource == "secrets":
        validate_secret(obj)
    elif resource == "configmaps":
        validate_configmap(obj)
    else:
        errs: list[FieldError] = []
        if not obj.get("metadata", {}).get("name"):
            errs.append(FieldError("Required", "metadata.name"))
        check_pod_spec(obj.get("spec") or {}, "spec", errs, job=False)
        if errs:
            raise invalid("pods", obj.get("metadata", {}).get("name") or "", errs)
    check_model(resource, with_kind(resource, obj), KINDS[resource][2])
    size = len(json.dumps(obj))
    if size > MAX_OBJECT_SIZE:
        raise too_large("etcdserver: request is too large")


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_request(f"error decoding request body: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


def create(emu: Emulator, resource: str, ns: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    api_version, kind, _ = KINDS[resource]
    if body.get("kind") not in (None, kind) or body.get("apiVersion") not in (
        None,
        api_version,
    ):
        raise bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version ({api_version})"
        )
    meta = body.setdefault("metadata", {}) or {}
    body["metadata"] = meta
    check_namespace(meta.get("namespace"), ns)
    meta["namespace"] = ns
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
        meta.pop(k, None)
    if resource == "jobs":
        check_job_selector(body)
        default_job(body)
    elif resource == "pods":
        body["status"] = {"phase": "Pending"}
        body["spec"].setdefault("nodeName", "emulator-node") if isinstance(body.get("spec"), dict) else None
    _validate(emu, resource, body)
    body = with_kind(resource, body)
    if query.get("dryRun"):
        return body
    created = emu.store.create(resource, ns, body)
    if resource == "pods":
        emu.kubelet.start_pod(ns, created["metadata"]["name"])
    return created


def delete(
    emu: Emulator,
    resource: str,
    ns: str,
    name: str,
    body: dict[str, Any],
    query: dict[str, str],
) -> tuple[dict[str, Any], list[str]]:
    """Delete one object; returns a Success Status and warning headers."""
    obj = emu.store.get(resource, ns, name)
    policy = query.get("propagationPolicy") or body.get("propagationPolicy")
    if body.get("orphanDependents") is not None and policy is None:
        policy = "Orphan" if body["orphanDependents"] else "Background"
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise invalid(
            resource,
            name,
            [
                FieldError(
                    "Unsupported",
                    "propagationPolicy",
                    policy,
                    '"Foreground", "Background", "Orphan"',
                )
            ],
        )
    warnings: list[str] = []
    if query.get("dryRun") or body.get("dryRun"):
        return _success(resource, obj), warnings
    if resource == "jobs":
        if policy is None:
            warnings.append(ORPHAN_WARNING)
        emu.controller.delete_job(ns, name, obj["metadata"]["uid"], orphan=policy in (None, "Orphan"))
    elif resource == "pods":
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        emu.controller.delete_pod(ns, name, None if grace is None else float(grace))
    else:
        emu.store.delete(resource, ns, name)
    return _success(resource, obj), warnings


def _success(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    group = "batch" if resource == "jobs" else ""
    details = {
        "name": obj["metadata"]["name"],
        "kind": resource,
        "uid": obj["metadata"]["uid"],
    }
    if group:
        details["group"] = group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


def update(
    emu: Emulator,
    resource: str,
    ns: str,
    name: str,
    body: Any,
    merge: bool,
    query: dict[str, str],
) -> dict[str, Any]:
    """PUT (replace) or merge PATCH; Job pod templates are immutable."""
    if resource == "pods":
        raise method_not_allowed()
    if not isinstance(body, dict):
        raise ApiError(415, "UnsupportedMediaType", "the emulator only supports merge patches")
    old = emu.store.get(resource, ns, name)
    new = _merge(old, body) if merge else body
    meta = new.setdefault("metadata", {})
    if meta.get("name") not in (None, name):
        raise bad_request("the name of the object does not match the name on the URL")
    meta.update(name=name, namespace=ns, uid=old["metadata"]["uid"])
    if resource == "jobs":
        new["status"] = old.get("status") or {}
        for field in ("template", "completions", "completionMode", "selector"):
            if new.get("spec", {}).get(field) != old["spec"].get(field):
                raise invalid(
                    "jobs",
                    name,
                    [FieldError("Invalid", f"spec.{field}", "", "field is immutable")],
                )
    _validate(emu, resource, new)
    if query.get("dryRun"):
        return with_kind(resource, new)
    return emu.store.replace(resource, ns, name, with_kind(resource, new))


def read_log(emu: Emulator, ns: str, name: str, query: dict[str, str]) -> bytes:
    """Return the (merged stdout+stderr) log of a pod container."""
    pod = emu.store.get("pods", ns, name)
    names = [c["name"] for c in pod["spec"]["containers"]]
    container = query.get("container")
    if container is None:
        if len(names) > 1:
            raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
        container = names[0]
    if container not in names:
        raise bad_request(f"container {container} is not valid for pod {name}")
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    state = (statuses.get(container) or {}).get("state") or {"waiting": {"reason": "ContainerCreating"}}
    path = emu.kubelet.log_dir(ns, name) / f"{container}.log"
    if query.get("previous", "").lower() in ("true", "1"):
        path = path.with_suffix(".log.prev")
        if not path.exists():
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    elif "waiting" in state and not path.exists():
        reason = state["waiting"].get("reason", "")
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            reason = "trying and failing to pull image"
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    if not path.exists():
        return b""
    data = path.read_bytes()
    if query.get("tailLines"):
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(query["tailLines"]) :]) if int(query["tailLines"]) > 0 else b""
    if query.get("limitBytes"):
        data = data[: int(query["limitBytes"])]
    return data


def get(emu: Emulator, resource: str, ns: str, name: str) -> dict[str, Any]:
    if resource not in KINDS:
        raise not_found(resource, name)
    return with_kind(resource, emu.store.get(resource, ns, name))
