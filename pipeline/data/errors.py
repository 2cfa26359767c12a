"""One error type for every data problem, so the CLI can print it plainly."""


class DataError(RuntimeError):
    """A data file or directory is missing or malformed; the message says which and why."""
