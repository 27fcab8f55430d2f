"""The few ``scipy.special`` functions the item models use, imported on first use.

``import scipy.special`` costs about 0.2 s (its array-API layer), more than the rest of a
``zapcat bank show``: commands that only read, validate or print banks never evaluate a
model and so never pay for it. The functions are the scipy ufuncs themselves once loaded.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any


@cache
def _special() -> ModuleType:
    import scipy.special

    return scipy.special


def expit(x: Any, /, **kwargs: Any) -> Any:
    """``scipy.special.expit`` (logistic function)."""
    return _special().expit(x, **kwargs)


def log_expit(x: Any, /, **kwargs: Any) -> Any:
    """``scipy.special.log_expit`` (log of the logistic function, accurate in both tails)."""
    return _special().log_expit(x, **kwargs)


def logsumexp(a: Any, /, **kwargs: Any) -> Any:
    """``scipy.special.logsumexp``."""
    return _special().logsumexp(a, **kwargs)


def logit(x: Any, /, **kwargs: Any) -> Any:
    """``scipy.special.logit`` (log-odds)."""
    return _special().logit(x, **kwargs)
