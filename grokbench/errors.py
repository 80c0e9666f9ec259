"""The one exception type that means "the user asked for something invalid".

The CLI turns a UserError into a single line on stderr and exit status 2; anything else
that escapes is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: unknown name, malformed value, unwritable folder, ..."""
