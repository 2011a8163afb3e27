"""The guarantees page names, for every promise, the test that keeps it: each named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guarantees.rst"
REFERENCE = re.compile(r"``((?:tests|clustrix_core)/[\w/]+\.py)::(\w+)``")


def test_every_test_the_guarantees_page_names_exists() -> None:
    references = REFERENCE.findall(PAGE.read_text())
    assert references, "docs/guarantees.rst names no test"
    missing = []
    for path, name in references:
        file = ROOT / path
        tree = ast.parse(file.read_text()) if file.exists() else ast.Module(body=[], type_ignores=[])
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        if name not in defined:
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/guarantees.rst names tests that do not exist: {missing}"
