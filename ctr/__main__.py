"""`python -m ctr`: the `ctr` command, for environments whose scripts folder is not on the PATH."""

import sys

from .cli import main

sys.exit(main())
