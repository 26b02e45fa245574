"""The one exception type that the command line turns into a one-line message."""


class SurrogateInputError(ValueError):
    """A missing, malformed or incompatible input file or argument; the message names it."""
