"""The audit trail an operator can trust: intent before effect, a hash chain, rotation.

* :mod:`.records`: what a record says (call, pending, closing), secrets redacted;
* :mod:`.chain`: the hash chain across files, reading the trail, ``verify``;
* :mod:`.writer`: one writer thread per trail, group commit, rotation;
* :mod:`.syslog`: the RFC 5424 sink (UDP, TCP, unix socket);
* :class:`AuditLog`: what the runtime calls.

Guarantees: a write, destructive or admin MI call is sent only after its ``pending``
record is fsynced; every tool call's ``call`` record is fsynced before its result
returns (reads: that one record, no more); concurrent calls share fsyncs and the event
loop never blocks on the disk; a ``pending`` record left without an outcome by a dead
server is closed (outcome ``unknown``) when the next server starts on the trail.
"""

from opensips_mcp.audit.chain import (
    GENESIS,
    Break,
    Verification,
    read_records,
    trail_files,
    verify_lines,
    verify_trail,
)
from opensips_mcp.audit.log import DEFAULT_KEEP, DEFAULT_MAX_BYTES, AuditLog
from opensips_mcp.audit.records import (
    CLOSING_REASON,
    REDACTED,
    SECRET_NAME_PARTS,
    AuditError,
    AuditRecord,
    CallRecord,
    DecisionText,
    Outcome,
    closing_record,
    format_record,
    is_secret_name,
    pending_record,
    redact,
    utc_now,
)
from opensips_mcp.audit.syslog import SyslogSink, SyslogURLError, parse_syslog_url

__all__ = [
    "CLOSING_REASON",
    "DEFAULT_KEEP",
    "DEFAULT_MAX_BYTES",
    "GENESIS",
    "REDACTED",
    "SECRET_NAME_PARTS",
    "AuditError",
    "AuditLog",
    "AuditRecord",
    "Break",
    "CallRecord",
    "DecisionText",
    "Outcome",
    "SyslogSink",
    "SyslogURLError",
    "Verification",
    "closing_record",
    "format_record",
    "is_secret_name",
    "parse_syslog_url",
    "pending_record",
    "read_records",
    "redact",
    "trail_files",
    "utc_now",
    "verify_lines",
    "verify_trail",
]
