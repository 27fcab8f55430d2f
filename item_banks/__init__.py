"""Zapcat's ground floor: item response models, item banks and their file formats."""

from item_banks.bank import STATUSES, Item, ItemBank, ModelGroup
from item_banks.errors import BankValidationError, Problem, ZapcatError
from item_banks.io import FORMAT, bank_from_json, bank_to_json, read_bank, write_bank
from item_banks.models import get_model, model_names

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
