"""The :class:`Emulator`: API server + job controller + kubelet in one object."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .controller import JobController
from .kubelet import Kubelet
from .server import EmulatorHTTPServer, RequestRecord
from .store import Store

CONTEXT = "clustrix-test"


class Emulator:
    """A tiny Kubernetes API emulator that really runs Job pods locally.

    Usable as a context manager. ``pause()``/``resume()`` make only the HTTP
    endpoint unreachable (connection refused) while pods keep running.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        token: str | None = None,
        backoff_seconds: float = 0.0,
        python: str = sys.executable,
        inherit_env: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.token = token  # when set, requests must carry "Bearer <token>"
        self.store = Store()
        self.workdir = Path(tempfile.mkdtemp(prefix="k8s-emulator-"))
        self.kubelet = Kubelet(self.store, self.workdir / "pods", python=python, inherit_env=inherit_env)
        self.controller = JobController(self.store, self.kubelet, backoff_seconds)
        self.requests: list[RequestRecord] = []
        self.kubeconfig: Path | None = None
        self.running = False
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._req_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        """Start controller, kubelet and HTTP server."""
        if not self.controller.is_alive():
            self.controller.start()
        self.running = True
        self.resume()
        return self

    def stop(self) -> None:
        """Stop everything, kill all pod processes and remove temp files."""
        self.running = False
        self.pause()
        self.controller.stop()
        self.kubelet.stop_all()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def pause(self) -> None:
        """Close the listening socket: clients get connection refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def resume(self) -> None:
        """Listen again on the same port."""
        if self._server is not None:
            return
        for attempt in range(50):
            try:
                self._server = EmulatorHTTPServer((self.host, self.port), self)
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
        assert self._server is not None
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()

    @contextlib.contextmanager
    def unreachable(self) -> Iterator[None]:
        """``with emu.unreachable(): ...`` -- API down inside the block."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- kubeconfig ------------------------------------------------------------
    def write_kubeconfig(self, path: str | Path | None = None, namespace: str = "default") -> Path:
        """Write a kubeconfig (context ``clustrix-test``, dummy token) and return its path."""
        import yaml

        path = Path(path) if path is not None else self.workdir / "kubeconfig"
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [
                {
                    "name": CONTEXT,
                    "user": {"token": self.token or "clustrix-dummy-token"},
                }
            ],
            "contexts": [
                {
                    "name": CONTEXT,
                    "context": {
                        "cluster": CONTEXT,
                        "user": CONTEXT,
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": CONTEXT,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg))
        self.kubeconfig = path
        return path

    def api_client(self) -> Any:
        """A kubernetes ``ApiClient`` configured for this emulator."""
        from kubernetes import client, config

        kubeconfig = self.kubeconfig or self.write_kubeconfig()
        cfg = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), context=CONTEXT, client_configuration=cfg)
        return client.ApiClient(cfg)

    # -- test controls -----------------------------------------------------------
    def evict(
        self, pod_name: str, namespace: str = "default", message: str | None = None, grace: float | None = None
    ) -> None:
        """Stop a pod like node-pressure eviction or preemption: SIGTERM, SIGKILL after its
        grace period (``grace`` seconds, else its terminationGracePeriodSeconds), then mark
        it Failed/Evicted."""
        msg = message or "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
        if self.store.find("pods", namespace, pod_name) is None:
            raise KeyError(f"pod {namespace}/{pod_name} not found")
        self.kubelet.kill(namespace, pod_name, "Evicted", msg, grace)

    def pods(self, job_name: str | None = None, namespace: str = "default") -> list[dict[str, Any]]:
        """Pod objects (optionally of one Job) straight from the store."""
        return self.store.list("pods", namespace, f"job-name={job_name}" if job_name else None)

    def job(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        return self.store.find("jobs", namespace, name)

    def wait_for_job(self, name: str, namespace: str = "default", timeout: float = 20.0) -> dict[str, Any]:
        """Block until the Job has a Complete/Failed condition; returns it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            job = self.job(name, namespace)
            conds = ((job or {}).get("status") or {}).get("conditions") or []
            if any(c["type"] in ("Complete", "Failed") for c in conds):
                return job  # type: ignore[return-value]
            time.sleep(0.05)
        raise TimeoutError(f"job {namespace}/{name} did not finish in {timeout}s: {self.job(name, namespace)}")

    def record(self, rec: RequestRecord) -> None:
        with self._req_lock:
            self.requests.append(rec)

    def clear_requests(self) -> None:
        with self._req_lock:
            self.requests.clear()

    def request_counts(self) -> Counter[tuple[str, str]]:
        """Counter keyed by (verb, resource), e.g. ``("list", "jobs")``."""
        with self._req_lock:
            return Counter((r.verb, r.resource) for r in self.requests)

    def count(self, verb: str | None = None, resource: str | None = None, since: float = 0.0) -> int:
        """Number of recorded requests matching ``verb``/``resource`` after ``since``."""
        with self._req_lock:
            return sum(
                1
                for r in self.requests
                if (verb is None or r.verb == verb) and (resource is None or r.resource == resource) and r.time >= since
            )
