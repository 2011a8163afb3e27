"""The core's default staging, fetching and clean-up: files through ``target.transport``.

Registered ``trylast``, so a backend that stages its own way (Kubernetes) answers first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .job import Job
    from .target import Target


class TransportFiles:
    """Default staging, fetching and cleanup: files through ``target.transport``."""

    @hookimpl(trylast=True)
    def clustrix_stage(self, job: Job, target: Target) -> bool:
        transport = target.transport
        if str(job.local_dir) == job.remote_dir:
            return True
        blobs = target.blobs_needed(job)
        transport.mkdirs([*job.remote_subdirs(), job.remote_blobs_dir])
        remote_blobs = {f"{job.remote_blobs_dir}/{d}": d for d in blobs}
        for path in sorted(transport.missing(remote_blobs)):
            transport.put(target.home / "blobs" / remote_blobs[path], path)
        for item in sorted(job.local_dir.iterdir()):
            if item.is_file():
                transport.put(item, job.remote_file(item.name), mode=0o700 if item.suffix == ".sh" else 0o600)
        return True

    @hookimpl(trylast=True)
    def clustrix_fetch(self, job: Job, target: Target, elements: Sequence[int]) -> bool:
        if str(job.local_dir) != job.remote_dir:
            for e in elements:
                target.transport.get(job.remote_result(e), job.result_path(e))
        return True

    @hookimpl(trylast=True)
    def clustrix_cleanup(self, job: Job, target: Target) -> bool:
        if str(job.local_dir) != job.remote_dir:
            target.transport.remove_tree(job.remote_dir)
        return True
