"""Runs inside the pod: set up a job directory, run the element, print its result.

    python /clustrix/payload/bootstrap.py

Standard library only (the runner needs cloudpickle of the client's major.minor version,
CLUSTRIX_CLOUDPICKLE, installed here when the image lacks it). The payload Secret is mounted
read-only next to this file; the job directory is built in the writable emptyDir
CLUSTRIX_WORK. The element is JOB_COMPLETION_INDEX (Indexed Job).

The result file (signed by the runner with the job's key, from the Secret) is printed to stdout as base64
between marker lines carrying its length and sha256: the pod log is the one channel
out of a pod that needs no shared storage. The client checks both before using it.

Each ``checkpoint.save`` is printed the same way (CHECKPOINT markers, with the call), since
the emptyDir dies with the pod: the client keeps the last intact record of each call and
ships it in the next attempt's Secret (``ckpt.CALL.pkl``), which this script puts back at
``checkpoints/CALL.pkl`` before the runner starts. ``skip.json`` lists the elements whose
results the client already has: their pods exit 0 at once, printing nothing.
"""

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading

BEGIN = "==== CLUSTRIX RESULT BEGIN"
END = "==== CLUSTRIX RESULT END"
CHECKPOINT_BEGIN = "==== CLUSTRIX CHECKPOINT BEGIN"
CHECKPOINT_END = "==== CLUSTRIX CHECKPOINT END"
CHECKPOINT_KEY = "ckpt."  # Secret keys ckpt.CALL.pkl: the checkpoints the last attempt printed
SKIP = "skip.json"


def image_cloudpickle():
    """The version of the image's own cloudpickle, or None."""
    try:
        import cloudpickle
    except ImportError:
        return None
    return getattr(cloudpickle, "__version__", "unknown")


def ensure_cloudpickle(work):
    """Make the client's cloudpickle (CLUSTRIX_CLOUDPICKLE) the one the runner imports, unless
    the image's has the same major.minor version (pickles name cloudpickle's private
    functions, which differ between minor versions): pip-install it into WORK/site, or, with
    CLUSTRIX_CLOUDPICKLE_INSTALL=0, exit naming both versions and the fix."""
    wanted = os.environ.get("CLUSTRIX_CLOUDPICKLE")
    have = image_cloudpickle()
    if not wanted:
        if have is None:
            raise SystemExit("clustrix: the image has no cloudpickle; use an image with Python and cloudpickle")
        return
    if have is not None and have.split(".")[:2] == wanted.split(".")[:2]:
        return
    image = f"cloudpickle {have}" if have else "no cloudpickle"
    if os.environ.get("CLUSTRIX_CLOUDPICKLE_INSTALL") == "0":
        raise SystemExit(
            f"clustrix: the image has {image}, the client cloudpickle {wanted}: pickles need the same major.minor "
            f"version on both sides. Use an image with cloudpickle=={wanted}, or set k8s_install_cloudpickle=True "
            "(the pod pip-installs it; needs network)"
        )
    site = os.path.join(work, "site")
    print(f"clustrix: installing cloudpickle=={wanted} (the image has {image})", file=sys.stderr)
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    subprocess.check_call([*argv, "--target", site, "cloudpickle==" + wanted], stdout=sys.stderr)
    sys.path.insert(0, site)
    for name in [m for m in sys.modules if m == "cloudpickle" or m.startswith("cloudpickle.")]:
        del sys.modules[name]  # the image's, imported above: the runner must import the installed one
    importlib.invalidate_caches()


