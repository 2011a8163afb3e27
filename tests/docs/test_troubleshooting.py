"""The error messages the troubleshooting sections show are the ones the code raises today.

Each scenario provokes one mistake a user makes against the real infrastructure and
compares the message with docs/examples/output/errors/NAME.txt, which the pages include.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SSH_KEYS, check_golden

from clustrix import cluster
from infrastructure import PBS_BIN, require
from k8s_emulator import CONTEXT, Emulator

TIMEOUT = 180


def message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n"


def raised(options: dict[str, Any], func: Callable[..., Any], *args: Any) -> str:
    """Submit ``func`` with ``options`` and return the message of what its result raises."""
    wrapped = cluster(**options)(func)
    with pytest.raises(Exception) as info:
        wrapped.submit(*args).result(timeout=TIMEOUT)
    return message(info.value)


def nothing() -> int:
    return 1


def sleep_long() -> None:
    import time

    time.sleep(300)


def test_unknown_key_names_the_closest_one() -> None:
    with pytest.raises(TypeError) as info:
        cluster(memroy="4GB")
    check_golden("errors/unknown-key.txt", message(info.value).split(" Valid keys:")[0] + "\n")


def test_malformed_memory_says_how_to_write_it() -> None:
    with pytest.raises(ValueError) as info:
        cluster(memory="lots")
    check_golden("errors/bad-memory.txt", message(info.value))


def test_backend_not_installed_names_the_package() -> None:
    wrapped = cluster(cluster_type="lsf")(nothing)
    with pytest.raises(ValueError) as info:
        wrapped()
    check_golden("errors/backend-not-installed.txt", message(info.value).split(" Installed backends:")[0] + "\n")


def test_slurm_unknown_partition_is_rejected_at_submit() -> None:
    require("slurm")
    check_golden("errors/slurm-partition.txt", raised({"cluster_type": "slurm", "partition": "gpu-big"}, nothing))


def test_slurm_memory_beyond_any_node_is_rejected_at_submit() -> None:
    require("slurm")
    check_golden("errors/slurm-memory.txt", raised({"cluster_type": "slurm", "memory": "4TB"}, nothing))


def test_sge_unknown_queue_is_rejected_at_submit() -> None:
    require("sge")
    check_golden("errors/sge-queue.txt", raised({"cluster_type": "sge", "queue": "gpu.q"}, nothing))


def test_pbs_unknown_queue_is_rejected_at_submit() -> None:
    require("torque")
    options = {"cluster_type": "pbs", "pbs_flavor": "torque", "queue": "gpu"}
    options.update({c: str(PBS_BIN / c) for c in ("qsub", "qstat", "qdel")})
    check_golden("errors/pbs-queue.txt", raised(options, nothing))


def test_ssh_unknown_host_key_is_refused(tmp_path: Path) -> None:
    require("ssh")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    options = {"cluster_type": "ssh", "cluster_host": "127.0.0.1", **SSH_KEYS, "known_hosts": str(empty)}
    text = raised(options, nothing).replace(str(empty), "~/.ssh/known_hosts")
    check_golden("errors/ssh-unknown-host.txt", _fingerprint_free(text))


def test_ssh_wrong_key_fails_authentication(tmp_path: Path) -> None:
    require("ssh")
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    options = {"cluster_type": "ssh", "cluster_host": "127.0.0.1", **SSH_KEYS, "key_file": str(key)}
    check_golden("errors/ssh-auth.txt", raised(options, nothing).replace(str(key), "~/.ssh/id_ed25519"))


def test_ssh_job_past_its_time_limit_raises_job_timeout() -> None:
    require("ssh")
    options = {"cluster_type": "ssh", "cluster_host": "127.0.0.1", **SSH_KEYS, "time": "3s"}
    check_golden("errors/ssh-timeout.txt", raised(options, sleep_long))


def test_k8s_unpullable_image_is_rejected(k8s_emulator: Emulator) -> None:
    options = {
        "cluster_type": "k8s",
        "kubeconfig": str(k8s_emulator.kubeconfig),
        "k8s_context": CONTEXT,
        "k8s_image": "registry.example.org/lab/does-not-exist:2.1",
    }
    text = re.sub(r"(clustrix-\S+-c[0-9a-f]{16,20}-\d+)-[a-z0-9]{5}\b", r"\1-x7k2q", raised(options, nothing))
    check_golden("errors/k8s-image.txt", text)


def _fingerprint_free(text: str) -> str:
    """The loopback host key's fingerprint changes with every fresh test setup."""
    return re.sub(r"SHA256:[A-Za-z0-9+/]{43}", "SHA256:qSArAwmE8NZvr6MczN2vT455+Cw7WSN0t+GB5EG7RL8", text)
