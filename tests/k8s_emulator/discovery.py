"""Discovery documents and the request log record type."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-clustrix-emulator",
    "gitCommit": "0000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _resource_list(group_version: str, resources: list[tuple[str, str, bool]]) -> dict[str, Any]:
    verbs = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    items = [{"name": n, "singularName": "", "namespaced": nsd, "kind": k, "verbs": verbs} for n, k, nsd in resources]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": items,
    }


DISCOVERY: dict[str, Any] = {
    "/version": VERSION,
    "/api": {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    },
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "batch",
                "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
            }
        ],
    },
    "/api/v1": _resource_list(
        "v1",
        [
            ("pods", "Pod", True),
            ("pods/log", "Pod", True),
            ("secrets", "Secret", True),
            ("configmaps", "ConfigMap", True),
            ("namespaces", "Namespace", False),
        ],
    ),
    "/apis/batch/v1": _resource_list("batch/v1", [("jobs", "Job", True), ("jobs/status", "Job", True)]),
}


@dataclass
class RequestRecord:
    """One request as seen by the emulator."""

    verb: str  # create/get/list/watch/delete/deletecollection/update/patch/discovery
    resource: str  # jobs, pods, pods/log, secrets, configmaps, namespaces, discovery
    method: str
    path: str
    namespace: str | None = None
    name: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0
    time: float = field(default_factory=time.time)
