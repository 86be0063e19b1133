"""voicedrill: practise the hard close out loud, offline, with word-timed feedback."""

__version__ = "0.1.0"
