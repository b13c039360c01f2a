"""Keras-free pieces of the fast style networks: their sizes and two kernel rewrites.

Both forms of the networks use them: the Keras port
(:mod:`dreamstream.core.stylenets`) and the ONNX graph that onnxruntime runs
(:mod:`dreamstream.core.stylegraph`). Importing this module imports no
framework, so a render on onnxruntime never loads Keras or TensorFlow.

Kernels here are in Keras layout ``(kh, kw, in, out)``.
"""

from __future__ import annotations

import numpy as np

from dreamstream.core.params import NUM_STYLES  # noqa: F401 (re-exported)

STYLE_DIM = 100  # length of the arbitrary network's style vector
PREDICTOR_SIZE = 256  # side of the square picture the style predictor expects
STRIDE = 4  # both transformers downsample twice by 2: frame sides pad to this
NORM_EPS = 1e-5  # instance-norm epsilon, read from both ONNX graphs


def phase_kernel(kernel: np.ndarray) -> np.ndarray:
    """A stride-1 kernel (k, k, in, out) rewritten for 2x2 space-to-depth input and output.

    Output pixel (2i + a, 2j + b) reads input rows 2i + a + u = 2(i + m) + p, so
    the new kernel at (m, n, (p, q, c), (a, b, o)) is ``kernel[2m + p - a, 2n + q - b]``
    (zero outside). A 9x9 conv over 3-4 channels becomes a 5x5 conv over 12-16
    channels with 4x the outputs: about 25% more multiply-adds, but matrices wide
    enough for the CPU's vector units (the 9x9 4->3 output conv runs ~4x faster).
    """
    k, _, cin, cout = kernel.shape
    m = (k + 2) // 2
    out = np.zeros((m, m, 2, 2, cin, 2, 2, cout), np.float32)
    for mm, nn, p, q, a, b in np.ndindex(m, m, 2, 2, 2, 2):
        u, v = 2 * mm + p - a, 2 * nn + q - b
        if 0 <= u < k and 0 <= v < k:
            out[mm, nn, p, q, :, a, b, :] = kernel[u, v]
    return out.reshape(m, m, 4 * cin, 4 * cout)


# Where the taps of a 3x3 kernel that follows a nearest x2 upsample land on the
# low-resolution grid, for output phase 0 (even rows) and 1 (odd rows):
# _UP_TAPS[a][t, r] = 1 when original tap t reads low-res offset r - 1.
_UP_TAPS = (
    np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0]], np.float32),
    np.array([[0, 1, 0], [0, 1, 0], [0, 0, 1]], np.float32),
)


def upsample_kernel(kernel: np.ndarray) -> np.ndarray:
    """A 3x3 kernel run after nearest x2 upsampling, rewritten to run before it.

    Upsample, reflect-pad 1 and convolve equals: pad the small image by
    repeating its edge, convolve with this (3, 3, in, 4 * out) kernel and unfold
    the (a, b, out) channels into 2x2 blocks. Same sums, a quarter of the
    pixels, and no upsampled tensor in memory.
    """
    cin, cout = kernel.shape[2:]
    out = np.zeros((3, 3, cin, 2, 2, cout), np.float32)
    for a, b in np.ndindex(2, 2):
        out[:, :, :, a, b] = np.einsum("tr,us,tuio->rsio", _UP_TAPS[a], _UP_TAPS[b], kernel)
    return out.reshape(3, 3, cin, 4 * cout)
