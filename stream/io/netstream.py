"""Network stream outputs: H.264 in MPEG-TS (UDP, TCP, SRT) or FLV (RTMP), through PyAV's FFmpeg.

What OBS ("Media Source"), VLC (``udp://@:5000``) or a media server (RTMP
ingest) take in. Frames written are ``uint8`` ``HxWx3`` **RGB**; their
``pts``/``time_base`` are kept (live mode gives display times in ms), and the
stream's size is the first frame's (later frames of another size are resized).

The encoder is tuned for latency: x264 ``zerolatency`` (no frame delay, no
B-frames) and a keyframe every two seconds, so a viewer that joins late
starts within two seconds. Opening a stream checks what can be checked
before any frame exists: the scheme, that this FFmpeg has the protocol, the
host's name, and for TCP-based schemes (RTMP, TCP) that the server accepts
a connection, each failing in one line within ``timeout`` seconds.

FFmpeg's own network writes can block for good (a reader that stops
reading, a server that stops acknowledging), and PyAV passes no I/O timeout
to an output. So the encoder and muxer run on a thread of their own, and a
frame or the final flush that makes no progress within ``timeout`` seconds
ends the stream with an error instead of blocking its caller.
"""

from __future__ import annotations

import queue
import socket
import threading
import urllib.parse
from fractions import Fraction

import cv2
import numpy as np

from dreamstream.core.errors import InputError
from dreamstream.stream.io.frame import Frame, Sink

# URL scheme -> FFmpeg muxer.
STREAM_FORMATS = {
    "udp": "mpegts",
    "tcp": "mpegts",
    "srt": "mpegts",
    "rtmp": "flv",
    "rtmps": "flv",
}
_TCP_SCHEMES = {"tcp": None, "rtmp": 1935, "rtmps": 443}  # default port where there is one
KEYFRAME_S = 2.0
TIMEOUT_S = 5.0


def stream_format(url: str) -> str:
    """The FFmpeg muxer for an output URL (``udp://`` -> "mpegts", ``rtmp://`` -> "flv").

    Raises:
        InputError: a scheme that is no stream output.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in STREAM_FORMATS:
        known = ", ".join(f"{s}://" for s in STREAM_FORMATS)
        raise InputError(f"cannot stream to {url}: outputs take {known}")
    return STREAM_FORMATS[scheme]


def check_stream(url: str, timeout: float = TIMEOUT_S) -> None:
    """Refuse a stream output that cannot work, before any frame is encoded.

    Raises:
        InputError: unknown scheme, a protocol this FFmpeg lacks, no host or port,
            a host that does not resolve, or (RTMP, TCP) a server that refuses or
            does not answer within ``timeout`` seconds.
    """
    stream_format(url)
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    _check_protocol(scheme, url)
    try:
        port = parts.port or _TCP_SCHEMES.get(scheme)
    except ValueError:
        raise InputError(f"bad port in stream output {url}") from None
    if not parts.hostname or not port:
        raise InputError(f"stream output {url} needs a host and a port, e.g. {scheme}://HOST:PORT")
    try:
        socket.getaddrinfo(parts.hostname, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"stream output {url}: cannot resolve {parts.hostname}: {exc}") from None
    if scheme in _TCP_SCHEMES:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
        except TimeoutError:
            raise InputError(
                f"stream output {url}: no answer from {parts.hostname}:{port} in {timeout:g} s"
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(f"stream output {url}: cannot connect: {reason}") from None


def _check_protocol(scheme: str, url: str) -> None:
    """Whether this PyAV's FFmpeg was built with ``scheme`` (PyAV lists no protocols)."""
    import av

    if scheme in ("udp", "tcp"):
        return  # in every FFmpeg build
    try:  # a closed local port: without the protocol FFmpeg says so before connecting
        av.open(f"{scheme}://127.0.0.1:9", "r", timeout=0.5).close()
    except av.error.ProtocolNotFoundError:
        raise InputError(
            f"cannot stream to {url}: this PyAV's FFmpeg has no {scheme}:// protocol"
        ) from None
    except (av.error.FFmpegError, OSError):
        pass  # the protocol is there; the probe just found nobody


