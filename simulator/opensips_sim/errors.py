"""MI errors as OpenSIPS returns them inside a JSON-RPC ``error`` object."""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


class MIError(Exception):
    """An MI command failure: becomes ``{"code": code, "message": message[, "data": data]}``."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(f"{code} {message}" + (f" ({data})" if data else ""))
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        """The JSON-RPC error object, with ``data`` only when there is one."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


class MIBlocked(Exception):
    """The MI process waits forever: a lock the command needs was leaked by an earlier
    command (real OpenSIPS never answers again, on any transport, until restarted)."""


def invalid_params(data: str) -> MIError:
    """``-32602 Invalid params`` with OpenSIPS's reason string in ``data``."""
    return MIError(INVALID_PARAMS, "Invalid params", data)


def bad_type(name: str) -> MIError:
    """The error real OpenSIPS gives for a parameter of the wrong JSON type."""
    return invalid_params(f"Bad type for parameter '{name}'")


TOO_FEW_OR_MANY = "Too few or too many parameters"
NAMES_DO_NOT_MATCH = "Named parameters do not match"
NAMED_ONLY = "Command only supports named parameters"


SERVER_ERROR = -32000
AMBIGUOUS_CALL = "Ambiguous call, use named parameters instead"
PARAM_HANDLE = "Failed to handle parameter"


def bad_array_item(name: str) -> MIError:
    """The error real OpenSIPS gives for an array item that is neither string nor number."""
    return invalid_params(f"Bad type for array item in parameter '{name}'")
