"""State parts: plain classes, one per OpenSIPS module, no aiohttp."""
