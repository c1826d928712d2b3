"""``python -m nexus_lab.cli``: the ``nexus-lab`` command."""

import sys

from nexus_lab.cli import main

sys.exit(main())
