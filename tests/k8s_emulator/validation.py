"""Object validation mirroring what kube-apiserver rejects (422 Invalid)."""

from __future__ import annotations

import json
from typing import Any

from . import rules
from .errors import FieldError, invalid

MAX_ANNOTATIONS_SIZE = 256 * 1024
STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}
VOLUME_SOURCES = (
    "secret", "configMap", "emptyDir", "hostPath", "persistentVolumeClaim", "projected",
    "downwardAPI", "nfs", "csi", "ephemeral", "image",
)  # fmt: skip


def check_meta(meta: dict[str, Any], errs: list[FieldError], max_name: int = 253) -> None:
    name, gen = meta.get("name"), meta.get("generateName")
    if not name and not gen:
        errs.append(FieldError("Required", "metadata.name", detail="name or generateName is required"))
    elif name:
        for msg in rules.dns1123_subdomain(name):
            errs.append(FieldError("Invalid", "metadata.name", name, msg))
    elif gen:
        for msg in rules.dns1123_subdomain(gen.rstrip("-") or "x"):
            errs.append(FieldError("Invalid", "metadata.generateName", gen, msg))
    check_labels(meta.get("labels"), "metadata.labels", errs)
    annotations = meta.get("annotations") or {}
    for key in annotations:
        for msg in rules.qualified_name(key):
            errs.append(FieldError("Invalid", "metadata.annotations", key, msg))
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > MAX_ANNOTATIONS_SIZE:
        errs.append(
            FieldError(
                "TooLong",
                "metadata.annotations",
                detail=f"must have at most {MAX_ANNOTATIONS_SIZE} bytes",
            )
        )


def check_labels(labels: Any, path: str, errs: list[FieldError]) -> None:
    """Validate label keys and values."""
    for key, value in (labels or {}).items():
        for msg in rules.qualified_name(key):
            errs.append(FieldError("Invalid", path, key, msg))
        if not isinstance(value, str):
            errs.append(FieldError("Invalid", f"{path}[{key}]", value, "label values must be strings"))
            continue
        for msg in rules.label_value(value):
            errs.append(FieldError("Invalid", path, value, msg))


def _nonneg(spec: dict[str, Any], key: str, path: str, errs: list[FieldError]) -> None:
    value = spec.get(key)
    if value is not None and value < 0:
        errs.append(FieldError("Invalid", f"{path}.{key}", value, "must be greater than or equal to 0"))


