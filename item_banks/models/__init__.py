"""Item response models: the shared maths of Zapcat.

Models are looked up by name in one registry::

    >>> from item_banks.models import get_model, model_names
    >>> model_names()
    ('rasch', '1pl', '2pl', '3pl', '4pl', 'grm', 'gpcm', 'pcm', 'rsm')

See ``_template.py`` for how to add a model.
"""

from item_banks.models import dichotomous as _dichotomous  # noqa: F401  (registers)
from item_banks.models import polytomous as _polytomous  # noqa: F401  (registers)
from item_banks.models._base import (
    PARAM_ROLES,
    ItemModel,
    get_model,
    is_param_name,
    model_names,
    param_sort_key,
    register_model,
    unregister_model,
)
from item_banks.models.dichotomous import LogisticModel

__all__ = [
    "PARAM_ROLES",
    "ItemModel",
    "LogisticModel",
    "get_model",
    "is_param_name",
    "model_names",
    "param_sort_key",
    "register_model",
    "unregister_model",
]
