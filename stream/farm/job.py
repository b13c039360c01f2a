"""One segmented render from an input spec to an output spec, on Ray.

The order keeps the promises of :mod:`dreamstream.stream.jobs`: Ray is found,
the input opened and the output checked before any cluster starts or model
loads; the final video appears under its name only when whole.

Where things go, for ``-o out/clip.mp4``: the segments are encoded to
``out/.clip.mp4.segments/`` (beside the output, so on the same storage),
listed in ``manifest.json`` there as they finish, joined into
``out/clip.mp4`` and removed. For ``-o out/frames/`` every task writes its
frames into the folder, and ``.dreamstream-segments.json`` there lists the
finished segments.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

from dreamstream.core.errors import InputError
from dreamstream.stream.farm import plan as planning
from dreamstream.stream.farm.frames import FrameRange, frame_range
from dreamstream.stream.farm.task import SegmentJob, render_segment
from dreamstream.stream.settings import Settings

IMAGES_MANIFEST = ".dreamstream-segments.json"


def render_segmented(
    mode: str,
    input_spec: str,
    output_spec: str,
    settings: Settings,
    *,
    metadata: dict,
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
        metadata: software, mode and settings, written with the output.
        overwrite: replace an existing output (and unfinished segments of an earlier run).
        resume: reuse the segments an earlier run with the same settings finished.
        progress: draw one progress line for the whole render on stderr.
        stop: set it to stop; SIGINT/SIGTERM set it too. Running tasks are cancelled,
            finished segments kept for ``resume``.
        use_gpu: let tasks ask the cluster for GPUs.

    Returns:
        The run's summary: frames, seconds, fps, interrupted, output, the segments
        rendered now and reused, and ``metadata``.

    Raises:
        InputError: bad input, output or settings, a missing Ray, or storage the
            cluster's nodes do not share.
    """
    from dreamstream.stream.farm import cluster as clusters
    from dreamstream.stream.pipeline import StopOnSignal
    from dreamstream.stream.sinks import check_output, output_kind
    from dreamstream.stream.sources import open_source

    clusters.require_ray()
    s = settings
    with open_source(input_spec, start=s.start, end=s.end, frames=s.frames, width=s.width) as src:
        check_output(output_spec, src.path or input_spec, overwrite, resume=resume)
        span = frame_range(src)
        size, has_audio = src.size, src.has_audio
    kind, out_path = output_kind(output_spec)
    if kind not in ("video", "images"):
        raise InputError(
            f"segment rendering writes a video file or a frame folder, got: {output_spec}"
        )
    if mode == "dream":
        from dreamstream.stream.jobs import _check_dream_size

        _check_dream_size(size)
    input_path = Path(input_spec).resolve()
    key = planning.render_key(mode, planning.input_identity(_input_file(input_path)), s)
    work = _work_folder(kind, out_path)
    manifest = _open_manifest(kind, work, overwrite, resume)
    stop = stop if stop is not None else threading.Event()
    begin = time.perf_counter()
    with clusters.Cluster(s.workers, s.ray, use_gpu=use_gpu) as cluster:
        count = s.segments or planning.default_segment_count(span.frames, cluster.slots, s.warmup)
        segments = planning.plan_segments(span.first, span.last, count, s.warmup)
        work.mkdir(parents=True, exist_ok=True)
        cluster.check_shared([_input_file(input_path)], work)
        todo = [g for g in segments if not _reusable(manifest, g, key, kind, out_path)]
        jobs = [_job(mode, input_path, kind, out_path, work, g, s, metadata) for g in todo]
        bar = _Bar(sum(g.frames for g in todo)) if progress and sys.stderr.isatty() else None
        results: dict[int, dict] = {}

        def finished(job: SegmentJob, result: dict) -> None:
            if result["frames"] != job.segment.frames:
                raise RuntimeError(
                    f"segment {job.segment.number} delivered {result['frames']} of "
                    f"{job.segment.frames} frames"
                )
            results[job.segment.number] = result
            manifest.record(job.segment, key, **result)

        with StopOnSignal(stop):
            complete = clusters.run_tasks(
                cluster, render_segment, jobs, on_done=finished, on_progress=bar, stop=stop
            )
    if bar:
        bar.done()
    if complete and kind == "video":
        _join(segments, manifest, out_path, input_path if has_audio else None, span, metadata)
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - begin
    frames = sum(r["frames"] for r in results.values())
    compute = next((r["compute"] for r in results.values() if r.get("compute")), None)
    return {
        "frames": frames,
        "seconds": round(seconds, 3),
        "fps": round(frames / seconds, 3) if seconds > 0 else None,
        "interrupted": not complete,
        "output": str(out_path if kind == "video" else output_spec),
        "segments": len(segments),
        "segments_rendered": sorted(results),
        "segments_reused": sorted(g.number for g in segments if g not in todo),
        "where": {n: f"{r['node']}:{r['pid']}" for n, r in sorted(results.items())},
        "warning": None,
        **metadata,
        **({"compute": compute} if compute else {}),
    }


def _input_file(path: Path) -> Path:
    """The file or folder that holds the input (the folder of a ``%05d`` pattern)."""
    return path.parent if "%" in path.name else path


def _work_folder(kind: str, out_path: Path) -> Path:
    """Where the segments and the manifest go: beside a video, in a frame folder."""
    if kind == "video":
        return out_path.parent / f".{out_path.name}.segments"
    return out_path.parent


def _open_manifest(kind: str, work: Path, overwrite: bool, resume: bool) -> planning.Manifest:
    """The manifest of finished segments; an earlier run's is only kept with ``resume``."""
    path = work / ("manifest.json" if kind == "video" else IMAGES_MANIFEST)
    if path.exists() and not resume:
        if not overwrite:
            raise InputError(
                f"an earlier segmented render left finished segments in {work}: "
                "add --resume to continue it or --overwrite to start again"
            )
        if kind == "video":
            shutil.rmtree(work)
        else:
            path.unlink()
    return planning.Manifest(path)


def _reusable(manifest, segment, key: str, kind: str, out_path: Path) -> bool:
    """Whether ``segment`` was finished with these settings and its output is all there."""
    entry = manifest.finished(segment, key)
    if entry is None:
        return False
    if kind == "video":
        return Path(entry["output"]).is_file()
    from dreamstream.stream.sinks import existing_indices

    return set(range(segment.first, segment.last)) <= existing_indices(out_path)


def _job(mode, input_path, kind, out_path, work, segment, settings, metadata) -> SegmentJob:
    output = out_path
    if kind == "video":
        output = work / f"segment-{segment.number:04d}{out_path.suffix}"
    return SegmentJob(mode, str(input_path), str(output), segment, settings, metadata)


def _join(segments, manifest, out_path: Path, audio_from, span: FrameRange, metadata) -> None:
    from dreamstream.stream.farm.join import join_videos

    parts = []
    for segment in segments:
        entry = manifest.entries[str(segment.number)]
        parts.append((Path(entry["output"]), Fraction(entry["start_time"]) - span.origin))
    last_start = Fraction(manifest.entries[str(segments[-1].number)]["start_time"]) - span.origin
    end = last_start + segments[-1].frames / span.fps
    join_videos(
        parts, out_path, audio_from=audio_from, origin=span.origin, end=end, metadata=metadata
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
