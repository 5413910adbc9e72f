"""Settings of the MI client: one frozen object, built once by the caller."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MISettings"]

_SCHEMES = ("http://", "https://", "fifo://", "udp://", "unix://")


@dataclass(frozen=True, slots=True)
class MISettings:
    """Where the MI endpoint is and how patiently to talk to it.

    ``url`` picks the transport by its scheme:

    * ``http://host:port/path``, ``https://...``: ``mi_http`` (`opensips_mcp.mi.http`);
    * ``fifo:///path/to/opensips_fifo``: ``mi_fifo`` (`opensips_mcp.mi.fifo`); the query
      ``?reply_dir=/dir/`` names the module's ``reply_dir`` (default ``/tmp/``), where a
      reply FIFO is created per call and removed afterwards;
    * ``udp://host:port`` or ``unix:///path/to/socket``: ``mi_datagram``
      (`opensips_mcp.mi.datagram`).

    All durations are in seconds. Nothing here is read from the environment: the entry
    point builds this object and hands it to `MIClient`.

    * ``connect_timeout``: to open a TCP connection to OpenSIPS. Running out of it counts
      as "not sent" (safe to retry at any level).
    * ``pool_timeout``: to wait, on this side, for an in-flight slot and a pooled
      connection (local queueing behind other calls, not a network failure). Running out
      of it also counts as "not sent".
    * ``read_timeout``: from the request being sent to its reply, and between the reply's
      chunks.
    * ``total_timeout``: deadline of one whole call, backoff sleeps included.
    * ``pool_size``: keep-alive connections kept open at most.
    * ``max_in_flight``: requests in flight at most (others wait for a slot, first come
      first served). By default equal to ``pool_size``: OpenSIPS runs MI commands one at
      a time anyway, and a larger value only moves the queue into aiohttp's pool, which
      does not serve waiters in order (measured: starved callers, p99 near 1 s).
    * ``max_attempts``: tries per call, counting the first one.
    * ``backoff_base``, ``backoff_max``: full-jitter backoff; the n-th retry (n = 0, 1, ...)
      sleeps ``uniform(0, min(backoff_max, backoff_base * 2**n))``.
    * ``keepalive_timeout``: an idle pooled connection is closed by the client after this
      long. Keep it below the server's idle timeout (30 s on OpenSIPS), so that a request
      rarely meets a connection the server is closing at that moment.
    * ``ca_file``: for ``https://``, a PEM file of the certificate authorities to trust
      instead of the system's: httpd's ``tls_cert_file`` is most often signed by a
      private CA. ``None``: the system's store (``SSL_CERT_FILE`` is honoured).
    """

    url: str
    connect_timeout: float = 2.0
    pool_timeout: float = 10.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    pool_size: int = 8
    max_in_flight: int = 8
    max_attempts: int = 3
    backoff_base: float = 0.05
    backoff_max: float = 1.0
    keepalive_timeout: float = 15.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if not self.url.lower().startswith(_SCHEMES):
            raise ValueError(
                f"MI url must start with one of {', '.join(_SCHEMES)}, got {self.url!r}"
            )
        positive = {
            "connect_timeout": self.connect_timeout,
            "pool_timeout": self.pool_timeout,
            "read_timeout": self.read_timeout,
            "total_timeout": self.total_timeout,
            "keepalive_timeout": self.keepalive_timeout,
            "pool_size": self.pool_size,
            "max_in_flight": self.max_in_flight,
            "max_attempts": self.max_attempts,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name, value in {
            "backoff_base": self.backoff_base,
            "backoff_max": self.backoff_max,
        }.items():
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
