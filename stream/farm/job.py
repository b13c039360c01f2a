"""One segmented render from an input spec to an output spec, on Ray.

The order keeps the promises of :mod:`dreamstream.stream.jobs`: Ray is found,
the input opened and the output checked before any cluster starts or model
loads; the final video appears under its name only when whole.

Where things go, for ``-o out/clip.mp4``: the segments are encoded to
``out/.clip.mp4.segments/`` (beside the output, so on the same storage),
listed in ``manifest.json`` there as they finish, their seam frames kept in
``seams/`` there; at the end the seams are cross-faded and encoded, all is
joined into ``out/clip.mp4`` and the folder removed. For ``-o out/frames/``
every task writes its frames into the folder, the seam frames wait in
``.dreamstream-seams/`` and ``.dreamstream-segments.json`` lists the finished
segments; both go once the seams are written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.core.params import FlowParams
from dreamstream.stream.farm import plan as planning
from dreamstream.stream.farm.frames import FrameRange, frame_range
from dreamstream.stream.farm.task import SegmentJob, render_segment
from dreamstream.stream.io import sink_options
from dreamstream.stream.io.files import output_error
from dreamstream.stream.io.locks import lock_output
from dreamstream.stream.params import EncoderOptions, SourceOptions
from dreamstream.stream.settings import Settings

IMAGES_MANIFEST = ".dreamstream-segments.json"


@dataclass(frozen=True)
class _Render:
    """What every part of one segmented render shares: where things are and go."""

    mode: str
    input_path: Path  # absolute: workers may run on other machines
    kind: str  # "video" or "images"
    out_path: Path  # the video file, or the frame pattern
    setup: object  # Settings.setup(mode): what every worker builds its processor from
    source: SourceOptions
    encoder: EncoderOptions
    flow: FlowParams
    metadata: dict
    key: str  # the hash of what decides the pixels (see plan.render_key)
    size: tuple[int, int]  # (width, height) of the rendered frames
    span: FrameRange  # the frames rendered, with their times
    use_gpu: bool  # let tasks ask the cluster for GPUs
    audio_from: Path | None = None  # whose audio the joined video gets
    effects: object = None  # EffectsSetup: masks and --react, warmed up with the carry
    animation: object = None  # an animation's plan (mode "animate")
    task: Callable = render_segment  # what a worker runs for one segment
    seam: Callable | None = None  # what makes a seam (None: seams.make_seam)

    @property
    def work(self) -> Path:
        """Segments and manifest: a hidden folder beside a video, the frame folder itself."""
        if self.kind == "video":
            return self.out_path.parent / f".{self.out_path.name}.segments"
        return self.out_path.parent

    @property
    def seams(self) -> Path:
        return self.work / ("seams" if self.kind == "video" else ".dreamstream-seams")

    def job(self, g: planning.Segment, part: str = "segment") -> SegmentJob:
        """The worker's job for segment ``g`` (``part="seam"``: the seam before it)."""
        output = self.out_path
        if self.kind == "video":
            output = self.work / f"{part}-{g.number:04d}{self.out_path.suffix}"
        return SegmentJob(
            self.mode,
            str(self.input_path),
            str(output),
            g,
            self.setup,
            self.source,
            self.encoder,
            self.flow,
            self.metadata,
            str(self.seams),
            self.effects,
            self.animation,
        )

    def reusable(self, manifest: planning.Manifest, g: planning.Segment) -> bool:
        """Whether ``g`` was finished with these settings and all it made is still whole
        (see :func:`.reuse.reusable`)."""
        from dreamstream.stream.farm.reuse import reusable

        return reusable(self, manifest.finished(g, self.key), g)

    def open_manifest(self, overwrite: bool, resume: bool) -> planning.Manifest:
        """The manifest of finished segments; an earlier run's is only kept with ``resume``."""
        path = self.work / ("manifest.json" if self.kind == "video" else IMAGES_MANIFEST)
        for folder in [self.work] * (self.kind == "video") + [self.seams]:
            if folder.is_symlink():  # its files would be written (and replaced) elsewhere
                raise InputError(f"{folder} is a symbolic link; remove it to render here")
        if path.exists() and not resume:
            if not overwrite:
                raise InputError(
                    f"an earlier segmented render left finished segments in {self.work}: "
                    "add --resume to continue it or --overwrite to start again"
                )
            if self.kind == "video":
                shutil.rmtree(self.work)
            else:
                path.unlink()
        self._remove_leftovers()
        return planning.Manifest(path)

    def _remove_leftovers(self) -> None:
        """Temporary files a killed run left in the work and seam folders (lock held)."""
        from dreamstream.stream.io.files import remove_temporaries

        folders = [self.work] if self.kind == "video" else []
        if self.seams.is_dir():
            folders += [self.seams, *(p for p in self.seams.iterdir() if p.is_dir())]
        for folder in folders:
            remove_temporaries(folder, lambda name: True)


