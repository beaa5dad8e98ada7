"""``python -m convrnn`` runs the command-line tool."""

from convrnn.cli import main

raise SystemExit(main())
