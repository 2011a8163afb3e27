"""SSH backend vs raw OpenSSH on loopback, side by side in one run.

    python benchmarks/ssh.py        (or: nox -s bench; needs tests/infra/ssh.sh's sshd)

(a) Round trip of a trivial ``@cluster`` call (stage, start detached, poll, fetch,
clean up) on a warm connection, vs a raw ``ssh ... python3 -c pass`` (a new connection
and an interpreter start: what a user would do by hand). (b) Staging a ~200 MB payload
with each SSH client (paramiko's SFTP session; the system ssh over its shared master,
``ssh_client = "openssh"``) vs ``scp`` of the same file. Times are medians;
ratios are Clustrix / OpenSSH (below 1: Clustrix is faster).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

SSH_DIR = Path(os.environ.get("SSH_DIR", "/tmp/clustrix-infra/ssh"))
PORT = int(os.environ.get("SSH_PORT", "2222"))
USER = os.environ.get("SSH_USER", "clustrix")
PAYLOAD_MB = 200
ROUNDS = 10

OPTIONS = {
    "cluster_type": "ssh",
    "cluster_host": "127.0.0.1",
    "port": PORT,
    "username": USER,
    "key_file": str(SSH_DIR / "id_ed25519"),
    "known_hosts": str(SSH_DIR / "known_hosts"),
    "ssh_config": str(SSH_DIR / "no-ssh-config"),
}
SSH_ARGS = ["-i", str(SSH_DIR / "id_ed25519"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
SSH_ARGS += ["-o", f"UserKnownHostsFile={SSH_DIR / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes"]


def timed(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    os.environ.setdefault("CLUSTRIX_HOME", tempfile.mkdtemp(prefix="clustrix-bench-"))
    from clustrix import cluster
    from clustrix.ssh_transport import SSHTransport, transport_for

    @cluster(**OPTIONS)
    def trivial() -> int:
        return 1

    start = time.perf_counter()
    assert trivial() == 1  # connects, probes the remote Python, builds/reuses its venv
    cold = time.perf_counter() - start
    ours = statistics.median(timed(lambda: trivial(), ROUNDS))
    raw_ssh = ["ssh", "-p", str(PORT), *SSH_ARGS, f"{USER}@127.0.0.1", "python3", "-c", "pass"]
    raw = statistics.median(timed(lambda: subprocess.run(raw_ssh, check=True), ROUNDS))
    print(f"(a) trivial call round trip, median of {ROUNDS}:")
    print(f"    clustrix @cluster over SSH  {ours * 1000:8.1f} ms   (first call, cold: {cold * 1000:.0f} ms)")
    print(f"    raw ssh python3 -c pass     {raw * 1000:8.1f} ms")
    print(f"    ratio clustrix/raw ssh      {ours / raw:8.2f}")

    transport = SSHTransport.for_settings(OPTIONS)
    openssh = transport_for({**OPTIONS, "ssh_client": "openssh"})
    remote_dir = f"{transport.home()}/.clustrix-bench"
    transport.mkdirs([remote_dir])
    with tempfile.TemporaryDirectory(prefix="clustrix-bench-") as tmp:
        payload = Path(tmp) / "payload.bin"
        payload.write_bytes(os.urandom(PAYLOAD_MB * 1024 * 1024))
        sftp = statistics.median(timed(lambda: transport.put(payload, f"{remote_dir}/sftp.bin"), 3))
        openssh.run(["true"])  # its master connection is up, as paramiko's connection is
        master = statistics.median(timed(lambda: openssh.put(payload, f"{remote_dir}/openssh.bin"), 3))
        scp = ["scp", "-q", "-P", str(PORT), *SSH_ARGS, str(payload), f"{USER}@127.0.0.1:{remote_dir}/scp.bin"]
        raw_scp = statistics.median(timed(lambda: subprocess.run(scp, check=True), 3))
    transport.remove_tree(remote_dir)
    print(f"(b) staging a {PAYLOAD_MB} MB payload on loopback, median of 3:")
    print(f"    clustrix, ssh_client=paramiko (SFTP)        {PAYLOAD_MB / sftp:8.1f} MB/s  ({sftp:.2f} s)")
    print(f"    clustrix, ssh_client=openssh (shared master) {PAYLOAD_MB / master:7.1f} MB/s  ({master:.2f} s)")
    print(f"    raw scp                                     {PAYLOAD_MB / raw_scp:8.1f} MB/s  ({raw_scp:.2f} s)")
    print(f"    throughput ratio paramiko/scp   {raw_scp / sftp:6.2f}")
    print(f"    throughput ratio openssh/scp    {raw_scp / master:6.2f}")


if __name__ == "__main__":
    main()
