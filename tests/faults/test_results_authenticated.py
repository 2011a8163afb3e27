"""Nothing read back from where jobs run is unpickled before it is authenticated.

The runner signs each result file with the job's own key (HMAC-SHA256, key made at
packaging, 0600, never in the job store or manifest); the client checks the signature
before unpickling a byte. A forged ``results/E.pkl`` whose payload would run code on the
client (here: create a marker file) is refused by ``clustrix result`` whatever digest
it carries, and the code never runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from clustrix import cluster
from clustrix.cli import main
from clustrix.job_access import store_here


class RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _finished_job(value: int = 41):
    @cluster(keep_files=True)
    def answer(x):
        return x + 1

    future = answer.submit(value)
    assert future.result(timeout=120) == value + 1
    return future.job


def _forgeries(marker: Path) -> dict[str, bytes]:
    body = pickle.dumps([("ok", RunsCodeWhenUnpickled(marker))])
    digest = hashlib.sha256(body).hexdigest().encode()
    framed = pickle.dumps([pickle.dumps(("ok", RunsCodeWhenUnpickled(marker)))])
    return {
        "old format, recomputed sha256": b"CLUSTRIX1 " + digest + b"\n" + body,
        "new format, sha256 instead of the HMAC": b"CLUSTRIX2 "
        + hashlib.sha256(framed).hexdigest().encode()
        + b"\n"
        + framed,
        "new format, HMAC with a guessed key": b"CLUSTRIX2 "
        + hmac.new(b"\0" * 32, framed, hashlib.sha256).hexdigest().encode()
        + b"\n"
        + framed,
    }


@pytest.mark.parametrize("kind", list(_forgeries(Path("/nonexistent"))))
def test_forged_result_is_refused_by_clustrix_result_and_its_code_never_runs(kind, tmp_path):
    job = _finished_job()
    marker = tmp_path / "forged-result-ran"
    job.result_path(0).write_bytes(_forgeries(marker)[kind])

    done = CliRunner().invoke(main, ["result", job.job_id])

    assert not marker.exists(), "the forged result was unpickled: its code ran on the client"
    assert done.exit_code == 1, done.output
    assert "refusing to unpickle" in done.output


def test_result_of_another_job_is_refused(tmp_path):
    first, second = _finished_job(1), _finished_job(2)
    shutil.copyfile(first.result_path(0), second.result_path(0))  # validly signed, by another job's key

    done = CliRunner().invoke(main, ["result", second.job_id])

    assert done.exit_code == 1, done.output
    assert "does not match the job's key" in done.output


def test_job_key_is_private_and_never_in_the_store_or_manifest():
    job = _finished_job()
    key_path = job.local_dir / "key"
    key = key_path.read_bytes()
    assert len(key) == 32
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    manifest = (job.local_dir / "manifest.json").read_text()
    assert key.hex() not in manifest and "key" not in json.loads(manifest)
    store_files = [p for p in Path(store_here().path).parent.iterdir() if p.name.startswith("jobs.sqlite")]
    assert store_files
    for path in store_files:
        data = path.read_bytes()
        assert key not in data and key.hex().encode() not in data
