"""The one error a bad artifact raises."""


class ArtifactError(ValueError):
    """A file that is not a valid chainrule artifact: wrong format, altered, truncated or incomplete.

    Raised before any member is used, so nothing of a bad artifact runs."""
