"""voicedrill: practise the hard close out loud, offline, with word-timed feedback."""

import sys

__version__ = "0.1.0"


def main() -> int:
    """The `voicedrill` command (cli.main); Ctrl-C while its modules load reads as it does later, and
    SIGTERM or SIGHUP stops it as Ctrl-C does."""
    from .stopping import exit_status, stop_on_signals

    stop_on_signals()
    try:
        from .cli import main as command
    except KeyboardInterrupt as stop:
        sys.stderr.write("voicedrill: interrupted\n")
        return exit_status(stop)
    return command()
