"""Joining segment videos into one file without re-encoding, the source's audio muxed once.

Every segment is a complete H.264/VP9 stream of its own (closed GOPs: x264's
default, and each file starts with a key frame), encoded with the same
settings, so their packets can follow one another in one container. Each
segment's timestamps start at 0; it is shifted to its first frame's time on
the input's clock, so the joined video keeps the source's timing exactly.
The audio packets of the covered time range are copied from the source once
and interleaved with the video by time.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from dreamstream.core.errors import InputError


def join_videos(
    parts: list[tuple[Path, Fraction]],
    output: Path,
    *,
    audio_from: Path | None,
    origin: Fraction,
    end: Fraction,
    metadata: dict,
) -> None:
    """Concatenate ``parts`` by stream copy into ``output`` (written whole, then renamed).

    Args:
        parts: each segment's file and its start time in seconds, relative to
            the joined video's start, in order.
        output: the final file; a temporary file beside it is renamed to it.
        audio_from: the source whose audio is copied, or ``None``.
        origin: time of the first frame on the source's clock (seconds); audio
            at this time lands at 0.
        end: duration of the joined video in seconds; later audio is left out.
        metadata: written as JSON into the container's ``comment`` tag.

    Raises:
        RuntimeError: the segments differ in codec headers and cannot be joined.
        OSError: the output cannot be written (a full disk); nothing is left behind.
    """
    import av

    from dreamstream.stream.io import files
    from dreamstream.stream.io.specs import VIDEO_FORMATS

    handle, tmp = files.open_temporary(output)  # exclusive, random name: nothing followed
    try:
        with (
            handle,
            av.open(str(parts[0][0])) as first,
            av.open(handle, "w", format=VIDEO_FORMATS[output.suffix.lower()]) as out,
        ):
            out.metadata["comment"] = json.dumps(metadata, sort_keys=True, default=str)
            template = first.streams.video[0]
            video = out.add_stream_from_template(template)
            packets = [_video_packets(parts, template.codec_context.extradata, video)]
            source = av.open(str(audio_from)) if audio_from else None
            try:
                if source is not None and source.streams.audio:
                    audio = _audio_stream(source, out)
                    packets.append(_audio_packets(source, audio, origin, end))
                for _, packet in heapq.merge(*packets, key=lambda item: item[0]):
                    out.mux(packet)
            finally:
                if source is not None:
                    source.close()
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _video_packets(parts, extradata, stream) -> Iterator[tuple[float, object]]:
    """Every segment's video packets, shifted to its start, keyed by decode time.

    A part decodes its first frame ``delay`` seconds before showing it (B-frames:
    x264 reorders up to two frames, fewer in a part too short to hold them). A
    part with less delay than the one after it would end its decode times after
    that one starts; so every part's decode times are moved earlier to the
    largest delay of all, which keeps them rising across the joins (and before
    the times shown, as they must be).
    """
    import av

    delays = [_decode_delay(path) for path, _ in parts]
    most, last_dts = max(delays), None
    for (path, start), delay in zip(parts, delays, strict=True):
        with av.open(str(path)) as part:
            video = part.streams.video[0]
            if video.codec_context.extradata != extradata:
                raise RuntimeError(f"segment {path.name} was encoded differently; cannot join")
            shift = round(start / video.time_base)
            earlier = round((most - delay) / video.time_base)
            for packet in part.demux(video):
                if packet.size == 0:
                    continue
                packet.pts += shift
                dts = packet.dts if packet.dts is not None else packet.pts
                packet.dts = dts + shift - earlier
                if last_dts is not None and packet.dts <= last_dts:
                    raise RuntimeError(f"segment {path.name} overlaps the one before it")
                last_dts = packet.dts
                packet.stream = stream
                yield float(packet.dts * packet.time_base), packet


def _decode_delay(path: Path) -> Fraction:
    """How long before showing its first frame a video decodes it (its first packet's
    pts minus dts), in seconds."""
    import av

    with av.open(str(path)) as part:
        video = part.streams.video[0]
        for packet in part.demux(video):
            if packet.size and packet.pts is not None and packet.dts is not None:
                return (packet.pts - packet.dts) * Fraction(video.time_base)
    return Fraction(0)


def _audio_stream(source, out):
    """An output stream for the source's first audio stream, copied as it is."""
    try:
        return out.add_stream_from_template(source.streams.audio[0])
    except ValueError as exc:  # the container cannot hold this codec without re-encoding
        raise InputError(f"cannot copy the audio into {out.name}: {exc}") from None


def _audio_packets(source, stream, origin: Fraction, end: Fraction):
    """The source's audio packets that overlap [origin, origin + end), shifted by ``origin``.

    Yields:
        (start in seconds of the joined file, packet) in the source's order.
    """
    for packet in source.demux(source.streams.audio[0]):
        if packet.pts is None or packet.size == 0:
            continue
        begin = packet.pts * packet.time_base - origin
        if begin >= end:
            break
        if begin + (packet.duration or 0) * packet.time_base < 0:
            continue
        ticks = round(origin / packet.time_base)
        packet.pts -= ticks
        packet.dts = packet.pts if packet.dts is None else packet.dts - ticks
        packet.stream = stream
        yield float(begin), packet
