"""clustrix.jobs() is the table `clustrix jobs` prints, in a terminal and as HTML."""

from __future__ import annotations

from click.testing import CliRunner

import clustrix
from clustrix.cli import main


@clustrix.cluster
def double(x: int) -> int:
    return 2 * x


def test_jobs_prints_the_cli_table_and_renders_it_as_html() -> None:
    assert [f.result(timeout=120) for f in double.map([1, 2, 3])] == [2, 4, 6]
    assert double.submit(5).result(timeout=120) == 10
    table = clustrix.jobs()
    cli = CliRunner().invoke(main, ["jobs"])
    assert cli.exit_code == 0, cli.output
    assert repr(table) == cli.output.rstrip("\n")
    assert [job["calls"] for job in table] == [1, 3]
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "3 (3 completed)" in html and "<th>JOB</th>" in html


def test_a_future_renders_as_a_one_row_table() -> None:
    future = double.submit(1)
    assert future.result(timeout=120) == 2
    html = future._repr_html_()
    assert html.count("<tr>") == 2 and future.job_id in html and "finished" in html
