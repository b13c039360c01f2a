"""The control page end to end: ``dreamstream live`` as a user runs it, a real browser, OSC.

The command plays ``samples/clip.mp4`` in a loop (style mode, 160 px, a
token), and the tests steer it as a visitor would: headless Chromium driven
by Selenium loads the page, moves sliders with the keyboard and reads the
readouts; OSC packets go over loopback; the served picture is read back from
the MJPEG stream and compared with the clip's own frames.

Chromium and its driver come from Debian (``apt-get install chromium
chromium-driver``; ``.ci/run`` installs them). Without them the browser test
is skipped, except under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamstream.stream.bench.soak import free_port
from tests.stream.test_live_control import wait_for
from tests.stream.test_segmenter import tiny_tflite  # noqa: F401 -- a fixture

REPO = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-for-the-test"
WIDTH, HEIGHT = 160, 90  # samples/clip.mp4 (480x270) at --width 160
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class Live:
    """``dreamstream live`` in a child process, with its page, JSON routes and OSC port."""

    def __init__(self, tmp: Path):
        self.cache = tmp / "cache"  # its own cache: no segmenter until a test puts one there
        self.port, self.osc_port = free_port(), free_port(__import__("socket").SOCK_DGRAM)
        command = [
            sys.executable, "-m", "dreamstream.stream.cli", "live", str(REPO / "samples/clip.mp4"),
            "--loop", "--mode", "style", "--style", "3", "--width", str(WIDTH), "--no-window",
            "--serve", f"127.0.0.1:{self.port}", "--serve-token", TOKEN,
            "--osc", f"127.0.0.1:{self.osc_port}",
        ]  # fmt: skip
        self.log = open(tmp / "live.log", "w+")
        env = {**os.environ, "DREAMSTREAM_CACHE": str(self.cache)}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(self._ready, 60, "the first frame of dreamstream live")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            self.log.seek(0)
            raise AssertionError(f"dreamstream live exited: {self.log.read()}")
        try:
            return bool(self.state().get("frames"))
        except OSError:
            return False

    def url(self, path: str) -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={TOKEN}"

    def state(self) -> dict:
        with urllib.request.urlopen(self.url("/api/state"), timeout=5) as answer:
            return json.loads(answer.read())

    def post(self, changes: dict) -> None:
        request = urllib.request.Request(
            self.url("/api/control"),
            json.dumps(changes).encode(),
            {"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).read()

    def streamed_pictures(self, count: int) -> list[np.ndarray]:
        """The next ``count`` pictures of the MJPEG stream, decoded (RGB)."""
        pictures, buffer = [], b""
        with wait_for(self._stream, 20, "a place among the stream's viewers") as stream:
            while len(pictures) < count:
                buffer += stream.read1(65536)
                start, end = buffer.find(b"\xff\xd8"), buffer.find(b"\xff\xd9")
                if 0 <= start < end:
                    jpeg, buffer = buffer[start : end + 2], buffer[end + 2 :]
                    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                    pictures.append(bgr[:, :, ::-1])
        return pictures

    def _stream(self):
        """The MJPEG stream, or None while an earlier reader's place is not yet freed."""
        try:
            return urllib.request.urlopen(self.url("/stream.mjpg"), timeout=10)
        except urllib.error.HTTPError as exc:  # 503: the server frees a place at its next write
            if exc.code != 503:
                raise
            return None

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    run = Live(tmp_path_factory.mktemp("live"))
    yield run
    run.close()


