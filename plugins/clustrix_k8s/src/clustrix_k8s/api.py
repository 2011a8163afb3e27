"""Reaching the cluster: one API client per (kubeconfig, context), from kubeconfig or in-cluster."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustrix.plugin import ConfigError

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: (connect, read) seconds for every API call, so a hung API server cannot stall the watcher
REQUEST_TIMEOUT = (10, 60)


@dataclass(frozen=True)
class Cluster:
    """Where a job's objects live: the client config and the namespace."""

    kubeconfig: str | None  # None: in-cluster
    context: str | None
    namespace: str


@dataclass
class Clients:
    core: Any
    batch: Any


_clients: dict[tuple[str | None, str | None], Clients] = {}
_namespaces: dict[tuple[str | None, str | None], str] = {}
_lock = threading.Lock()


def _kubeconfig_path(settings: Mapping[str, Any]) -> str | None:
    """The kubeconfig to read, or None for in-cluster config."""
    configured = settings.get("kubeconfig")
    if configured:
        return str(Path(configured).expanduser())
    env = os.environ.get("KUBECONFIG")
    if env:
        return env  # may be a ':'-separated list, which the client merges
    default = Path("~/.kube/config").expanduser()
    if default.exists():
        return str(default)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    raise ConfigError(
        "no Kubernetes configuration: set kubeconfig= (or KUBECONFIG), create ~/.kube/config, or run inside a cluster"
    )


def cluster_of(settings: Mapping[str, Any]) -> Cluster:
    path = _kubeconfig_path(settings)
    context = settings.get("k8s_context")
    namespace = settings.get("k8s_namespace") or _default_namespace(path, context)
    return Cluster(path, context, namespace)


def _default_namespace(path: str | None, context: str | None) -> str:
    key = (path, context)
    with _lock:
        if key in _namespaces:
            return _namespaces[key]
    namespace = "default"
    if path is None:
        if IN_CLUSTER_NAMESPACE.exists():
            namespace = IN_CLUSTER_NAMESPACE.read_text().strip() or "default"
    else:
        from kubernetes import config

        try:
            contexts, active = config.list_kube_config_contexts(config_file=path)
        except Exception as exc:
            raise ConfigError(f"kubeconfig {path}: cannot be read: {exc}") from None
        chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
        if context and chosen is None:
            names = ", ".join(c.get("name", "?") for c in contexts)
            raise ConfigError(f"k8s_context: {context!r} is not in {path}; its contexts: {names}")
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    with _lock:
        _namespaces[key] = namespace
    return namespace


def clients(cluster: Cluster) -> Clients:
    """The API clients for a cluster, created once per process."""
    key = (cluster.kubeconfig, cluster.context)
    with _lock:
        found = _clients.get(key)
    if found is not None:
        return found
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        if cluster.kubeconfig is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(
                config_file=cluster.kubeconfig, context=cluster.context, client_configuration=configuration
            )
    except config.ConfigException as exc:
        raise ConfigError(f"Kubernetes configuration: {exc}") from None
    api = client.ApiClient(configuration)
    made = Clients(core=client.CoreV1Api(api), batch=client.BatchV1Api(api))
    with _lock:
        return _clients.setdefault(key, made)


def api_message(exc: Exception) -> str:
    """The API server's own message from an ApiException (its Status body), else str(exc)."""
    import json

    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            return f"{status.get('reason', '')}: {status.get('message', body)}".strip(": ")
        except (ValueError, AttributeError):
            return str(body)
    return str(exc)
