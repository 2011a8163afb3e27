"""The conformance kit on a real Kubernetes cluster, when KUBECONFIG points at one.

The one test of the suite that may skip, also in CI (there is no cluster there): the
reason is printed at the end of the run. To run it::

    KUBECONFIG=~/.kube/config REAL_K8S_IMAGE=python:3.11-slim python -m pytest tests/k8s -m real_k8s

REAL_K8S_IMAGE (default: python:X.Y-slim of this interpreter; the pod then pip-installs
cloudpickle, which needs network), REAL_K8S_NAMESPACE and REAL_K8S_CONTEXT choose where
the jobs run. (CLUSTRIX_* variables would be removed by the suite's isolation fixture.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from clustrix.testing import BackendConformance

#: read at import: the suite's autouse fixture clears the environment of Clustrix keys
SETTINGS = {
    "k8s_image": os.environ.get("REAL_K8S_IMAGE"),
    "k8s_namespace": os.environ.get("REAL_K8S_NAMESPACE"),
    "k8s_context": os.environ.get("REAL_K8S_CONTEXT"),
}


def unreachable_reason() -> str | None:
    """Why there is no real cluster to test against, or None when KUBECONFIG answers."""
    path = os.environ.get("KUBECONFIG")
    if not path:
        return "KUBECONFIG is not set: no real Kubernetes cluster to run the conformance kit on"
    from kubernetes import client, config

    try:
        configuration = client.Configuration()
        config.load_kube_config(config_file=path, context=SETTINGS["k8s_context"], client_configuration=configuration)
        client.VersionApi(client.ApiClient(configuration)).get_code(_request_timeout=10)
    except Exception as exc:
        return f"KUBECONFIG={path} reaches no Kubernetes API server ({type(exc).__name__}: {exc})"
    return None


@pytest.mark.real_k8s
class TestRealCluster(BackendConformance):
    remote_files = False  # pods keep their files; results come back through the API
    timeout = 600  # image pulls and scheduling on a real cluster

    @pytest.fixture
    def backend_options(self) -> dict[str, Any]:
        reason = unreachable_reason()
        if reason:
            pytest.skip(f"real_k8s: {reason}")
        options = {"cluster_type": "k8s", "kubeconfig": os.environ["KUBECONFIG"], "max_poll_interval": 2.0}
        return {**options, **{k: v for k, v in SETTINGS.items() if v}}
