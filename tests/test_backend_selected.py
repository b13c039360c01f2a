"""`make test` runs the tests marked `backends` a second time under JAX."""

import os

import pytest

from dreamstream.core.backend import backend_name


@pytest.mark.backends
def test_keras_uses_the_requested_backend():
    assert backend_name() == os.environ.get("KERAS_BACKEND", "tensorflow")
