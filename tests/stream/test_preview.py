"""The HTTP preview: JPEG and MJPEG of the current output, loopback and token rules."""

from __future__ import annotations

import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from dreamstream.core.errors import InputError
from dreamstream.stream.live.preview import PreviewServer, is_loopback, parse_address


@pytest.fixture
def picture() -> np.ndarray:
    image = np.zeros((48, 64, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    image[:, 32:, 2] = 120
    return image


@pytest.fixture
def server(picture):
    preview = PreviewServer("127.0.0.1", 0).start()
    yield preview
    preview.close()


def get(url: str, headers: dict | None = None, size: int | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers, response.read(size) if size else response.read()


def status_of(url: str, headers: dict | None = None) -> int:
    try:
        return get(url, headers)[0]
    except urllib.error.HTTPError as error:
        return error.code


def test_frame_is_a_valid_jpeg_of_the_current_output(server, picture):
    base = f"http://127.0.0.1:{server.port}"
    assert status_of(base + "/frame.jpg") == 503  # nothing published yet
    server.publish(picture)
    status, headers, body = get(base + "/frame.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    bgr = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert bgr.shape == picture.shape
    assert np.abs(bgr[:, :, ::-1].astype(int) - picture).mean() < 6  # same picture, RGB kept


def test_page_and_mjpeg_stream(server, picture):
    base = f"http://127.0.0.1:{server.port}"
    assert server.url == base + "/"
    _, headers, page = get(base + "/")
    assert headers["Content-Type"].startswith("text/html") and b'src="/stream.mjpg"' in page
    server.publish(picture)
    request = urllib.request.urlopen(base + "/stream.mjpg", timeout=5)
    with request as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        chunk = b""
        while b"\xff\xd9" not in chunk:  # up to the end of the first JPEG
            chunk += response.read1(4096)
    head, _, jpeg = chunk.partition(b"\r\n\r\n")
    assert head.startswith(b"--dreamstreamframe") and b"image/jpeg" in head
    assert (
        cv2.imdecode(
            np.frombuffer(jpeg[: jpeg.index(b"\xff\xd9") + 2], np.uint8), cv2.IMREAD_COLOR
        ).shape
        == picture.shape
    )


def test_only_the_preview_is_served(server, picture):
    base = f"http://127.0.0.1:{server.port}"
    server.publish(picture)
    for path in ("/etc/passwd", "/../pyproject.toml", "/frame.jpg/..", "/static/x.js"):
        assert status_of(base + path) == 404, path
    post = urllib.request.Request(base + "/frame.jpg", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(post, timeout=5)
    assert info.value.code == 405
    assert status_of(base + "/frame.jpg", {"Host": "evil.example:80"}) == 403  # DNS rebinding
    assert status_of(base + "/frame.jpg", {"Host": "localhost:1"}) == 200


def test_token_is_required_on_every_request(picture):
    preview = PreviewServer("127.0.0.1", 0, token="s3cret").start()
    try:
        preview.publish(picture)
        base = f"http://127.0.0.1:{preview.port}"
        for path in ("/", "/frame.jpg", "/stream.mjpg", "/nothing"):
            assert status_of(base + path) == 403, path
        assert status_of(base + "/frame.jpg?token=wrong") == 403
        assert status_of(base + "/frame.jpg?token=s3cret") == 200
        assert status_of(base + "/frame.jpg", {"Authorization": "Bearer s3cret"}) == 200
        for scheme in ("bearer", "BEARER", "Basic"):  # the scheme's name is case-insensitive
            wanted = 403 if scheme == "Basic" else 200
            assert status_of(base + "/frame.jpg", {"Authorization": f"{scheme} s3cret"}) == wanted
        assert preview.url == base + "/"  # printed on stderr: never the token
        _, _, page = get(preview.url + "?token=s3cret")
        assert b'src="/stream.mjpg?token=s3cret"' in page
    finally:
        preview.close()


def test_addresses_and_loopback_rule():
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address(":9000") == ("127.0.0.1", 9000)
    assert parse_address("8081") == ("127.0.0.1", 8081)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("host:port", "1.2.3.4:70000", "x:"):
        with pytest.raises(InputError, match="--serve"):
            parse_address(bad)
    assert is_loopback("localhost") and is_loopback("127.0.0.5") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    with pytest.raises(InputError, match="--serve-token"):
        PreviewServer("0.0.0.0", 0)
