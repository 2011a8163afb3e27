"""In-process Kubernetes API emulator for testing Clustrix against the real client.

See ``README.md`` in this directory for the supported API subset and rules.
"""

from .emulator import CONTEXT, Emulator
from .kubelet import image_pull_fails
from .server import RequestRecord

__all__ = ["CONTEXT", "Emulator", "RequestRecord", "image_pull_fails"]
