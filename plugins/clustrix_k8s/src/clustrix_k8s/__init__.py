"""Kubernetes backend for Clustrix: every call, or every ``.map()``, is one Indexed batch/v1 Job.

Registered through the entry point ``k8s = "clustrix_k8s:plugin"``; select it with
``@cluster(cluster_type="k8s", k8s_image=...)``. See README.md for what the image
needs, the settings, and how large a result may be.
"""

from .backend import K8sBackend

plugin = K8sBackend()

__all__ = ["K8sBackend", "plugin"]
