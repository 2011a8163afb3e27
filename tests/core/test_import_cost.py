"""Importing Clustrix costs nothing until a name is used.

The runner on an execution host imports ``clustrix.checkpoint`` in every array task; it used
to pull in the whole client (the job store, the plugin manager, click, paramiko's config
parsing...), about 0.15 s of a trivial call's 0.25 s on the node.
"""

from __future__ import annotations

import json
import subprocess
import sys

import clustrix

CLIENT_MODULES = ["clustrix.decorator", "clustrix.lifecycle", "clustrix.store", "clustrix.plugins", "click", "pluggy"]


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_the_runners_import_of_checkpoint_loads_none_of_the_client() -> None:
    loaded = modules_after("import clustrix.checkpoint")
    assert "clustrix.checkpoint" in loaded
    assert loaded.isdisjoint(CLIENT_MODULES), sorted(loaded.intersection(CLIENT_MODULES))


def test_every_public_name_resolves_on_first_use_and_is_the_defining_modules_own() -> None:
    import importlib

    for name in clustrix.__all__:
        value = getattr(clustrix, name)
        home = importlib.import_module(value.__module__)
        assert getattr(home, name) is value, name
    assert set(clustrix.__all__) <= set(dir(clustrix))


def test_a_fresh_process_gets_names_submodules_and_the_version_without_importing_them_first() -> None:
    code = (
        "import clustrix\n"
        "assert clustrix.cluster.__module__ == 'clustrix.decorator'\n"
        "assert clustrix.checkpoint.save.__module__ == 'clustrix.checkpoint'\n"
        "assert clustrix.__version__\n"
        "from clustrix import JobLost, FutureList, wait\n"
        "try:\n    clustrix.no_such_name\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "has no attribute 'no_such_name'" in out
