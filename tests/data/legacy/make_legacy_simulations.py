"""Write ``legacy_simulations_v1.json``: tests given by an earlier version's engine.

Run with the engine of commit 4d98325::

    PYTHONPATH=/path/to/tree/at/4d98325 \
        .venv/bin/python tests/data/legacy/make_legacy_simulations.py

For each flat configuration below (every selector, estimator, exposure control, constraint
and stopping rule of that version), 24 simulees on the mixed test bank of
``tests/engine/conftest.py``: the items given, the responses, the final estimates and stop
reasons. ``tests/engine/test_cat_legacy.py`` expects the same from today's engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parents[2]))  # after PYTHONPATH: the earlier tree's engine wins

from engine.config import CATConfig  # noqa: E402
from engine.simulation import simulate  # noqa: E402
from tests.engine.conftest import make_mixed_bank  # noqa: E402

PROPS = {"alg": 0.4, "geo": 0.3, "num": 0.3}
CONTENT = {"alg": {"min": 2, "max": 5}, "geo": {"min": 1, "max": 6}}
CONFIGS = {
    "mfi_eap": {"max_items": 10, "stop_se": 0.4},
    "kl_map_randomesque": {"selector": "kl", "estimator": "map", "randomesque": 3,
                           "max_items": 10, "stop_se": None},
    "mepv_wle_pretest": {"selector": "mepv", "estimator": "wle", "pretest_count": 2,
                         "pretest_first": 2, "pretest_last": 6, "max_items": 9},
    "astrat_ml": {"selector": "a_stratified", "n_strata": 3, "estimator": "ml",
                  "max_items": 9, "stop_se": None},
    "shadow_content_enemies": {"selector": "shadow", "content": CONTENT, "max_items": 10,
                               "stop_se": None},
    "shadow_proportions": {"selector": "shadow", "content_proportions": PROPS,
                           "max_items": 10, "stop_se": None},
    "sympson_hetter_proportions": {"exposure": "sympson_hetter",
                                   "exposure_params": {"q001": 0.3, "q005": 0.5},
                                   "content_proportions": PROPS, "max_items": 10},
    "sprt": {"stop_se": None, "cut_scores": [0.0], "classification": "sprt",
             "sprt_delta": 0.3, "max_items": 15},
    "ci_all": {"stop_se": 0.5, "cut_scores": [-0.5, 0.7], "classification": "ci",
               "ci_level": 0.9, "stop_combine": "all", "min_items": 3, "max_items": 15},
    "prior_range_start": {"prior_mean": 0.5, "prior_sd": 1.5, "theta_range": [-3, 3],
                          "n_points": 41, "start_theta": 0.5, "start_spread": 0.5,
                          "start_randomesque": 2, "max_items": 8, "enemies": False},
}  # fmt: skip


def main() -> None:
    bank = make_mixed_bank()
    out = {}
    for name, flat in CONFIGS.items():
        res = simulate(bank, CATConfig.from_dict(flat), n=24, seed=7)
        out[name] = {
            "config": flat,
            "items": res.items.tolist(),
            "responses": res.responses.tolist(),
            "theta": res.theta.tolist(),
            "se": res.se.tolist(),
            "stop_reason": list(res.stop_reason),
        }
    out["written_by"] = "zapcat at commit 4d98325"
    (HERE / "legacy_simulations_v1.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
