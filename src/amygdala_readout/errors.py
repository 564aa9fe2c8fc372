"""Errors that come from the user's input, not from a bug: shown as one line, without a traceback."""


class UserError(ValueError):
    """Bad input; the message names the file or setting and the fix."""
