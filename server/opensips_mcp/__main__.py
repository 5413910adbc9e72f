"""``python -m opensips_mcp``: the same as the ``opensips-mcp`` command."""

import sys

from opensips_mcp.cli import main

if __name__ == "__main__":
    sys.exit(main())
