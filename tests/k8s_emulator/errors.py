"""Kubernetes ``Status`` error objects as returned by a real API server."""

from __future__ import annotations

from typing import Any

# group and kind used in Status.details for each served resource
RESOURCE_INFO: dict[str, tuple[str, str]] = {
    "jobs": ("batch", "Job"),
    "pods": ("", "Pod"),
    "secrets": ("", "Secret"),
    "configmaps": ("", "ConfigMap"),
    "namespaces": ("", "Namespace"),
}


class ApiError(Exception):
    """An error that the HTTP layer turns into a ``Status`` response."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """Return the ``Status`` body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified_kind(resource: str) -> str:
    """``Job.batch`` / ``Secret`` as used in apiserver messages."""
    group, kind = RESOURCE_INFO[resource]
    return f"{kind}.{group}" if group else kind


def not_found(resource: str, name: str) -> ApiError:
    group, _ = RESOURCE_INFO[resource]
    what = f"{resource}.{group}" if group else resource
    return ApiError(
        404,
        "NotFound",
        f'{what} "{name}" not found',
        {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
    )


def already_exists(resource: str, name: str) -> ApiError:
    group, _ = RESOURCE_INFO[resource]
    what = f"{resource}.{group}" if group else resource
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return ApiError(409, "AlreadyExists", f'{what} "{name}" already exists', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )


def too_large(message: str) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", message)


class FieldError:
    """One validation failure (mirrors apimachinery ``field.Error``)."""

    def __init__(self, kind: str, field: str, value: Any = None, detail: str = "") -> None:
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail

    @property
    def reason(self) -> str:
        return {
            "Required": "FieldValueRequired",
            "Invalid": "FieldValueInvalid",
            "Unsupported": "FieldValueNotSupported",
            "Duplicate": "FieldValueDuplicate",
            "Forbidden": "FieldValueForbidden",
            "TooLong": "FieldValueTooLong",
            "NotFound": "FieldValueNotFound",
        }[self.kind]

    def body(self) -> str:
        """The message without the field path."""
        if self.kind == "Required":
            text = "Required value"
        elif self.kind == "Invalid":
            text = f"Invalid value: {_fmt(self.value)}"
        elif self.kind == "Unsupported":
            text = f"Unsupported value: {_fmt(self.value)}"
        elif self.kind == "Duplicate":
            text = f"Duplicate value: {_fmt(self.value)}"
        elif self.kind == "NotFound":
            text = f"Not found: {_fmt(self.value)}"
        elif self.kind == "TooLong":
            text = "Too long"
        else:
            text = "Forbidden"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(resource: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid, formatted like ``StatusError`` from apimachinery."""
    group, kind = RESOURCE_INFO[resource]
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors],
    }
    if group:
        details["group"] = group
    return ApiError(
        422,
        "Invalid",
        f'{qualified_kind(resource)} "{name}" is invalid: {joined}',
        details,
    )
