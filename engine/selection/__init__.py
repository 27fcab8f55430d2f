"""Item selectors: registered strategies, one module each.

* ``mfi`` - maximum Fisher information (:mod:`engine.selection.mfi`);
* ``kl`` - posterior-weighted Kullback-Leibler (:mod:`engine.selection.kl`);
* ``mepv`` - minimum expected posterior variance (:mod:`engine.selection.mepv`);
* ``mpwi`` - maximum posterior-weighted information (:mod:`engine.selection.mpwi`);
* ``a_stratified`` - a-stratified with b-matching (:mod:`engine.selection.a_stratified`);
* ``shadow`` - shadow test by ``scipy.optimize.milp`` (:mod:`engine.selection.shadow`).

Randomesque choice and exposure control wrap every selector (:mod:`engine.selection._pick`).
A new selector is one module with a :class:`Selector` subclass registered by
``@SELECTORS.register``, imported here.
"""

from engine.selection import a_stratified, kl, mepv, mfi, mpwi, shadow  # noqa: F401  (registration)
from engine.selection._base import SELECTORS, Selector

__all__ = ["SELECTORS", "Selector"]
