"""Errors that carry a one-line message meant for the user.

The CLI prints ``str(error)`` on one line and exits with status 2 for
:class:`InputError`; anything else is a bug and keeps its traceback.
"""


class DreamstreamError(Exception):
    """Base class of errors whose message is written for the user."""


class InputError(DreamstreamError, ValueError):
    """A bad input, option or file: the user can fix it (exit status 2)."""


class WeightsNotFoundError(InputError, FileNotFoundError):
    """Pretrained weights are not where they were looked for."""
