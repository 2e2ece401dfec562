"""The one exception type that the CLI turns into a single line and exit code 2."""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix.

    The CLI prints ``error: <message>`` and exits with code 2, without a traceback.
    """


class SimulationError(Exception):
    """An internal failure of a simulator (a compile error, a crash): never a mismatch. ``fpgabnn verify``
    prints one line and exits with code 3."""
