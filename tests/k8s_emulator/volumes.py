"""Materialize pod volumes on the host and rewrite container paths.

Unprivileged processes cannot mount at absolute paths such as ``/payload``,
so each volume is written to a host directory and every occurrence of a
``volumeMounts[].mountPath`` prefix in ``command``, ``args``, ``env[].value``
and ``workingDir`` is rewritten to that host directory (see :func:`rewrite`).
"""

from __future__ import annotations

import base64
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .rules import parse_quantity
from .store import Store

_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_PATH_CHAR = r"A-Za-z0-9_.\-"


class MountError(Exception):
    """A referenced Secret/ConfigMap is missing (pod stays ContainerCreating)."""


class ConfigError(Exception):
    """An env source is missing (waiting reason CreateContainerConfigError)."""


def _source_data(store: Store, ns: str, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
    resource = "secrets" if kind == "secret" else "configmaps"
    obj = store.find(resource, ns, name)
    if obj is None:
        if optional:
            return None
        raise MountError(f'{"secret" if kind == "secret" else "configmap"} "{name}" not found')
    out: dict[str, bytes] = {}
    if resource == "secrets":
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
    else:
        for k, v in (obj.get("data") or {}).items():
            out[k] = str(v).encode()
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = base64.b64decode(v or "")
    return out


def _write_keys(target: Path, src: dict[str, Any], data: dict[str, bytes] | None, what: str) -> None:
    if data is None:
        return
    default_mode = src.get("defaultMode", 0o644)
    items = src.get("items")
    pairs = [(i["key"], i["path"], i.get("mode")) for i in items] if items else [(k, k, None) for k in data]
    for key, rel, mode in pairs:
        if key not in data:
            if src.get("optional"):
                continue
            raise MountError(f"couldn't find key {key} in {what}")
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data[key])
        os.chmod(dest, mode if mode is not None else default_mode)


def materialize(store: Store, pod: dict[str, Any], pod_dir: Path) -> dict[str, Path]:
    """Write every volume of ``pod`` below ``pod_dir``; returns name -> host dir."""
    ns = pod["metadata"]["namespace"]
    out: dict[str, Path] = {}
    for vol in pod["spec"].get("volumes") or []:
        target = pod_dir / "volumes" / vol["name"]
        if vol.get("hostPath"):
            out[vol["name"]] = Path(vol["hostPath"]["path"])
            out[vol["name"]].mkdir(parents=True, exist_ok=True)
            continue
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if vol.get("secret") is not None:
            src = vol["secret"]
            data = _source_data(store, ns, "secret", src["secretName"], bool(src.get("optional")))
            _write_keys(target, src, data, f'Secret "{src["secretName"]}"')
        elif vol.get("configMap") is not None:
            src = vol["configMap"]
            data = _source_data(store, ns, "configMap", src["name"], bool(src.get("optional")))
            _write_keys(target, src, data, f'ConfigMap "{src["name"]}"')
        elif vol.get("projected") is not None:
            for source in vol["projected"].get("sources") or []:
                for kind, key in (("secret", "secret"), ("configMap", "configMap")):
                    if source.get(key):
                        src = source[key]
                        data = _source_data(store, ns, kind, src["name"], bool(src.get("optional")))
                        _write_keys(target, src, data, f'{kind} "{src["name"]}"')
        out[vol["name"]] = target
    return out


def mount_map(container: dict[str, Any], volumes: dict[str, Path]) -> dict[str, str]:
    """mountPath -> host path for one container."""
    mapping: dict[str, str] = {}
    for vm in container.get("volumeMounts") or []:
        host = volumes[vm["name"]]
        if vm.get("subPath"):
            host = host / vm["subPath"]
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        mapping[vm["mountPath"].rstrip("/") or "/"] = str(host)
    return mapping


def rewrite(text: str, mapping: dict[str, str]) -> str:
    """Replace mountPath prefixes in ``text`` with their host directories.

    A mountPath matches only as a whole path prefix: it must not be preceded
    by a path character or ``/`` and must be followed by ``/``, the end or a
    non-path character (so ``/data`` rewrites ``/data/x`` but not ``/database``
    or ``/srv/data``). Longer mount paths win.
    """
    for mount in sorted(mapping, key=len, reverse=True):
        if mount == "/":
            continue
        pattern = rf"(?<![{_PATH_CHAR}/]){re.escape(mount)}(?=/|$|[^{_PATH_CHAR}])"
        text = re.sub(pattern, lambda _m, h=mapping[mount]: h, text)
    return text


def expand_vars(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (``$$`` escapes)."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR_REF.sub(sub, text)


def _field_ref(pod: dict[str, Any], path: str) -> str:
    meta = pod["metadata"]
    if m := re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path):
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": pod["spec"].get("nodeName"),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    return str(simple.get(path) or "")


def _resource_ref(container: dict[str, Any], ref: dict[str, Any]) -> str:
    section, _, rname = ref["resource"].partition(".")
    qty = ((container.get("resources") or {}).get(section) or {}).get(rname)
    if qty is None:
        return "0"
    value = parse_quantity(qty) / parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(value))


def resolve_env(
    store: Store,
    pod: dict[str, Any],
    container: dict[str, Any],
    mapping: dict[str, str],
) -> dict[str, str]:
    """Evaluate ``envFrom`` and ``env`` (with mount rewriting of literal values)."""
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        for kind, key, name_key in (
            ("secret", "secretRef", "name"),
            ("configMap", "configMapRef", "name"),
        ):
            ref = src.get(key)
            if not ref:
                continue
            try:
                data = _source_data(store, ns, kind, ref[name_key], bool(ref.get("optional")))
            except MountError as exc:
                raise ConfigError(str(exc)) from exc
            for k, v in (data or {}).items():
                env[(src.get("prefix") or "") + k] = v.decode(errors="replace")
    for item in container.get("env") or []:
        name, vf = item["name"], item.get("valueFrom")
        if not vf:
            env[name] = rewrite(expand_vars(item.get("value") or "", env), mapping)
            continue
        for kind, key in (("secret", "secretKeyRef"), ("configMap", "configMapKeyRef")):
            ref = vf.get(key)
            if not ref:
                continue
            try:
                data = _source_data(store, ns, kind, ref["name"], bool(ref.get("optional")))
            except MountError as exc:
                raise ConfigError(str(exc)) from exc
            if data is None or ref["key"] not in data:
                if ref.get("optional"):
                    break
                raise ConfigError(f"couldn't find key {ref['key']} in {kind} {ns}/{ref['name']}")
            env[name] = data[ref["key"]].decode(errors="replace")
        if vf.get("fieldRef"):
            env[name] = _field_ref(pod, vf["fieldRef"]["fieldPath"])
        if vf.get("resourceFieldRef"):
            env[name] = _resource_ref(container, vf["resourceFieldRef"])
    return env