class StreamSink(Sink):
    """H.264 frames to a network URL, opened at the first frame.

    Args:
        url: ``udp://HOST:PORT``, ``tcp://``, ``srt://`` (MPEG-TS) or ``rtmp://`` (FLV).
        fps: nominal frame rate (the keyframe interval; the frames' pts rule).
        time_base: unit of the frames' ``pts`` (default ``1 / fps``).
        crf: x264 quality; ``preset``: x264 speed preset.
        timeout: seconds FFmpeg may block on the network before it fails.
    """

    kind = "stream"

    def __init__(
        self,
        url: str,
        *,
        fps: Fraction = Fraction(25),
        time_base: Fraction | None = None,
        crf: int = 23,
        preset: str = "veryfast",
        timeout: float = TIMEOUT_S,
    ):
        super().__init__()
        self.url, self.format = url, stream_format(url)
        self.fps, self.time_base = Fraction(fps), time_base or 1 / Fraction(fps)
        self.crf, self.preset, self.timeout = crf, preset, timeout
        self.size: tuple[int, int] | None = None
        self._out = self._stream = None
        self._last_pts: int | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._stalled: str | None = None
        threading.Thread(target=self._work, name="stream-writer", daemon=True).start()

    def _work(self) -> None:
        """Run queued jobs (encode, mux, close) one by one; each reports back through its box."""
        while True:
            job, box, done = self._jobs.get()
            try:
                box.append(job())
            except BaseException as exc:  # noqa: BLE001 -- handed back to the caller
                box.append(exc)
            done.set()

    def _run(self, job, what: str):
        """``job()`` on the writer thread, waiting ``timeout`` seconds at most for it."""
        if self._stalled:
            raise InputError(self._stalled)
        box: list = []
        done = threading.Event()
        self._jobs.put((job, box, done))
        if not done.wait(self.timeout):
            self._stalled = f"stream output {self.url}: {what} stalled for {self.timeout:g} s"
            raise InputError(self._stalled)
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _open(self, size: tuple[int, int]) -> None:
        import av

        url = self.url
        if url.lower().startswith("udp://") and "pkt_size" not in url:
            url += ("&" if "?" in url else "?") + "pkt_size=1316"  # 7 TS packets a datagram
        self._out = av.open(url, "w", format=self.format, timeout=self.timeout)
        stream = self._out.add_stream("libx264", rate=self.fps.limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        gop = max(1, round(KEYFRAME_S * float(self.fps)))
        stream.options = {
            "preset": self.preset,
            "tune": "zerolatency",
            "crf": str(self.crf),
            "g": str(gop),
            "keyint_min": str(gop),
        }
        self._stream, self.size = stream, size

    def write(self, frame: Frame) -> None:
        image = np.ascontiguousarray(frame.image)
        size = (image.shape[1] // 2 * 2, image.shape[0] // 2 * 2)  # yuv420p needs even sides
        if self._out is None:
            self._open(size)
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        pts = self._pts(frame)
        self._run(lambda: self._encode(image, pts), "sending a frame")
        super().write(frame)

    def _encode(self, image: np.ndarray, pts: int) -> None:
        import av

        video = av.VideoFrame.from_ndarray(image, format="rgb24")
        video.pts, video.time_base = pts, self.time_base
        try:
            for packet in self._stream.encode(video):
                self._out.mux(packet)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"stream output {self.url} failed: {exc}") from None

    def _pts(self, frame: Frame) -> int:
        """The frame's pts in the stream's time base, strictly rising (muxers insist)."""
        if frame.pts is not None and frame.time_base is not None:
            pts = round(frame.pts * Fraction(frame.time_base) / self.time_base)
        else:
            pts = self.frames_written
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        return pts

    def close(self) -> None:
        """Flush and close, ``timeout`` seconds at most; a stalled stream is left to its thread."""
        if self._done:
            return
        out, self._out = self._out, None
        try:
            if out is not None and not self._stalled:
                self._run(lambda: self._finish(out), "closing")
        except Exception:  # noqa: BLE001 -- a dead network must not stop the closing
            pass
        finally:
            super().close()

    def _finish(self, out) -> None:
        try:
            for packet in self._stream.encode():
                out.mux(packet)
        finally:
            out.close()

    abort = close