def render_segmented(
    mode: str,
    input_spec: str,
    output_spec: str,
    settings: Settings,
    *,
    software: str = "dreamstream",
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    stop: threading.Event | None = None,
    use_gpu: bool = True,
) -> dict:
    """Render ``input_spec`` to ``output_spec`` in segments on a Ray cluster.

    Args:
        mode: "dream" or "style".
        input_spec: a video file or a frame folder/pattern.
        output_spec: a video file or a frame folder/pattern.
        settings: the render's settings; ``workers``/``ray`` say which cluster,
            ``segments`` and ``warmup`` how the range is cut.
        software: the name and version written with the output.
        overwrite: replace an existing output (and unfinished segments of an earlier run).
        resume: reuse the segments an earlier run with the same settings finished.
        progress: draw one progress line for the whole render on stderr.
        stop: set it to stop; SIGINT/SIGTERM set it too. Running tasks are cancelled,
            finished segments kept for ``resume``.
        use_gpu: let tasks ask the cluster for GPUs.

    Returns:
        The run's summary: frames, seconds, fps, interrupted, output, the segments
        rendered now and reused, where each ran, and the metadata written with
        the output (software, mode, settings, segments).

    Raises:
        InputError: bad input, output or settings, a missing Ray, or storage the
            cluster's nodes do not share.
    """
    from dreamstream.stream.farm import cluster as clusters

    clusters.require_ray()
    metadata = _metadata(software, mode, settings)
    args = (mode, input_spec, output_spec, settings, metadata, overwrite, resume, use_gpu)
    return prepare_and_render(
        lambda: _prepare(*args), settings, output_spec, overwrite, resume, progress, stop
    )


def prepare_and_render(prepare: Callable[[], _Render], s: Settings, output_spec, *rest):
    """Check the render (``prepare``), then again holding the output's lock, and render it.

    The first check refuses a bad command before anything is made; the second
    sees an output that may have appeared meanwhile. The whole output is
    locked, a frame folder too: its manifest and seams are shared. ``rest``:
    ``overwrite, resume, progress, stop`` of :func:`render_locked`.
    """
    prepare()
    lock = lock_output(output_spec)
    try:
        return render_locked(prepare(), s, output_spec, *rest)
    finally:
        lock.release()


