"""Sphinx directives that generate reference pages from the installed code, so they cannot drift.

``.. clustrix-settings::``  every configuration key: the core's CORE_SETTINGS plus each installed
                           plugin's ``clustrix_settings`` hook, grouped by plugin.
``.. clustrix-api::``      autodoc entries for exactly the names in ``clustrix.__all__``.
"""

from __future__ import annotations

import inspect
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _type_name(setting: Any) -> str:
    types = setting.type if isinstance(setting.type, tuple) else (setting.type,)
    return " or ".join(t.__name__ for t in types)


def _default(setting: Any) -> str:
    if setting.default in (None, [], {}):
        return "—"
    return f"``{setting.default!r}``"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def settings_by_plugin() -> list[tuple[str, str, list[Any]]]:
    """(plugin name, distribution, settings) in load order: the core first, then each plugin."""
    from clustrix.config import CORE_SETTINGS
    from clustrix.plugins import manager

    pm = manager()
    seen = {s.name for s in CORE_SETTINGS}
    groups: list[tuple[str, str, list[Any]]] = [("core", "clustrix", list(CORE_SETTINGS))]
    for name, plugin in pm.pm.list_name_plugin():
        hook = getattr(plugin, "clustrix_settings", None)
        if hook is None:
            continue
        own = [s for s in hook() if s.name not in seen]
        seen.update(s.name for s in own)
        if not own:
            continue
        if name.startswith("clustrix."):  # the core's own plugins (e.g. the environment step)
            groups[0][2].extend(own)
            continue
        info = pm.info.get(name)
        groups.append((name, info.distribution if info else "?", own))
    return groups[:1] + sorted(groups[1:])


class SettingsDirective(SphinxDirective):
    """The full table of configuration keys of the installed core and plugins."""

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for name, distribution, settings in settings_by_plugin():
            title = "Core keys" if name == "core" else f"Backend ``{name}`` (``pip install {distribution}``)"
            lines += [title, "~" * (len(title) + 4), ""]
            lines += [".. list-table::", "   :header-rows: 1", "   :widths: 22 12 16 50", ""]
            lines += ["   * - key", "     - type", "     - default", "     - meaning"]
            for s in settings:
                meaning = _escape(s.help)
                if s.choices:
                    meaning += " One of: " + ", ".join(f"``{c!r}``" for c in s.choices if c is not None) + "."
                if s.range_text():
                    meaning += f" Range: {s.range_text()}."
                lines += [
                    f"   * - .. _setting-{s.name}:",
                    "",
                    f"       ``{s.name}``",
                    f"     - {_type_name(s)}",
                    f"     - {_default(s)}",
                    f"     - {meaning} *Environment:* ``CLUSTRIX_{s.name.upper()}``.",
                ]
            lines.append("")
        return self.parse(lines)

    def parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.section()
        nested_parse_with_titles(self.state, StringList(lines, source="clustrix-settings"), container)
        return container.children


class ApiDirective(SphinxDirective):
    """``autoclass``/``autofunction`` for every public name, in ``clustrix.__all__`` order."""

    def run(self) -> list[nodes.Node]:
        import clustrix

        lines: list[str] = []
        for name in clustrix.__all__:
            obj = getattr(clustrix, name)
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            lines += [f".. {kind}:: clustrix.{name}"]
            if kind == "autoclass":
                lines += ["   :members:", "   :show-inheritance:"]
                if issubclass(obj, BaseException):
                    lines += ["   :exclude-members: what"]
            lines.append("")
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="clustrix-api"), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("clustrix-settings", SettingsDirective)
    app.add_directive("clustrix-api", ApiDirective)
    return {"version": "1", "parallel_read_safe": True}
