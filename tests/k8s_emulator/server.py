"""HTTP layer: routes the kubernetes client's REST paths to :mod:`.api`."""

from __future__ import annotations

import json
import re
import select
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from . import api
from .discovery import DISCOVERY, RequestRecord
from .errors import ApiError, bad_request, method_not_allowed, too_large

if TYPE_CHECKING:
    from .emulator import Emulator

MAX_BODY = 3 * 1024 * 1024  # apiserver request body limit (3 MiB)
_NS_RES = r"(?P<res>pods|secrets|configmaps)"
ROUTES = [
    re.compile(rf"^/api/v1/namespaces/(?P<ns>[^/]+)/{_NS_RES}(?:/(?P<name>[^/]+)(?:/(?P<sub>log|status))?)?$"),
    re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/(?P<res>jobs)(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?$"),
    re.compile(rf"^/api/v1/{_NS_RES}$"),
    re.compile(r"^/apis/batch/v1/(?P<res>jobs)$"),
    re.compile(r"^/api/v1/(?P<res>namespaces)(?:/(?P<name>[^/]+))?$"),
]


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(addr, Handler)


class Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    server_version = "clustrix-k8s-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ----------------------------------------------------------
    def _send(
        self,
        code: int,
        body: Any,
        ctype: str = "application/json",
        headers: list[tuple[str, str]] = (),
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        self._record()  # before the client can see the answer, so counts are exact when it returns
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> None:
        rec, self._pending = getattr(self, "_pending", None), None
        if rec is not None:
            self.server.emulator.record(rec)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise too_large(f"Request entity too large: limit is {MAX_BODY}")
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        emu = self.server.emulator
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        rec = RequestRecord(
            verb="discovery",
            resource="discovery",
            method=method,
            path=url.path,
            query=query,
        )
        self._pending = rec
        try:
            if emu.token is not None and self.headers.get("Authorization") != f"Bearer {emu.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._route(emu, method, url.path, query, rec)
        except ApiError as err:
            rec.status = err.code
            self._send(err.code, err.status())
        except (BrokenPipeError, ConnectionResetError):
            rec.status = 499
        except Exception as exc:
            rec.status = 500
            self._send(500, ApiError(500, "InternalError", f"emulator error: {exc!r}").status())
        finally:
            self._record()

    def _route(
        self,
        emu: Emulator,
        method: str,
        path: str,
        query: dict[str, str],
        rec: RequestRecord,
    ) -> None:
        path = path.rstrip("/") or "/"
        if path in DISCOVERY and method == "GET":
            rec.status = 200
            return self._send(200, DISCOVERY[path])
        if path in ("/healthz", "/readyz", "/livez"):
            rec.status = 200
            return self._send(200, b"ok", "text/plain")
        for route in ROUTES:
            if m := route.match(path):
                break
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        g = m.groupdict()
        res, ns, name, sub = g["res"], g.get("ns"), g.get("name"), g.get("sub")
        rec.resource, rec.namespace, rec.name = (
            res + (f"/{sub}" if sub else ""),
            ns,
            name,
        )
        if res == "namespaces":
            return self._namespaces(emu, method, name, rec)
        if name is None:
            return self._collection(emu, method, res, ns, query, rec)
        if sub == "log":
            rec.verb = "get"
            if method != "GET":
                raise method_not_allowed()
            if _flag(query, "follow"):
                return self._follow(emu, ns, name, query, rec)
            data = api.read_log(emu, ns, name, query)
            rec.status = 200
            return self._send(200, data, "text/plain")
        rec.verb = {
            "GET": "get",
            "DELETE": "delete",
            "PUT": "update",
            "PATCH": "patch",
        }.get(method, "create")
        if method == "GET":
            body = api.get(emu, res, ns, name)
            code = 200
        elif method == "DELETE":
            raw = self._read_body()
            body, warnings = api.delete(emu, res, ns, name, api.parse_body(raw) if raw else {}, query)
            rec.status = 200
            return self._send(200, body, headers=[("Warning", w) for w in warnings])
        elif method in ("PUT", "PATCH"):
            raw = self._read_body()
            parsed = json.loads(raw or b"null") if raw else None
            if sub == "status":
                raise method_not_allowed()
            body = api.update(emu, res, ns, name, parsed, method == "PATCH", query)
            code = 200
        else:
            raise method_not_allowed()
        rec.status = code
        self._send(code, body)

    def _collection(
        self,
        emu: Emulator,
        method: str,
        res: str,
        ns: str | None,
        query: dict[str, str],
        rec: RequestRecord,
    ) -> None:
        if method == "POST":
            rec.verb = "create"
            if ns is None:
                raise method_not_allowed()
            created = api.create(emu, res, ns, api.parse_body(self._read_body()), query)
            rec.status, rec.name = 201, created["metadata"].get("name")
            return self._send(201, created)
        selectors = (query.get("labelSelector"), query.get("fieldSelector"))
        if method == "DELETE":
            rec.verb = "deletecollection"
            raw = self._read_body()
            opts = api.parse_body(raw) if raw else {}
            for obj in emu.store.list(res, ns, *selectors):
                try:
                    api.delete(
                        emu,
                        res,
                        obj["metadata"]["namespace"],
                        obj["metadata"]["name"],
                        opts,
                        query,
                    )
                except ApiError:
                    pass
            rec.status = 200
            return self._send(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                },
            )
        if method != "GET":
            raise method_not_allowed()
        if _flag(query, "watch"):
            rec.verb = "watch"
            return self._watch(emu, res, ns, query, rec)
        rec.verb = "list"
        rv = emu.store.current_rv()
        items = emu.store.list(res, ns, *selectors)
        rec.status = 200
        self._send(200, api.list_body(res, items, rv, query))

    def _namespaces(self, emu: Emulator, method: str, name: str | None, rec: RequestRecord) -> None:
        rec.verb = "get" if name else ("list" if method == "GET" else "create")
        if method == "POST":
            body = api.parse_body(self._read_body())
            name = (body.get("metadata") or {}).get("name")
            if not name:
                raise bad_request("namespace name required")
            emu.store.namespaces.add(name)
            rec.status = 201
            return self._send(201, _namespace(name))
        if method != "GET":
            raise method_not_allowed()
        rec.status = 200
        if name:
            return self._send(200, _namespace(name))
        items = [_namespace(n) for n in sorted(emu.store.namespaces)]
        self._send(
            200,
            {
                "kind": "NamespaceList",
                "apiVersion": "v1",
                "metadata": {},
                "items": items,
            },
        )

    # -- streaming -----------------------------------------------------------
    def _stream_start(self, ctype: str) -> None:
        """Begin a chunked HTTP/1.1 response, as the apiserver streams."""
        self.protocol_version = "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        """Write one chunk (an empty one ends the stream)."""
        if data or not self._chunks_done:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self._chunks_done = not data

    _chunks_done = False

    def _client_gone(self) -> bool:
        """True when the client closed its end of a streaming connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _follow(
        self,
        emu: Emulator,
        ns: str,
        name: str,
        query: dict[str, str],
        rec: RequestRecord,
    ) -> None:
        api.read_log(emu, ns, name, {k: v for k, v in query.items() if k != "follow"})
        container = query.get("container") or emu.store.get("pods", ns, name)["spec"]["containers"][0]["name"]
        path = emu.kubelet.log_dir(ns, name) / f"{container}.log"
        rec.status = 200
        self._stream_start("text/plain")
        offset = 0
        while emu.running and not self._client_gone():
            data = path.read_bytes()[offset:] if path.exists() else b""
            if data:
                self._chunk(data)
                offset += len(data)
            pod = emu.store.find("pods", ns, name)
            if pod is None or (pod.get("status") or {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                rest = path.read_bytes()[offset:] if path.exists() else b""
                if rest:
                    self._chunk(rest)
                break
            time.sleep(0.05)
        self._chunk(b"")

    def _watch(
        self,
        emu: Emulator,
        res: str,
        ns: str | None,
        query: dict[str, str],
        rec: RequestRecord,
    ) -> None:
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 1800)
        selectors = (query.get("labelSelector"), query.get("fieldSelector"))
        seen: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        rec.status = 200
        self._stream_start("application/json")
        end = time.monotonic() + timeout
        first = True
        while emu.running and time.monotonic() < end and not self._client_gone():
            current = {
                (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in emu.store.list(res, ns, *selectors)
            }
            events = []
            for key, obj in current.items():
                rv = obj["metadata"]["resourceVersion"]
                if key not in seen:
                    if not (first and since and int(rv) <= since):
                        events.append(("ADDED", obj))
                elif seen[key][0] != rv:
                    events.append(("MODIFIED", obj))
            events += [("DELETED", seen[k][1]) for k in seen if k not in current]
            seen = {k: (o["metadata"]["resourceVersion"], o) for k, o in current.items()}
            first = False
            for etype, obj in events:
                event = {"type": etype, "object": api.with_kind(res, obj)}
                self._chunk(json.dumps(event).encode() + b"\n")
            time.sleep(0.1)
        self._chunk(b"")


def _flag(query: dict[str, str], key: str) -> bool:
    """Boolean query parameter (clients send ``true`` or ``True``)."""
    return query.get(key, "").lower() in ("true", "1")


def _namespace(name: str) -> dict[str, Any]:
    meta = {"name": name, "labels": {"kubernetes.io/metadata.name": name}}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta,
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
