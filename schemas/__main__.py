"""`python -m schemas`: the f1-schemas command."""

from schemas.cli import main

raise SystemExit(main())
