"""Thread-safe in-memory object store with resourceVersions and UIDs."""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .errors import already_exists, not_found
from .selector import parse_field_selector, parse_label_selector

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (resource, namespace, name)


def now_rfc3339() -> str:
    """Current UTC time formatted like the apiserver (second precision)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Holds every object; all reads return deep copies."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[Key, Obj] = {}
        self._rv = itertools.count(1000)
        self.namespaces: set[str] = {"default", "kube-system", "kube-public"}

    def _bump(self, obj: Obj) -> None:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))

    def current_rv(self) -> str:
        with self.lock:
            rv = next(self._rv)
            return str(rv)

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        """Insert ``obj``; fills uid, resourceVersion, creationTimestamp."""
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                while True:
                    name = meta["generateName"] + uuid.uuid4().hex[:5]
                    if (resource, namespace, name) not in self._objects:
                        break
                meta["name"] = name
            key = (resource, namespace, meta["name"])
            if key in self._objects:
                raise already_exists(resource, meta["name"])
            meta["namespace"] = namespace
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = now_rfc3339()
            meta.setdefault("generation", 1)
            self._bump(obj)
            self._objects[key] = obj
            self.namespaces.add(namespace)
            return copy.deepcopy(obj)

    def get(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        """Like :meth:`get` but returns None when missing."""
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Objects of ``resource`` (all namespaces if ``namespace`` is None)."""
        lmatch = parse_label_selector(label_selector)
        fmatch = parse_field_selector(field_selector)
        with self.lock:
            out = []
            for (res, ns, _), obj in self._objects.items():
                if res != resource or (namespace is not None and ns != namespace):
                    continue
                if lmatch(obj["metadata"].get("labels") or {}) and fmatch(obj):
                    out.append(copy.deepcopy(obj))
        out.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
        return out

    def update(self, resource: str, namespace: str, name: str, fn: Callable[[Obj], None]) -> Obj | None:
        """Mutate an object in place under the lock; None if it is gone."""
        with self.lock:
            obj = self._objects.get((resource, namespace, name))
            if obj is None:
                return None
            fn(obj)
            self._bump(obj)
            return copy.deepcopy(obj)

    def replace(self, resource: str, namespace: str, name: str, obj: Obj) -> Obj:
        with self.lock:
            old = self._objects.get((resource, namespace, name))
            if old is None:
                raise not_found(resource, name)
            meta = obj.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "namespace", "name"):
                meta[k] = old["metadata"][k]
            meta["generation"] = old["metadata"].get("generation", 1) + 1
            self._bump(obj)
            self._objects[(resource, namespace, name)] = obj
            return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self._objects.pop((resource, namespace, name), None)
            if obj is None:
                raise not_found(resource, name)
            return obj

    def clear(self) -> None:
        with self.lock:
            self._objects.clear()
