"""Errors that carry a one-line message meant for the user.

The CLI prints ``str(error)`` on one line and exits with status 2 for
:class:`InputError`; anything else is a bug and keeps its traceback.
"""


class DreamstreamError(Exception):
    """Base class of errors whose message is written for the user.

    The message stays one line whatever it quotes: line breaks and other
    control characters in a quoted value (a file name may hold them) are
    shown escaped, as ``repr`` shows them.
    """

    def __str__(self) -> str:
        text = super().__str__()
        if text.isprintable():
            return text
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InputError(DreamstreamError, ValueError):
    """A bad input, option or file: the user can fix it (exit status 2)."""


class WeightsNotFoundError(InputError, FileNotFoundError):
    """Pretrained weights are not where they were looked for."""