def job_dir(payload, work):
    """WORK/jobs/JOBID with the manifest pointing at the mounted blobs."""
    with open(os.path.join(payload, "manifest.json")) as f:
        manifest = json.load(f)
    jobdir = os.path.join(work, "jobs", manifest["job_id"])
    for sub in ("results", "logs", "status"):
        os.makedirs(os.path.join(jobdir, sub), exist_ok=True)
    manifest["blobs"] = payload  # absolute: os.path.join(jobdir, payload) == payload
    # the pod log is bounded by the kubelet's rotation; the runner cutting it would cut the records
    manifest["max_log_bytes"] = 0
    with open(os.path.join(jobdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    for name in ("runner.py", "checkpoint.py"):
        shutil.copyfile(os.path.join(payload, name), os.path.join(jobdir, name))
    for name in os.listdir(payload):  # results of the jobs whose futures it takes, signed with its key
        if name.startswith("dep.") and name.endswith(".pkl"):
            shutil.copyfile(os.path.join(payload, name), os.path.join(jobdir, name))
    checkpoints = os.path.join(jobdir, "checkpoints")
    os.makedirs(checkpoints, mode=0o700, exist_ok=True)
    for name in os.listdir(payload):  # the calls' last saves (checkpoint.load checks their signature)
        call = name[len(CHECKPOINT_KEY) : -len(".pkl")]
        if name.startswith(CHECKPOINT_KEY) and name.endswith(".pkl") and call.isdigit():
            shutil.copyfile(os.path.join(payload, name), os.path.join(checkpoints, f"{int(call)}.pkl"))
    with open(os.path.join(payload, "key"), "rb") as f:
        key = f.read()
    fd = os.open(os.path.join(jobdir, "key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)  # the runner signs the result with it; the client checks before unpickling
    finally:
        os.close(fd)
    return manifest["job_id"], jobdir


def run(jobdir, element, job_id, out):
    spec = importlib.util.spec_from_file_location("clustrix_job_runner", os.path.join(jobdir, "runner.py"))
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    if int(os.environ.get("CLUSTRIX_MAX_CHECKPOINT_BYTES") or 0) > 0:  # 0: no retry would read them
        runner.checkpoint_writer = checkpoint_printer(job_id, runner.checkpoint_writer, out)
    return runner.main([jobdir, str(element)])


def framed(begin, end, tag, data):
    """``data`` as base64 between a marker line with its length and sha256 and an end line."""
    digest = hashlib.sha256(data).hexdigest()
    head = f"\n{begin} {tag} bytes={len(data)} sha256={digest} ====\n".encode()
    return head + base64.encodebytes(data) + f"{end} {tag} ====\n".encode()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def checkpoint_printer(job_id, write_file, out):
    """A checkpoint writer that writes the file (``write_file``) and prints it to the pod's
    stdout (fd ``out``) in one write, so the next attempt, in a new pod, can resume. A save
    over CLUSTRIX_MAX_CHECKPOINT_BYTES (what a Secret can carry) stays in this pod only."""
    lock = threading.Lock()
    limit = int(os.environ["CLUSTRIX_MAX_CHECKPOINT_BYTES"])
    warned = set()

    def write(path, data):
        write_file(path, data)
        call = os.path.basename(path)[: -len(".pkl")]
        if len(data) > limit:
            if call not in warned:
                warned.add(call)
                print(
                    f"clustrix: the checkpoint of call {call} is {len(data)} bytes, over the {limit} bytes the next "
                    "attempt's Secret can carry: a retry in a new pod starts this call from the beginning",
                    file=sys.stderr,
                )
            return
        record = framed(CHECKPOINT_BEGIN, CHECKPOINT_END, f"job={job_id} call={call}", data)
        with lock:
            sys.stdout.flush()
            write_all(out, record)

    return write


def emit(job_id, element, data):
    sys.stdout.flush()
    sys.stderr.flush()
    write_all(sys.stdout.fileno(), framed(BEGIN, END, f"job={job_id} element={element}", data))


def main():
    payload = os.path.dirname(os.path.abspath(__file__))
    work = os.environ.get("CLUSTRIX_WORK") or "/tmp"
    element = int(os.environ.get("JOB_COMPLETION_INDEX") or os.environ.get("CLUSTRIX_ELEMENT") or 0)
    skip = os.path.join(payload, SKIP)
    if os.path.exists(skip):
        with open(skip) as f:
            if element in json.load(f):
                print(
                    f"clustrix: element {element} has its result from an earlier attempt: not run again",
                    file=sys.stderr,
                )
                return 0
    ensure_cloudpickle(work)
    job_id, jobdir = job_dir(payload, work)
    code = run(jobdir, element, job_id, os.dup(sys.stdout.fileno()))  # the pod's stdout, whatever the runner does
    if code:
        return code
    with open(os.path.join(jobdir, "results", f"{element}.pkl"), "rb") as f:
        data = f.read()
    limit = int(os.environ.get("CLUSTRIX_MAX_RESULT_BYTES") or 0)
    if limit and len(data) > limit:
        print(
            f"clustrix: the result of element {element} is {len(data)} bytes, over k8s_max_result_bytes={limit}: "
            "results come back through the pod log, which the kubelet rotates (containerLogMaxSize, 10 MiB by "
            "default). Return a smaller value, or write large output to shared storage and return its path",
            file=sys.stderr,
        )
        return 3
    emit(job_id, element, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