def render_locked(r: _Render, s: Settings, output_spec, overwrite, resume, progress, stop):
    """The rest of :func:`render_segmented` (and of an animation's), run while it holds
    the output's lock."""
    from dreamstream.stream.farm import cluster as clusters

    span = r.span
    try:
        manifest = r.open_manifest(overwrite, resume)
    except OSError as error:
        raise output_error(error, r.work) from None
    begin = time.perf_counter()
    # Ray prints what its daemons report (a worker that died and is retried) to stdout,
    # which belongs to --json: send it to stderr while the cluster is up.
    with (
        contextlib.redirect_stdout(sys.stderr),
        clusters.Cluster(s.workers, s.ray, use_gpu=r.use_gpu) as cluster,
    ):
        count = s.segments or planning.default_segment_count(span.frames, cluster.slots, s.warmup)
        segments = planning.plan_segments(span.first, span.last, count, s.warmup)
        try:
            r.work.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise output_error(error, r.work) from None
        inputs = [_input_file(r.input_path)] + ([r.audio_from] if r.audio_from else [])
        cluster.check_shared(inputs, r.work)
        todo = [g for g in segments if not r.reusable(manifest, g)]
        results = _run(cluster, r, manifest, todo, progress, stop)
    complete = len(results) == len(todo)
    if complete:
        try:
            _finish(r, manifest, segments, span)
        except OSError as error:  # a full disk at the join: the segments stay for --resume
            target = error.filename or r.out_path
            raise output_error(error, target, _kept(manifest, r.work)) from None
        except InputError as error:  # a seam that could not be written, said in one line
            raise InputError(f"{error}; {_kept(manifest, r.work)}") from None
    summary = _summary(results, segments, todo, time.perf_counter() - begin, complete)
    if not complete:
        summary["message"] = _stopped(len(manifest.entries), len(segments), r.work)
    summary["output"] = str(r.out_path if r.kind == "video" else output_spec)
    return {**summary, **r.metadata}


def _metadata(software: str, mode: str, s: Settings) -> dict:
    """What the output records: the settings that decide its pixels, and how it was cut.

    Where it ran (``workers``, ``ray``) and how many ``segments`` are kept apart from
    the settings, so that resuming with other workers is not taken for other settings.
    """
    values = s.as_dict()
    run = {name: values.pop(name) for name in planning.RUN_ONLY_SETTINGS}
    return {"software": software, "mode": mode, "settings": values, "segmented": run}


def _prepare(mode, input_spec, output_spec, s, metadata, overwrite, resume, use_gpu):
    """Check the input and output (before any cluster starts) and find the exact frames."""
    from dreamstream.stream.io import check_resume, check_sink, open_source, output_kind
    from dreamstream.stream.processors import check_dream_size, check_pictures

    # The typed parameters every worker gets are made here, once, from the settings.
    source, encoder = s.source_options(), s.encoder_options()
    with open_source(input_spec, **source.kwargs()) as src:
        check_sink(
            output_spec, sink_options(src), overwrite=overwrite, resume=resume, **encoder.kwargs()
        )
        if resume:
            check_resume(output_spec, mode, metadata["settings"])
        span = frame_range(src)
        size, audio = src.size, (Path(input_spec).resolve() if src.has_audio else None)
    kind, out_path = output_kind(output_spec)
    if kind not in ("video", "images"):
        raise InputError(
            f"segment rendering writes a video file or a frame folder, got: {output_spec}"
        )
    if mode == "dream":
        check_dream_size(size)
    setup = s.setup(mode, span.fps)
    check_pictures(mode, setup)
    input_path = Path(input_spec).resolve()
    key = planning.render_key(mode, planning.input_identity(_input_file(input_path)), s)
    parts = (setup, source, encoder, s.flow_params())
    r = _Render(mode, input_path, kind, out_path, *parts, metadata, key, size, span, use_gpu)
    return dataclasses.replace(r, audio_from=audio, effects=s.effects_setup())


def _run(cluster, r: _Render, manifest, todo, progress: bool, stop) -> dict[int, dict]:
    """Render the segments ``todo`` on ``cluster``; returns number -> result of those done."""
    from dreamstream.stream.farm.cluster import run_tasks
    from dreamstream.stream.pipeline import StopOnSignal

    stop = stop if stop is not None else threading.Event()
    bar = _Bar(sum(g.frames for g in todo)) if progress and sys.stderr.isatty() else None
    results: dict[int, dict] = {}

    def finished(job: SegmentJob, result: dict) -> None:
        g = job.segment
        got = (result["head"], result["frames"], result["lead_out"])
        if got != (g.fade, g.last - g.own_first, g.lead_out):
            raise RuntimeError(f"segment {g.number} rendered {sum(got)} of its frames only")
        results[g.number] = result
        manifest.record(g, r.key, **result)

    with StopOnSignal(stop):
        jobs = [r.job(g) for g in todo]
        try:
            run_tasks(cluster, r.task, jobs, on_done=finished, on_progress=bar, stop=stop)
        except OSError as error:  # the manifest could not be saved
            raise output_error(error, manifest.path, _kept(manifest, r.work)) from None
        except InputError as error:  # bad input or output: say what is kept for --resume
            if not manifest.entries:
                raise
            raise InputError(f"{error}; {_kept(manifest, r.work)}") from None
    if bar:
        bar.done()
    return results


