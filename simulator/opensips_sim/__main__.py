"""``python -m opensips_sim``: the same as the ``opensips-sim`` command."""

import sys

from opensips_sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