@pytest.fixture(scope="module")
def clip_frames() -> np.ndarray:
    """Every frame of samples/clip.mp4 at the loop's size, RGB."""
    capture, frames = cv2.VideoCapture(str(REPO / "samples/clip.mp4")), []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(bgr[:, :, ::-1], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
    capture.release()
    return np.stack(frames).astype(np.int16)


def distance_to_clip(picture: np.ndarray, frames: np.ndarray) -> float:
    """Mean difference from the nearest frame of the clip: small when the output is unstyled."""
    return float(np.abs(frames - picture.astype(np.int16)).mean(axis=(1, 2, 3)).min())


def settle(live: Live, predicate, what: str) -> dict:
    return wait_for(lambda: (lambda s: s if predicate(s) else None)(live.state()), 20, what)


def test_osc_steers_the_command_and_the_stream_shows_it(live, clip_frames):
    from pythonosc.udp_client import SimpleUDPClient

    live.post({"strength": 1, "temporal": 0.7})
    settle(live, lambda s: s["settings"]["strength"] == 1, "strength 1")
    styled = live.streamed_pictures(3)[-1]
    assert styled.shape == (HEIGHT, WIDTH, 3)
    assert distance_to_clip(styled, clip_frames) > 15  # style 3 at full strength
    client = SimpleUDPClient("127.0.0.1", live.osc_port)
    client.send_message("/strength", 0.0)
    client.send_message("/temporal", 0.0)
    state = settle(live, lambda s: s["settings"]["temporal"] == 0.0, "the OSC changes")
    assert state["settings"]["strength"] == 0.0 and state["errors"] == 0
    plain = live.streamed_pictures(4)[-1]  # frames made after the change
    assert distance_to_clip(plain, clip_frames) < 6  # the clip itself, through JPEG


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser(tmp_path):
    found = _chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        found = None
    if found is None:
        reason = "chromium, chromium-driver and selenium are needed for the browser test"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (under CI they must be installed: see .ci/run)")
        pytest.skip(f"{reason}: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    """Save a screenshot; copied to $DREAMSTREAM_SCREENSHOTS when set (docs/ for the README)."""
    path = tmp_path / name
    assert driver.save_screenshot(str(path))
    assert cv2.imread(str(path)) is not None
    if os.environ.get("DREAMSTREAM_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["DREAMSTREAM_SCREENSHOTS"]) / name)
    return path


def _page_ready(driver) -> bool:
    """The readouts are filled and the live picture has arrived."""
    fps = driver.find_element("id", "r-fps").text
    shown = driver.execute_script("return document.getElementById('live').naturalWidth")
    return fps not in ("", "-") and shown == WIDTH


def test_the_control_page_in_a_real_browser(live, browser, clip_frames, tmp_path):
    from selenium.webdriver.common.keys import Keys

    live.post({"strength": 1, "temporal": 0.7, "pause": 0})
    settle(live, lambda s: s["settings"]["strength"] == 1, "strength 1")
    browser.set_window_size(1000, 700)
    browser.get(live.url("/control"))
    wait_for(lambda: _page_ready(browser), 20, "the page's readouts and picture")
    assert browser.find_element("id", "look").get_attribute("value") == "0"
    assert "style 3" in browser.find_element("id", "look").text
    _screenshot(browser, tmp_path, "control_page.png")
    assert distance_to_clip(live.streamed_pictures(2)[-1], clip_frames) > 15
    for slider in ("strength", "temporal"):  # the keyboard moves a range input as a user would
        browser.find_element("id", slider).send_keys(Keys.HOME)
    state = settle(live, lambda s: s["settings"]["temporal"] == 0.0, "the sliders' changes")
    assert state["settings"]["strength"] == 0.0  # the loop's settings changed
    assert distance_to_clip(live.streamed_pictures(4)[-1], clip_frames) < 6  # and its picture
    browser.find_element("id", "pause").click()
    settle(live, lambda s: s["paused"], "paused from the page")
    browser.find_element("id", "pause").click()
    settle(live, lambda s: not s["paused"], "running again")


def test_the_control_page_fits_a_phone(live, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    browser.set_window_size(390, 844)
    browser.get(live.url("/control"))
    wait_for(lambda: _page_ready(browser), 20, "the page on a phone-sized window")
    inner = browser.execute_script("return window.innerWidth")
    wide = browser.execute_script("return document.documentElement.scrollWidth")
    assert wide <= inner  # no sideways scrolling
    slider = browser.find_element("id", "strength")
    box = slider.rect
    assert slider.is_displayed() and box["x"] >= 0 and box["x"] + box["width"] <= inner
    button = browser.find_element("id", "next").rect
    assert button["height"] >= 40  # a finger's target
    slider.send_keys(Keys.END)
    settle(live, lambda s: s["settings"]["strength"] == 1.0, "strength 1 from the phone")


def _loading_states(live: Live, mask: str) -> list[dict]:
    """The states served while ``mask`` waits for its segmenter, until it shows."""
    seen = []

    def shown() -> bool:
        state = live.state()
        if state["effects"]["mask_note"] == f"mask {mask}: loading the segmenter...":
            seen.append(state)
        return state["effects"]["mask"] == mask

    wait_for(shown, 120, f"mask {mask} after its segmenter loaded")
    return seen


def test_the_page_steers_masks_react_and_attract(live, browser, tmp_path, tiny_tflite):  # noqa: F811
    from pythonosc.udp_client import SimpleUDPClient
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from dreamstream.stream.weights.segmenter import model_path

    browser.set_window_size(390, 844)
    browser.get(live.url("/control"))
    wait_for(lambda: _page_ready(browser), 20, "the page on a phone-sized window")
    note = browser.find_element("id", "mask-note")
    inner = browser.execute_script("return window.innerWidth")
    for widget in ("mask", "react", "rise", "fall", "attract", "attract-s"):  # a finger's targets
        box = browser.find_element("id", widget).rect
        assert box["x"] >= 0 and box["x"] + box["width"] <= inner and box["height"] >= 30
    for button in ("react", "attract"):
        assert browser.find_element("id", button).rect["height"] >= 40
    # No segmenter on the machine: one line on the page, the loop goes on without a mask.
    Select(browser.find_element("id", "mask")).select_by_value("person")
    wait_for(lambda: "fetch segmenter" in note.text, 20, "the missing model's line")
    assert note.text == (
        "mask person needs the selfie segmenter, which is not on this machine: "
        "run `dreamstream fetch segmenter` there once"
    )
    before = live.state()
    assert before["effects"]["mask"] == "none" and before["errors"] == 0
    settle(live, lambda s: s["frames"] > before["frames"] + 3, "frames after the refusal")
    # With a model in the cache, the page's choice loads it while the picture keeps moving.
    live.cache.mkdir(exist_ok=True)
    shutil.copy(tiny_tflite, live.cache / model_path("landscape").name)
    Select(browser.find_element("id", "mask")).select_by_value("background")
    loading = _loading_states(live, "background")
    assert loading and loading[-1]["frames"] > loading[0]["frames"]  # the loop was not held
    wait_for(lambda: not note.text, 20, "the note gone once the mask shows")
    # React and attract from the widgets: the loop's settings change at its next frame.
    browser.find_element("id", "react").click()
    settle(live, lambda s: s["effects"]["react"], "react on from the page")
    browser.find_element("id", "rise").send_keys(Keys.END)
    browser.find_element("id", "fall").send_keys(Keys.HOME)
    state = settle(live, lambda s: s["effects"]["fall"] == 0.1, "rise and fall from the page")
    assert state["effects"]["rise"] == 30.0
    seconds = browser.find_element("id", "attract-s")
    seconds.clear()
    seconds.send_keys("5")
    browser.find_element("id", "attract").click()
    settle(live, lambda s: s["effects"]["attract"] == 5.0, "attract after 5 s from the page")
    motion, attract = (
        browser.find_element("id", "r-motion"),
        browser.find_element("id", "r-attract"),
    )
    wait_for(lambda: "% moving" in motion.text, 20, "the motion readout")
    wait_for(lambda: attract.text.startswith(("waiting", "on")), 20, "the attract readout")
    # The new widgets and the readouts below them, as a phone shows them scrolled down.
    browser.execute_script("window.scrollTo(0, document.getElementById('effects').offsetTop - 8)")
    _screenshot(browser, tmp_path, "control_page_phone.png")
    # OSC changes show on the page at its next poll.
    client = SimpleUDPClient("127.0.0.1", live.osc_port)
    client.send_message("/attract", 12.0)
    client.send_message("/react", 0)
    client.send_message("/mask", "none")
    settle(live, lambda s: s["effects"]["mask"] == "none", "the OSC changes")
    wait_for(lambda: seconds.get_attribute("value") == "12", 20, "attract 12 s on the page")
    assert "on" not in browser.find_element("id", "react").get_attribute("class")
    assert Select(browser.find_element("id", "mask")).first_selected_option.text == "none"
    assert live.state()["errors"] == 0
