"""The one exception type for mistakes a user can make and fix."""


class UserError(Exception):
    """An error caused by input the user controls (a path, a field, a value).

    The message names the file or field and says what to do. The CLI prints it as one
    line and exits 2; the GUI shows it in a dialog. Bugs are anything else.
    """

    def __init__(self, message: str, *, field: str | None = None, path: str | None = None):
        super().__init__(message)
        self.field = field
        self.path = path
