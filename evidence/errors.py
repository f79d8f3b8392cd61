"""The one error type of the evidence stage: a problem the user can act on, said in one line."""


class EvidenceError(Exception):
    """An export or verification that cannot go on: unknown site, unreadable key, silent TSA..."""