def _finish(r: _Render, manifest, segments, span: FrameRange) -> None:
    """Cross-fade the seams (a few frames each, here), then join a video or tidy a folder."""
    from dreamstream.stream.farm.seams import make_seam

    seams = {}
    for g in segments:
        if g.fade:
            job = r.job(g, part="seam")
            seams[g.number] = {**(r.seam or make_seam)(job, r.seams), "output": job.output}
    if r.kind == "video":
        _join(segments, manifest, seams, r.out_path, r.audio_from, span, r.metadata)
        shutil.rmtree(r.work, ignore_errors=True)
    else:  # the frames are all in place: only the bookkeeping goes
        shutil.rmtree(r.seams, ignore_errors=True)
        manifest.path.unlink(missing_ok=True)


def _summary(results: dict, segments, todo, seconds: float, complete: bool) -> dict:
    frames = sum(x["frames"] + x["head"] for x in results.values())
    compute = next((x["compute"] for x in results.values() if x.get("compute")), None)
    return {
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 3) if seconds > 0 else None,
        "interrupted": not complete,
        "segments": len(segments),
        "segments_rendered": sorted(results),
        "segments_reused": sorted(g.number for g in segments if g not in todo),
        "where": {n: f"{x['node']}:{x['pid']}" for n, x in sorted(results.items())},
        "warning": None,
        **({"compute": compute} if compute else {}),
    }


def _input_file(path: Path) -> Path:
    """The file or folder that holds the input (the folder of a ``%05d`` pattern)."""
    return path.parent if "%" in path.name else path


def _join(segments, manifest, seams, out_path: Path, audio_from, span: FrameRange, metadata):
    """Seams and segments, in order, into the final video by stream copy."""
    from dreamstream.stream.farm.join import join_videos

    parts = []
    for g in segments:
        pieces = [seams[g.number]] if g.number in seams else []
        for entry in [*pieces, manifest.entries[str(g.number)]]:
            parts.append((Path(entry["output"]), Fraction(entry["start_time"]) - span.origin))
    own_first = Fraction(manifest.entries[str(segments[-1].number)]["start_time"])
    end = own_first - span.origin + (segments[-1].last - segments[-1].own_first) / span.fps
    join_videos(
        parts, out_path, audio_from=audio_from, origin=span.origin, end=end, metadata=metadata
    )


def _kept(manifest, work: Path) -> str:
    """What is kept for ``--resume`` ("" when no segment was finished)."""
    done = len(manifest.entries)
    if not done:
        return ""
    return (
        f"the {done} finished segment{'s are' if done != 1 else ' is'} kept in {work}: "
        "run the same command with --resume to render the rest"
    )


def _stopped(done: int, total: int, work: Path) -> str:
    return (
        f"stopped: {done} of {total} segments finished, kept in {work}; "
        "run the same command with --resume to render the rest"
    )


class _Bar:
    """One progress line for the whole render: frames across workers, frames/s, time left."""

    def __init__(self, total: int):
        self.total, self.begin = total, time.perf_counter()

    def __call__(self, frames: int) -> None:
        elapsed = time.perf_counter() - self.begin
        fps = frames / elapsed if elapsed > 0 else 0.0
        text = f"frame {frames}/{self.total}  {fps:.2f} fps"
        if fps > 0:
            left = max(self.total - frames, 0) / fps
            text += f"  ETA {int(left // 60)}:{int(left % 60):02d}"
        sys.stderr.write("\r" + text.ljust(48))
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")
