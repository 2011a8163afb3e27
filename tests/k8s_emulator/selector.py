"""Label and field selector parsing (``k=v``, ``k!=v``, ``k in (a,b)``, ``k``, ``!k``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Requirement = Callable[[dict[str, str]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None) -> Requirement:
    """Compile a label selector string into a predicate over a label dict."""
    if not selector or not selector.strip():
        return lambda labels: True
    reqs: list[Requirement] = []
    for term in _split_terms(selector):
        if m := _SET_RE.match(term):
            key, op = m.group(1), m.group(2)
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                reqs.append(lambda lb, k=key, vs=values: k in lb and lb[k] in vs)
            else:
                reqs.append(lambda lb, k=key, vs=values: k not in lb or lb[k] not in vs)
        elif m := _EQ_RE.match(term):
            key, op, value = m.groups()
            if op == "!=":
                reqs.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                reqs.append(lambda lb, k=key, v=value: k in lb and lb[k] == v)
        elif m := _EXISTS_RE.match(term):
            neg, key = m.groups()
            if neg:
                reqs.append(lambda lb, k=key: k not in lb)
            else:
                reqs.append(lambda lb, k=key: k in lb)
        else:
            raise bad_request(f"unable to parse requirement: {term!r}")
    return lambda labels: all(r(labels) for r in reqs)


def _field_value(obj: dict[str, Any], path: str) -> str | None:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return None if cur is None else str(cur)


def parse_field_selector(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    """Compile a field selector (``metadata.name=x,status.phase!=Running``)."""
    if not selector or not selector.strip():
        return lambda obj: True
    reqs = []
    for term in _split_terms(selector):
        m = _EQ_RE.match(term)
        if not m:
            raise bad_request(f"invalid field selector: {term!r}")
        reqs.append(m.groups())

    def match(obj: dict[str, Any]) -> bool:
        for key, op, value in reqs:
            actual = _field_value(obj, key) or ""
            if (actual == value) != (op != "!="):
                return False
        return True

    return match
