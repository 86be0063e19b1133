"""voicedrill: practise the hard close out loud, offline, with word-timed feedback."""

import sys

__version__ = "0.1.0"


def main() -> int:
    """The `voicedrill` command (cli.main); Ctrl-C while its modules load reads as it does later."""
    try:
        from .cli import main as command
    except KeyboardInterrupt:
        sys.stderr.write("voicedrill: interrupted\n")
        return 130
    return command()
