"""``python -m screening`` runs the CLI."""

import sys

from screening.cli.main import main

sys.exit(main())
