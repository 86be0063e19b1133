"""The one exception type for problems a user can fix (bad file, missing model, …)."""


class VoicedrillError(Exception):
    """A user-facing problem: the CLI prints its message as one line and exits 2.

    `option` is the command-line way past it ("--no-save"), said only where there are options:
    str() ends with it, `plain` (what the app says) does not."""

    def __init__(self, message: str, option: str = ""):
        super().__init__(f"{message}, or use {option}" if option else message)
        self.plain, self.option = message, option

    def said_to(self, args: object) -> str:
        """The message for a command whose parsed `args` are given: the option only if it has it."""
        has = self.option and hasattr(args, self.option.split()[0].lstrip("-").replace("-", "_"))  # ("--input FILE")
        return str(self) if has else self.plain


class NotAllowed(VoicedrillError):
    """Refused for who the user is (a database role that may only read), not for a fault: the app answers 403."""


class InUse(VoicedrillError):
    """Held by something else for now (a history another program is writing, an engine a run has):
    worth trying again; the app answers 409."""
