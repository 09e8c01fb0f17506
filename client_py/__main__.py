"""``python -m client_py`` runs the client command line."""

from client_py.cli import main

raise SystemExit(main())
