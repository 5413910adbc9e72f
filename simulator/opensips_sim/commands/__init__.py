"""MI command handlers, one module per OpenSIPS module; importing a module registers them."""
