"""opensips-mcp: operate OpenSIPS through its Management Interface from an MCP client, safely."""

__version__ = "0.1.0"
