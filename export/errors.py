"""The export's own error: a bad argument, output folder or conversion, explained in one line."""

from edge_runtime.errors import SignedgeError


class ExportError(SignedgeError, RuntimeError):
    """An export cannot be done as asked (unknown format, unwritable folder, failed conversion)."""
