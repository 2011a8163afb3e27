"""Secret/ConfigMap validation, client-model checks and namespace checks."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import threading
from typing import Any

from . import rules
from .errors import ApiError, FieldError, bad_request, invalid
from .validation import check_meta

MAX_DATA_SIZE = 1048576  # core.MaxSecretSize == MaxConfigMapSize (1 MiB)

_model_client: Any = None
_model_lock = threading.Lock()


class _FakeResponse:
    """Minimal response object for older kubernetes clients' ``deserialize``."""

    def __init__(self, text: str) -> None:
        self.data = text


def deserialize_model(obj: dict[str, Any], klass: str) -> Any:
    """Deserialize ``obj`` with the official client's models (ValueError if invalid)."""
    global _model_client
    from kubernetes import client

    with _model_lock:
        if _model_client is None:
            _model_client = client.ApiClient()
    text = json.dumps(obj)
    params = inspect.signature(_model_client.deserialize).parameters
    if "content_type" in params:
        return _model_client.deserialize(text, klass, "application/json")
    return _model_client.deserialize(_FakeResponse(text), klass)


def check_model(resource: str, obj: dict[str, Any], klass: str) -> None:
    """Run the client's model validation; map failures to 422/400."""
    name = (obj.get("metadata") or {}).get("name") or ""
    try:
        deserialize_model(obj, klass)
    except (ValueError, TypeError) as exc:
        errs = getattr(exc, "errors", None)
        causes = []
        if callable(errs):
            for e in errs():
                loc = ".".join(str(p) for p in e.get("loc", ()))
                if e.get("input") is None:
                    causes.append(FieldError("Required", loc or "body"))
                else:
                    raise bad_request(f'{klass[2:]} in version "v1" cannot be handled as a {klass[2:]}: {exc}') from exc
        raise invalid(resource, name, causes or [FieldError("Invalid", "body", "", str(exc))]) from exc


def decode_b64(value: str, path: str) -> bytes:
    """Decode base64 like the apiserver's JSON decoder ([]byte fields)."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise bad_request(f"illegal base64 data in {path}: {exc}") from exc


def validate_secret(secret: dict[str, Any]) -> None:
    """Validate a Secret; folds ``stringData`` into ``data`` first."""
    meta = secret.get("metadata") or {}
    errs: list[FieldError] = []
    check_meta(meta, errs)
    data = secret.get("data") or {}
    for key, value in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        secret["data"] = data
    size = 0
    for key, value in data.items():
        for msg in rules.config_key(key):
            errs.append(FieldError("Invalid", f"data[{key}]", key, msg))
        size += len(decode_b64(value or "", f"data[{key}]"))
    if size > MAX_DATA_SIZE:
        errs.append(FieldError("TooLong", "data", detail=f"must have at most {MAX_DATA_SIZE} bytes"))
    secret.setdefault("type", "Opaque")
    if errs:
        raise invalid("secrets", meta.get("name") or "", errs)


def validate_configmap(cm: dict[str, Any]) -> None:
    """Validate a ConfigMap (``data`` and base64 ``binaryData``)."""
    meta = cm.get("metadata") or {}
    errs: list[FieldError] = []
    check_meta(meta, errs)
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    size = 0
    for key, value in data.items():
        for msg in rules.config_key(key):
            errs.append(FieldError("Invalid", f"data[{key}]", key, msg))
        if key in binary:
            errs.append(
                FieldError(
                    "Invalid",
                    f"data[{key}]",
                    key,
                    "duplicate of key present in binaryData",
                )
            )
        size += len(str(value).encode())
    for key, value in binary.items():
        for msg in rules.config_key(key):
            errs.append(FieldError("Invalid", f"binaryData[{key}]", key, msg))
        size += len(decode_b64(value or "", f"binaryData[{key}]"))
    if size > MAX_DATA_SIZE:
        errs.append(FieldError("TooLong", "data", detail=f"must have at most {MAX_DATA_SIZE} bytes"))
    if errs:
        raise invalid("configmaps", meta.get("name") or "", errs)


def check_namespace(body_ns: str | None, path_ns: str) -> None:
    """400 when the body namespace disagrees with the URL."""
    if body_ns and body_ns != path_ns:
        raise ApiError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    for msg in rules.dns1123_label(path_ns):
        raise ApiError(400, "BadRequest", f'invalid namespace "{path_ns}": {msg}')
