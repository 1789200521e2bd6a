"""The two kinds of exception every part of the project shares.

`UserError`: something the user can cause and fix (a bad file, setting, folder or checkpoint). Its message is one
line in our words naming the thing and the problem; the CLI prints it as `error: ...` and exits 2, the GUI shows it
in a dialog. Every such error type derives from it, so callers catch one class. Anything else that escapes is a bug.

`Cancelled`: work that stopped because it was asked to (a stop button, a closed window, Ctrl-C, a newer task of the
same kind). It is not a failure and is never shown as an error.
"""
from __future__ import annotations


class UserError(Exception):
    """An error the user can cause and act on; str(error) is the whole message, naming the file or setting."""


class Cancelled(Exception):
    """Work stopped because a stop was requested; the argument, when given, says what was being done."""
