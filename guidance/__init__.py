"""Guidance: from a battery profile to what a learner does next.

Pure functions of (profile, catalogue, configuration), standing on ``engine`` and
``item_banks``: the credential catalogue (:mod:`guidance.catalogue`), gap analysis and
recommendations (:mod:`guidance.gaps`) and the learner's skill-gap report
(:mod:`guidance.report`). Nothing here knows about HTTP or the database.
"""
