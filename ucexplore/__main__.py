"""``python -m ucexplore …`` is the ``ucexplore`` command (handy where the console script is not on PATH)."""

import sys

from .cli import main

sys.exit(main())
