"""The configuration keys the Kubernetes backend reads, with their checks."""

from __future__ import annotations

import re
from typing import Any

from clustrix.plugin import ConfigError, Setting, parse_memory

PLUGIN = "clustrix_k8s"
#: the largest pickled result read back from a pod log by default (see README: why)
DEFAULT_MAX_RESULT_BYTES = 6 * 2**20
DEFAULT_TTL_SECONDS = 86400

# k8s.io/apimachinery/pkg/api/resource quantity grammar
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")


def check_cpu(value: Any) -> None:
    """A CPU amount Kubernetes accepts: 2, 0.5, '500m'."""
    if isinstance(value, bool) or not _QUANTITY.match(str(value)):
        raise ConfigError(f"cpu_limit: {value!r} is not a Kubernetes CPU quantity; write e.g. 2, 0.5 or '500m'")


def _check_tolerations(value: Any) -> None:
    if not all(isinstance(t, dict) for t in value):
        raise ConfigError(
            "k8s_tolerations: each toleration is a mapping, e.g. "
            '{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}'
        )


def _check_str_map(name: str) -> Any:
    def check(value: Any) -> None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"{name}: keys and values must be strings, not {value!r}")

    return check


def _S(name: str, type_: Any, default: Any, help_: str, group: str = "resources", **kw: Any) -> Setting:
    return Setting(name, type_, default, help_, group, plugin=PLUGIN, **kw)


SETTINGS: tuple[Setting, ...] = (
    _S(
        "kubeconfig",
        str,
        None,
        "Kubernetes: kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster).",
        "target",
    ),
    _S("k8s_context", str, None, "Kubernetes: kubeconfig context (default: its current-context).", "target"),
    _S(
        "k8s_namespace",
        str,
        None,
        "Kubernetes: namespace of the Jobs (default: the context's, else 'default').",
        "target",
    ),
    _S("k8s_image", str, None, "Kubernetes: container image with Python (same minor version) and cloudpickle."),
    _S(
        "k8s_image_pull_policy",
        str,
        None,
        "Kubernetes: imagePullPolicy of the container.",
        choices=(None, "Always", "IfNotPresent", "Never"),
    ),
    _S("k8s_image_pull_secrets", list, [], "Kubernetes: names of Secrets used to pull the image."),
    _S("k8s_service_account", str, None, "Kubernetes: service account the pods run as."),
    _S("k8s_node_selector", dict, {}, "Kubernetes: nodeSelector labels.", check=_check_str_map("k8s_node_selector")),
    _S("k8s_tolerations", list, [], "Kubernetes: tolerations (list of mappings).", check=_check_tolerations),
    _S("k8s_labels", dict, {}, "Kubernetes: extra labels on Jobs and pods.", check=_check_str_map("k8s_labels")),
    _S("cpu_limit", (str, int, float), None, "CPU limit per call (Kubernetes quantity: 2, '500m').", check=check_cpu),
    _S("memory_limit", (str, int), None, "Memory limit per call (default: `memory`), e.g. '16GB'.", check=parse_memory),
    _S("k8s_gpu_resource", str, "nvidia.com/gpu", "Kubernetes: extended resource name `gpus` asks for."),
    _S(
        "k8s_backoff_limit",
        int,
        0,
        "Kubernetes: pod retries before the Job fails (0: a failed pod is a failed call).",
        minimum=0,
    ),
    _S(
        "k8s_ttl_seconds",
        int,
        DEFAULT_TTL_SECONDS,
        "Kubernetes: ttlSecondsAfterFinished; finished Jobs not cleaned up by Clustrix go after this.",
        "behaviour",
        minimum=0,
    ),
    _S(
        "k8s_max_result_bytes",
        int,
        DEFAULT_MAX_RESULT_BYTES,
        "Kubernetes: largest pickled result per element read back through the pod log.",
        "behaviour",
        minimum=0,
    ),
    _S(
        "k8s_install_cloudpickle",
        bool,
        True,
        "Kubernetes: pip-install cloudpickle in the pod when the image lacks it (needs network).",
        "behaviour",
    ),
)
