"""Service functions of the delivery service: the one place where the work is done.

Routes and command-line commands call these keyword-only functions with a
:class:`~api.db.Database`; they raise domain errors from :mod:`item_banks.errors` and
return plain JSON-ready values (no numpy above this layer).
"""
