"""Everything that imports Ray: the cluster, the storage check, scheduling and progress.

``--workers N`` starts a local Ray cluster for the run (N task slots, one GPU
each when there are enough GPUs, a share of one otherwise) and stops it at
the end; ``--ray ADDRESS`` (or ``auto``) joins a running cluster and leaves it
running. A process that already called ``ray.init`` keeps its cluster.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from dreamstream.core.errors import InputError

INSTALL_HINT = "pip install 'dreamstream[ray]'"
RETRIES = 2  # a task whose worker dies (killed, out of memory, node lost) runs again
POLL_SECONDS = 0.25
CANCEL_GRACE = 5.0  # seconds a cancelled task has to finish its frame in flight
# Passed on to every worker, which may run on another machine with its own environment.
FORWARDED_ENV = (
    "KERAS_BACKEND",
    "TF_CPP_MIN_LOG_LEVEL",
    "ABSL_MIN_LOG_LEVEL",
    "DREAMSTREAM_OFFLINE",
    "DREAMSTREAM_CACHE",
)


def require_ray(flag: str = "--workers/--ray"):
    """Import Ray, or say in one line how to install it.

    Raises:
        InputError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise InputError(f"{flag} needs Ray, an optional extra: {INSTALL_HINT}") from None
    return ray


class Cluster:
    """A connection to a Ray cluster for one render; a context manager.

    Args:
        workers: start a local cluster with this many task slots (ignored when
            ``address`` is given, where it caps the segments in flight).
        address: a running cluster's address, or "auto".
        use_gpu: request GPUs for tasks when the cluster has any.
        quiet: keep Ray's start-up and worker logs off the terminal.
    """

    def __init__(self, workers: int | None, address: str | None, *, use_gpu=True, quiet=True):
        self.ray = require_ray()
        self.workers, self.address, self.use_gpu, self.quiet = workers, address, use_gpu, quiet
        self.started = False

    def __enter__(self) -> Cluster:
        ray = self.ray
        if not ray.is_initialized():
            level = logging.ERROR if self.quiet else logging.INFO
            options = {"logging_level": level, "log_to_driver": not self.quiet}
            try:
                if self.address:
                    ray.init(address=self.address, **options)
                else:  # "local": a new cluster, even where `ray start` made one
                    ray.init("local", num_cpus=self.workers, include_dashboard=False, **options)
            except ConnectionError as exc:
                raise InputError(f"--ray {self.address}: cannot join the cluster ({exc})") from None
            self.started = True
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()

    @property
    def slots(self) -> int:
        """How many segments run at once."""
        if self.workers:
            return self.workers
        resources = self.ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if self.use_gpu else 0
        return max(1, gpus or int(resources.get("CPU", 1)))

    def task_options(self) -> dict:
        """Ray resource requests, retries and environment of a segment task."""
        gpus = self.ray.cluster_resources().get("GPU", 0) if self.use_gpu else 0
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        if gpus:
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # workers may share a GPU
        return {
            "num_cpus": 1,
            "num_gpus": min(1.0, gpus / self.slots) if gpus else 0,
            "max_retries": RETRIES,
            "retry_exceptions": False,  # bad input fails the same way every time
            "runtime_env": {"env_vars": env},
        }

    def check_shared(self, inputs: list[Path], folder: Path) -> None:
        """Check that every node reads ``inputs`` and sees files written to ``folder``.

        Tasks read the input and write their segments on whichever node runs them,
        so both must be on storage that every node mounts at the same path.

        Raises:
            InputError: naming the nodes that cannot see them.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from dreamstream.stream.io import files

        probe = folder / f".dreamstream-probe-{uuid.uuid4().hex[:8]}"
        try:
            with files.open_new(probe) as handle:
                handle.write(b"written by the driver")
        except OSError as error:
            probe.unlink(missing_ok=True)
            raise files.output_error(error, probe) from None
        try:
            look = self.ray.remote(num_cpus=0)(_sees)
            nodes = [n for n in self.ray.nodes() if n.get("Alive")]
            refs = [
                look.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
                ).remote([str(p) for p in [*inputs, probe]])
                for n in nodes
            ]
            seen = self.ray.get(refs)
            blind = [n["NodeManagerAddress"] for n, ok in zip(nodes, seen, strict=True) if not ok]
        finally:
            probe.unlink(missing_ok=True)
        if blind:
            raise InputError(
                f"node(s) {', '.join(blind)} cannot see the input or the output folder {folder}: "
                "segment rendering reads and writes on every node, so both must be on "
                "storage all nodes mount at the same path"
            )


def _sees(paths: list[str]) -> bool:
    return all(os.path.exists(p) for p in paths)


class Tally:
    """Frames delivered across all workers (a Ray actor; workers call ``add``)."""

    def __init__(self):
        self.frames = 0

    def add(self, frames: int) -> None:
        self.frames += frames

    def read(self) -> int:
        return self.frames


def run_tasks(
    cluster: Cluster,
    task: Callable,
    jobs: list,
    *,
    on_done: Callable[[object, dict], None],
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """Run ``task(job, tally)`` for every job, at most ``cluster.slots`` at a time.

    Jobs are started in order, so a partial render fills from its start.

    Args:
        cluster: the connected cluster.
        task: a plain function; it runs as a Ray task with :meth:`Cluster.task_options`.
        jobs: its first arguments.
        on_done: called in this thread with (job, result) as each task ends.
        on_progress: called with the frames delivered so far, a few times a second.
        stop: when set, the running tasks are cancelled and the rest not started.

    Returns:
        True when every job finished, False when ``stop`` ended the run.

    Raises:
        InputError: a task met bad input; RuntimeError: a task failed otherwise.
    """
    ray = cluster.ray
    remote = ray.remote(task).options(**cluster.task_options())
    tally = ray.remote(num_cpus=0)(Tally).remote()
    waiting, running = list(jobs), {}
    try:
        while waiting or running:
            if stop is not None and stop.is_set():
                return False
            while waiting and len(running) < cluster.slots:
                job = waiting.pop(0)
                running[remote.remote(job, tally)] = job
            done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            for ref in done:
                on_done(running.pop(ref), _result(ray, ref, running))
            if on_progress is not None:
                on_progress(ray.get(tally.read.remote()))
        return True
    finally:
        _cancel(ray, list(running))
        ray.kill(tally)


def _cancel(ray, refs: list) -> None:
    """Cancel running tasks: politely first, so their workers live on; then by force.

    A plain cancel is a SIGINT in the worker: the segment's pipeline stops after
    the frame in flight (the manifest does not list the segment, so a resume
    renders it again). A worker still busy after ``CANCEL_GRACE`` is killed.
    """
    if not refs:
        return
    for ref in refs:
        ray.cancel(ref)
    _, stuck = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE)
    for ref in stuck:
        ray.cancel(ref, force=True)


def _result(ray, ref, running: dict) -> dict:
    """A finished task's result, or its error as an InputError or RuntimeError."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = error.cause
        if isinstance(cause, InputError):
            raise InputError(str(cause)) from None
        if isinstance(cause, OSError):  # a full disk, a read-only folder: one line, like InputError
            from dreamstream.stream.io.files import output_error

            raise output_error(cause, cause.filename or "a segment's output") from None
        raise RuntimeError(f"a segment failed: {cause!r}") from error
    except ray.exceptions.RayError as error:
        raise RuntimeError(f"a segment failed after {RETRIES} retries: {error}") from error
