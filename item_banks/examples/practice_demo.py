"""The practice demo bank: Python practice items that may be disclosed, with explanations.

``practice_demo.json`` holds 12 items of status ``practice`` (simulated parameters, not
calibrated), each with an explanation text per response category; ``make run`` serves a
practice test on it with ``feedback: "item"``. :func:`build_practice_demo` regenerates
the file exactly.
"""

from __future__ import annotations

from pathlib import Path

from item_banks.bank import Item, ItemBank

PRACTICE_DEMO_PATH = Path(__file__).resolve().parent / "practice_demo.json"

_DICHOTOMOUS = [
    ("loops", -1.2, "range(5) gives 0, 1, 2, 3, 4: the loop body runs five times.",
     "Count the values range(5) produces: it starts at 0 and stops before 5."),
    ("loops", -0.4, "break leaves the innermost loop only; the outer loop goes on.",
     "break ends only the loop it is written in, not the loops around it."),
    ("lists", -0.8, "Slicing copies: changing the slice leaves the list as it was.",
     "a[:] is a new list; assigning into it does not touch a."),
    ("lists", 0.3, "A default list argument is created once and shared between calls.",
     "Default values are evaluated when the function is defined, not at each call."),
    ("dicts", -0.2, "Iterating a dict gives its keys, in insertion order.",
     "for k in d loops over the keys; use d.items() for pairs."),
    ("functions", 0.6, "A closure keeps the variable, not its value at definition time.",
     "The inner function reads i when it runs, after the loop has finished."),
    ("exceptions", 0.1, "finally runs whether or not the try block raised.",
     "finally always runs, even after a return inside try."),
    ("classes", 0.9, "A class attribute is shared by every instance until one assigns "
     "its own.", "self.x = ... creates an instance attribute that hides the class one."),
    ("testing", 1.4, "pytest.approx compares floats within a relative tolerance.",
     "0.1 + 0.2 != 0.3 exactly; compare floats with a tolerance."),
]
_TASKS = [
    ("functions", (-0.9, 0.2, 1.1), ("The function does not run: check the def line and "
     "the indentation.", "It runs but returns None: add a return statement.",
     "Right for most inputs; the empty list is not handled.",
     "Complete: correct for every input, including the empty list.")),
    ("debugging", (-0.5, 0.5, 1.5), ("The traceback's last line names the error: start "
     "there.", "You found the line; read the variable's value just before it.",
     "Fixed, but the fix hides the cause; test the boundary case.",
     "Fixed at the cause, with a test that would have caught it.")),
    ("testing", (-0.2, 0.8, 1.8), ("A test needs an assertion to fail.",
     "One case is tested; add the boundary cases.",
     "Good cases; make each test independent of the others.",
     "Complete: independent tests covering the boundaries.")),
]


def build_practice_demo() -> ItemBank:
    """The 12 practice items (2PL questions and GRM tasks scored 0-3) of the demo.

    Returns
    -------
    ItemBank
        Every item of status ``practice`` with an explanation per category.
    """
    items = []
    for k, (area, b, right, wrong) in enumerate(_DICHOTOMOUS, start=1):
        items.append(Item(f"pr-{area[:4]}-{k:02d}", "2pl",
                          {"a": round(0.9 + 0.07 * k, 3), "b": b}, content_areas=(area,),
                          status="practice", tags=("short-answer",),
                          feedback={0: f"Not quite. {wrong}", 1: f"Right. {right}"}))
    for k, (area, steps, texts) in enumerate(_TASKS, start=len(_DICHOTOMOUS) + 1):
        items.append(Item(f"pr-{area[:4]}-{k:02d}", "grm",
                          {"a": 1.2, **{f"b{j + 1}": s for j, s in enumerate(steps)}},
                          content_areas=(area,), status="practice", tags=("practical-task",),
                          feedback=dict(enumerate(texts))))
    return ItemBank(
        items,
        name="practice-demo",
        version="1",
        description="Python practice items (may be disclosed; simulated parameters, not "
        "calibrated on real data), each with an explanation per response category.",
        provenance={"source": "simulated",
                    "generator": "item_banks.examples.practice_demo.build_practice_demo"},
    )


__all__ = ["PRACTICE_DEMO_PATH", "build_practice_demo"]
