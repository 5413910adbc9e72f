"""opensips_sim: a stateful fake OpenSIPS 3.x MI endpoint (JSON-RPC over HTTP) with fault injection.

Layers, as moto splits its fakes:

* ``state/``    plain classes holding the world (no aiohttp): usrloc, dialogs, dispatcher, ...
* ``commands/`` one function per MI command, ``(ctx, params) -> result``, raising ``MIError``
* ``dispatch``  recipe matching and parameter checks exactly as real OpenSIPS does them
* ``wire``      aiohttp: JSON-RPC framing, HTTP statuses and quirks of mi_http

It never imports ``opensips_mcp`` (the server): each is the other's independent check.
"""

__version__ = "0.1.0"
