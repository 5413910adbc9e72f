"""Conformance suite: opensips-mcp driven from the outside, checked at the MI endpoint."""
