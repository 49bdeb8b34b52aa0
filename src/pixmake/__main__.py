"""`python -m pixmake`."""

from __future__ import annotations

import sys

from pixmake.cli import main

sys.exit(main())
