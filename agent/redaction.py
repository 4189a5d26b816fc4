"""Error texts users read name no file on the server.

Driver errors quote paths ("Could not read from file "/srv/data/chatbi.duckdb""), and answers,
health reports and bot replies reach people who should not learn the server's layout. A path
keeps its last part, which still says which file is at fault.
"""

from __future__ import annotations

import re

#: An absolute POSIX path of two or more parts, not inside a URL (``https://host/a/b`` is left alone).
_PATH = re.compile(r"(?<![\w/:.~-])~?(?:/[^\s/\"'`:;,()<>|]+){2,}/?")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\\"'`:;,()<>|]+\\)*([^\s\\\"'`:;,()<>|]+)")


def without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its file name."""
    text = _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
    return _WINDOWS_PATH.sub(lambda m: m.group(1), text)
