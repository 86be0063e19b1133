"""The one exception type for problems a user can fix (bad file, missing model, …)."""


class VoicedrillError(Exception):
    """A user-facing problem: the CLI prints its message as one line and exits 2."""
