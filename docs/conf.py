"""Sphinx configuration: furo theme, autodoc, sphinx-click, and the settings table from the code."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import clustrix  # after the path change: the docs document the installed code

project = "Clustrix"
author = "the Clustrix authors"
copyright = "the Clustrix authors"
release = version = clustrix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx_click",
    "clustrix_docs",
]
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"Clustrix {release}"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
nitpicky = True
# types from the standard library and dependencies: no intersphinx (the build needs no network)
nitpick_ignore_regex = [
    ("py:class", r"(typing|collections\.abc|concurrent\.futures|pathlib|asyncio|pluggy|paramiko)\..*"),
    ("py:class", r"(Any|Callable|Sequence|Mapping|Iterable|Generator|Future|Path|R|T|NoneType|Setting|Completed)"),
    ("py:class", r"(ValueError|TypeError|KeyError|Exception|BaseException)"),
    ("py:class", r"clustrix\.(decorator|future|hookspecs|plugins)\.(R|_Relay)"),
    ("py:obj", r"clustrix\.decorator\.R"),  # the TypeVar of ClusterFunction[R]
    ("py:class", r"'.*"),  # fragments of string annotations autodoc cannot split
    ("py:class", r"clustrix\.config\.Setting"),
    ("py:class", r"clustrix\.transport\.(Transport|Completed)"),
]
