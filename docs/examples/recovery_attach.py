"""Later, in another process (or after a reboot of the laptop): the result, by job id."""

import sys

import clustrix

future = clustrix.attach(sys.argv[1])  # a ClusterFuture again, watched like the original
print(future.result(timeout=600))
