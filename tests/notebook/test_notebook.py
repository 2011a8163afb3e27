"""The docs' notebook, executed by a real Jupyter kernel (nbclient + ipykernel).

Cells define a class and a decorated function that run on the backend; a future and
``clustrix.jobs()`` render as HTML tables; ``clustrix.wait(progress=True)`` draws a widget;
a kernel interrupt during a blocking call cancels its job; a fresh kernel finds the jobs
and gets a result back with ``attach``. On the local backend the outputs are the ones
the tutorial shows (docs/examples/output/notebook.txt, rewritten with CLUSTRIX_DOCS_UPDATE=1).
"""

from __future__ import annotations

import copy
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from infrastructure import require

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOTEBOOK = DOCS / "examples" / "notebook.ipynb"
GOLDEN = DOCS / "examples" / "output" / "notebook.txt"
WIDGET = "application/vnd.jupyter.widget-view+json"
UPDATE = os.environ.get("CLUSTRIX_DOCS_UPDATE") == "1"  # read at import: the home fixture clears CLUSTRIX_*


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def normalize(text: str) -> str:
    text = re.sub(r"\bc[0-9a-f]{16,20}\b", "c0a1b2c3d4e5f60718", text)
    text = re.sub(r"(local|slurm)([: ]\s*)\d+\b", r"\1\2N", text)
    text = re.sub(r"<td>\d+</td>", "<td>N</td>", text)
    text = re.sub(r"\b\d+[smhd] ago", "Ns ago", text)
    return text


def render(cells: list[Any]) -> str:
    """The executed cells as text: each cell's source, then what it printed or returned."""
    parts = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        parts.append(f"In [{cell.get('execution_count')}]:\n{cell.source}\n")
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(f"[{out.name}]\n{out.text.rstrip()}\n")
            elif out.output_type == "error":
                parts.append(f"[error] {out.ename}\n")
            elif WIDGET not in out.get("data", {}):
                parts.append(f"Out: {out.data['text/plain']}\n")
        parts.append("")
    return normalize("\n".join(parts))


def job_rows() -> list[dict[str, Any]]:
    from clustrix.listing import jobs

    return list(jobs(limit=None))


def run_interrupted(client: Any, cell: Any, index: int) -> None:
    """Execute ``cell``; once its job is recorded as submitted, interrupt the kernel as
    Jupyter's stop button does (SIGINT to the kernel process)."""
    pid = client.km.provisioner.process.pid
    problems: list[str] = []

    def interrupt_once_submitted() -> None:
        deadline = time.monotonic() + 300
        while not any(r["function"] == "nap" and r["state"] in ("PENDING", "RUNNING") for r in job_rows()):
            if time.monotonic() > deadline:
                problems.append("the blocking call's job was never recorded as submitted")
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_submitted)
    interrupter.start()
    client.execute_cell(cell, index)
    interrupter.join()
    assert not problems, problems


def execute(notebook: Any, workdir: Path) -> Any:
    """Run the cells up to the 'fresh-kernel' tag in one kernel, the rest in a new one."""
    split = next(i for i, c in enumerate(notebook.cells) if "fresh-kernel" in tags(c))
    first, second = copy.deepcopy(notebook), copy.deepcopy(notebook)
    first.cells, second.cells = notebook.cells[:split], notebook.cells[split:]
    resources = {"metadata": {"path": str(workdir)}}
    client = nbclient.NotebookClient(first, timeout=600, kernel_name="python3", resources=resources)
    with client.setup_kernel():
        for index, cell in enumerate(first.cells):
            if "interrupt" in tags(cell):
                run_interrupted(client, cell, index)
            else:
                client.execute_cell(cell, index)
    nbclient.NotebookClient(second, timeout=600, kernel_name="python3", resources=resources).execute()
    return first.cells + second.cells


BACKENDS = {"local": ("", ()), "slurm": ('cluster_type = "slurm"\n', ("slurm",))}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_notebook_runs_cells_renders_tables_cancels_on_interrupt_and_recovers(
    backend: str, tmp_path: Path, clustrix_home: Path
) -> None:
    config, needs = BACKENDS[backend]
    for component in needs:
        require(component)
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "clustrix.toml").write_text(config)
    cells = execute(nbformat.read(NOTEBOOK, as_version=4), workdir)
    code = [c for c in cells if c.cell_type == "code"]
    results = {i: o for i, c in enumerate(code) for o in c.outputs if o.output_type == "execute_result"}

    assert results[1].data["text/plain"] == "(3, 4)"  # a class and a function defined in cells ran
    assert "<table>" in results[2].data["text/html"] and "finished" in results[2].data["text/html"]
    assert results[3].data["text/plain"] == "[(0, 1), (1, 1), (2, 1), (3, 1)]"
    assert any(WIDGET in o.get("data", {}) for o in code[3].outputs), "no progress widget in the notebook"
    interrupted = code[4].outputs
    assert [o.ename for o in interrupted if o.output_type == "error"] == ["KeyboardInterrupt"]
    assert any("cancelled job" in o.get("text", "") for o in interrupted), interrupted
    assert {r["backend"] for r in job_rows()} == {backend}
    nap = next(r for r in job_rows() if r["function"] == "nap")
    assert nap["state"] == "CANCELLED"
    assert "<table>" in results[5].data["text/html"]  # clustrix.jobs() in the fresh kernel
    assert results[6].data["text/plain"] == "['CANCELLED', 'COMPLETED', 'COMPLETED', 'COMPLETED']"
    assert results[7].data["text/plain"] == "(3, 4)"  # attach() in the fresh kernel

    if backend == "local":
        text = render(cells)
        if UPDATE:
            GOLDEN.write_text(text)
        assert text == GOLDEN.read_text(), "the notebook's outputs are no longer what the tutorial shows"
