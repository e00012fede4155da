"""Exception hierarchy.

``InputError`` marks a *user* mistake (bad name, bad budget, bad file): the CLI turns it into a
one-paragraph message and exit code 2, never a traceback. Everything else is a library failure.
"""


class RankscopeError(Exception):
    """Base class of every error rankscope raises on purpose."""


class InputError(RankscopeError, ValueError):
    """Something the user supplied is invalid. The message names it and says what is valid."""


class SpaceError(InputError):
    """A search space is malformed, or does not fit the model it is used with."""


class BudgetError(InputError):
    """A budget string does not parse, or no non-empty allocation fits under it."""


class AllocationError(InputError):
    """An allocation does not fit its space (unknown edge, rank out of range, other space)."""


class UnsupportedModelError(InputError):
    """The model family has no site map."""


class TrainingError(RankscopeError):
    """Training failed for a reason that is not the user's input (e.g. the loss diverged)."""
