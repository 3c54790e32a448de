"""The one kind of error the command line prints as a single line (exit code 2)."""


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2."""
