"""One base class for every error a user can cause, so the CLI and pages can show it in one line."""


class LrlabError(ValueError):
    """Bad input from the user: the message names the field or file and what was expected."""
