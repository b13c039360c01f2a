"""Keeps the option tables of docs/options.md in step with the CLI.

Run ``.venv/bin/python -m dreamstream.stream.docs`` after changing an option
(it rewrites docs/options.md, or the Markdown file named as its argument);
``tests/stream/test_settings.py`` fails while a table is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dreamstream.stream.cli import options_markdown

COMMANDS = ("dream", "style", "live")
OPTIONS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "options.md"


def update_tables(path: Path = OPTIONS_PAGE) -> bool:
    """Rewrite each ``<!-- options:CMD -->`` block of ``path``; True if it changed."""
    text = path.read_text()
    new = text
    for command in COMMANDS:
        block = re.compile(rf"(<!-- options:{command} -->\n).*?(<!-- /options:{command} -->)", re.S)
        new = block.sub(lambda m, c=command: m[1] + options_markdown(c) + "\n" + m[2], new)
    if new != text:
        from dreamstream.stream.io import files

        files.write_atomic(path, new.encode())
    return new != text


if __name__ == "__main__":
    changed = update_tables(Path(sys.argv[1]) if len(sys.argv) > 1 else OPTIONS_PAGE)
    print("updated" if changed else "up to date")
