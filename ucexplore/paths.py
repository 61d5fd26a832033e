"""Where ucexplore writes the files a person asks for (exports, reports): one output folder, never the
repository's own files.

The folder is ``$UCX_OUTPUT_DIR`` when set, else ``output/`` under the current directory (for a notebook: next
to it). It is made on first use; the repository's ``.gitignore`` ignores every ``output/`` folder.

Example::

    >>> import os, tempfile
    >>> os.environ["UCX_OUTPUT_DIR"] = tempfile.mkdtemp()
    >>> output_dir().is_dir(), output_path("users.csv").name
    (True, 'users.csv')
    >>> del os.environ["UCX_OUTPUT_DIR"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["output_dir", "output_path"]


def output_dir() -> Path:
    """The output folder (made if missing): ``$UCX_OUTPUT_DIR`` or ``./output``."""
    folder = Path(os.environ.get("UCX_OUTPUT_DIR") or "output").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def output_path(name: str | os.PathLike[str]) -> Path:
    """``name`` inside :func:`output_dir` unless it is already a path with a folder (then kept as given)."""
    p = Path(name)
    if p.is_absolute() or p.parent != Path("."):
        return p
    return output_dir() / p
