"""``python -m server`` is the ``dermline`` command."""

from server.cli import main

raise SystemExit(main())