def _check_resources(res: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for section in ("limits", "requests"):
        for rname, qty in (res.get(section) or {}).items():
            fpath = f"{path}.{section}[{rname}]"
            if rname not in STANDARD_RESOURCES and "/" not in rname and not rname.startswith("hugepages-"):
                errs.append(
                    FieldError(
                        "Invalid",
                        fpath,
                        rname,
                        "must be a standard resource type or fully qualified",
                    )
                )
                continue
            try:
                value = rules.parse_quantity(qty)
            except (ValueError, TypeError):
                errs.append(
                    FieldError(
                        "Invalid",
                        fpath,
                        str(qty),
                        f"must match the regex {rules.QUANTITY_FMT}",
                    )
                )
                continue
            if value < 0:
                errs.append(FieldError("Invalid", fpath, str(qty), "must be greater than or equal to 0"))
            elif "/" in rname and value != int(value):
                errs.append(FieldError("Invalid", fpath, str(qty), "must be an integer"))
            parsed[section][rname] = (value, qty)
    for rname, (req, qty) in parsed["requests"].items():
        if rname in parsed["limits"] and req > parsed["limits"][rname][0]:
            limit = parsed["limits"][rname][1]
            errs.append(
                FieldError(
                    "Invalid",
                    f"{path}.requests",
                    str(qty),
                    f"must be less than or equal to {rname} limit of {limit}",
                )
            )


def _check_container(c: dict[str, Any], path: str, volumes: set[str], errs: list[FieldError]) -> None:
    name = c.get("name")
    if not name:
        errs.append(FieldError("Required", f"{path}.name"))
    else:
        for msg in rules.dns1123_label(name):
            errs.append(FieldError("Invalid", f"{path}.name", name, msg))
    if not c.get("image"):
        errs.append(FieldError("Required", f"{path}.image"))
    for i, env in enumerate(c.get("env") or []):
        epath = f"{path}.env[{i}]"
        if not env.get("name"):
            errs.append(FieldError("Required", f"{epath}.name"))
        else:
            for msg in rules.env_var_name(env["name"]):
                errs.append(FieldError("Invalid", f"{epath}.name", env["name"], msg))
        if env.get("value") and env.get("valueFrom"):
            errs.append(
                FieldError(
                    "Invalid",
                    f"{epath}.valueFrom",
                    "",
                    "may not be specified when `value` is not empty",
                )
            )
    _check_resources(c.get("resources") or {}, f"{path}.resources", errs)
    seen: set[str] = set()
    for i, vm in enumerate(c.get("volumeMounts") or []):
        vpath = f"{path}.volumeMounts[{i}]"
        if not vm.get("name"):
            errs.append(FieldError("Required", f"{vpath}.name"))
        elif vm["name"] not in volumes:
            errs.append(FieldError("NotFound", f"{vpath}.name", vm["name"]))
        mount = vm.get("mountPath")
        if not mount:
            errs.append(FieldError("Required", f"{vpath}.mountPath"))
        elif mount in seen:
            errs.append(FieldError("Invalid", f"{vpath}.mountPath", mount, "must be unique"))
        seen.add(mount or "")
        sub = vm.get("subPath") or ""
        if sub.startswith("/") or ".." in sub.split("/"):
            errs.append(
                FieldError(
                    "Invalid",
                    f"{vpath}.subPath",
                    sub,
                    "must be a relative path without '..'",
                )
            )


def _check_volumes(vols: list[dict[str, Any]], path: str, errs: list[FieldError]) -> set[str]:
    names: set[str] = set()
    for i, vol in enumerate(vols):
        vpath = f"{path}[{i}]"
        name = vol.get("name")
        if not name:
            errs.append(FieldError("Required", f"{vpath}.name"))
        else:
            for msg in rules.dns1123_label(name):
                errs.append(FieldError("Invalid", f"{vpath}.name", name, msg))
            if name in names:
                errs.append(FieldError("Duplicate", f"{vpath}.name", name))
            names.add(name)
        sources = [s for s in VOLUME_SOURCES if vol.get(s) is not None]
        if not sources:
            errs.append(FieldError("Required", vpath, detail="must specify a volume type"))
        elif len(sources) > 1:
            errs.append(
                FieldError(
                    "Forbidden",
                    f"{vpath}.{sources[1]}",
                    detail="may not specify more than 1 volume type",
                )
            )
        if vol.get("secret") is not None and not vol["secret"].get("secretName"):
            errs.append(FieldError("Required", f"{vpath}.secret.secretName"))
        if vol.get("configMap") is not None and not vol["configMap"].get("name"):
            errs.append(FieldError("Required", f"{vpath}.configMap.name"))
        for src in ("secret", "configMap"):
            for j, item in enumerate((vol.get(src) or {}).get("items") or []):
                ipath = f"{vpath}.{src}.items[{j}]"
                if not item.get("key"):
                    errs.append(FieldError("Required", f"{ipath}.key"))
                p = item.get("path") or ""
                if not p:
                    errs.append(FieldError("Required", f"{ipath}.path"))
                elif p.startswith("/") or ".." in p.split("/"):
                    errs.append(
                        FieldError(
                            "Invalid",
                            f"{ipath}.path",
                            p,
                            "must be a relative path without '..'",
                        )
                    )
    return names


def check_pod_spec(spec: dict[str, Any], path: str, errs: list[FieldError], job: bool) -> None:
    """Validate a PodSpec (``job`` adds the Job restartPolicy rule)."""
    volumes = _check_volumes(spec.get("volumes") or [], f"{path}.volumes", errs)
    containers = spec.get("containers") or []
    if not containers:
        errs.append(FieldError("Required", f"{path}.containers"))
    names: set[str] = set()
    for kind in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(kind) or []):
            _check_container(c, f"{path}.{kind}[{i}]", volumes, errs)
            if c.get("name") in names:
                errs.append(FieldError("Duplicate", f"{path}.{kind}[{i}].name", c["name"]))
            names.add(c.get("name"))
    policy = spec.get("restartPolicy")
    if job and policy is None:
        errs.append(
            FieldError(
                "Required",
                f"{path}.restartPolicy",
                detail='valid values: "OnFailure", "Never"',
            )
        )
    elif job and policy not in ("OnFailure", "Never"):
        errs.append(
            FieldError(
                "Unsupported",
                f"{path}.restartPolicy",
                policy,
                'supported values: "OnFailure", "Never"',
            )
        )
    elif policy not in (None, "Always", "OnFailure", "Never"):
        errs.append(
            FieldError(
                "Unsupported",
                f"{path}.restartPolicy",
                policy,
                'supported values: "Always", "OnFailure", "Never"',
            )
        )
    _nonneg(spec, "activeDeadlineSeconds", path, errs)
    _nonneg(spec, "terminationGracePeriodSeconds", path, errs)


def validate_job(job: dict[str, Any]) -> None:
    """Raise 422 if the (defaulted) Job would be rejected by an apiserver."""
    meta = job.get("metadata") or {}
    errs: list[FieldError] = []
    check_meta(meta, errs)
    name = meta.get("name") or meta.get("generateName") or ""
    if len(name) > 63:
        errs.append(
            FieldError(
                "Invalid",
                "spec.template.labels",
                name,
                "must be no more than 63 characters",
            )
        )
    spec = job.get("spec") or {}
    template = spec.get("template")
    if not isinstance(template, dict) or not template.get("spec"):
        errs.append(FieldError("Required", "spec.template.spec.containers"))
    else:
        check_labels(
            (template.get("metadata") or {}).get("labels"),
            "spec.template.metadata.labels",
            errs,
        )
        check_pod_spec(template["spec"], "spec.template.spec", errs, job=True)
    for key in (
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ):
        _nonneg(spec, key, "spec", errs)
    mode = spec.get("completionMode") or "NonIndexed"
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(
            FieldError(
                "Unsupported",
                "spec.completionMode",
                mode,
                'supported values: "NonIndexed", "Indexed"',
            )
        )
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(FieldError("Required", "spec.completions", detail="when completion mode is Indexed"))
    if mode == "Indexed" and (spec.get("completions") or 0) > 100000:
        errs.append(
            FieldError(
                "Invalid",
                "spec.completions",
                spec["completions"],
                "must be less than or equal to 100000",
            )
        )
    if errs:
        raise invalid("jobs", name, errs)


def check_job_selector(job: dict[str, Any]) -> None:
    """Before defaulting: a user selector needs ``manualSelector: true``."""
    spec = job.get("spec") or {}
    if spec.get("selector") and not spec.get("manualSelector"):
        name = (job.get("metadata") or {}).get("name") or ""
        sel = json.dumps(spec["selector"])
        raise invalid(
            "jobs",
            name,
            [FieldError("Invalid", "spec.selector", sel, "`selector` will be auto-generated")],
        )
