"""``python -m executor ...``: see ``executor.cli.main``."""

import sys

from executor.cli.main import main

sys.exit(main(prog="python -m executor"))
