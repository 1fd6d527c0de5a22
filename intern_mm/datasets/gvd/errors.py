"""The error of GV-D's bad input: a tool prints it as one line (exit status 2)."""

__all__ = ['GVDInputError']


class GVDInputError(ValueError):
    """Bad GV-D input: a missing or unreadable file, a malformed option, no WordNet.

    Its message names the file / option / source and the fix; ``tools/gvd.py`` prints it
    as one line and exits with status 2 (``--debug`` shows the traceback).

    Example:
        >>> str(GVDInputError('source voc: class file voc.txt does not exist'))
        'source voc: class file voc.txt does not exist'
    """
