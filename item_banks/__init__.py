"""Zapcat's ground floor: item response models, item banks and their file formats.

The names below are loaded on first use (PEP 562), so that importing one submodule, such
as :mod:`item_banks.errors`, does not import the file formats (pandas) with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from item_banks.bank import STATUSES, Item, ItemBank, ModelGroup
    from item_banks.errors import BankValidationError, Problem, ZapcatError
    from item_banks.io import FORMAT, bank_from_json, bank_to_json, read_bank, write_bank
    from item_banks.models import get_model, model_names

_EXPORTS = {
    "FORMAT": "item_banks.io",
    "STATUSES": "item_banks.bank",
    "BankValidationError": "item_banks.errors",
    "Item": "item_banks.bank",
    "ItemBank": "item_banks.bank",
    "ModelGroup": "item_banks.bank",
    "Problem": "item_banks.errors",
    "ZapcatError": "item_banks.errors",
    "bank_from_json": "item_banks.io",
    "bank_to_json": "item_banks.io",
    "get_model": "item_banks.models",
    "model_names": "item_banks.models",
    "read_bank": "item_banks.io",
    "write_bank": "item_banks.io",
}

__all__ = [
    "FORMAT",
    "STATUSES",
    "BankValidationError",
    "Item",
    "ItemBank",
    "ModelGroup",
    "Problem",
    "ZapcatError",
    "bank_from_json",
    "bank_to_json",
    "get_model",
    "model_names",
    "read_bank",
    "write_bank",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'item_banks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
