"""Where the server's interpreter is held while a large bank is published and used.

    .venv/bin/python bench/gil_phases.py                 # 100,000 items, SQLite
    .venv/bin/python bench/gil_phases.py --items 20000 --url postgresql+psycopg://...

Runs, in this process, the steps the service takes for a large bank (issue 11, defect 7):
prepare the published body (child process), store it, read the stored document back,
build the bank, and build the engine's tables for an assessment on it. Meanwhile a probe
thread sleeps 1 ms in a loop and records how late it wakes: that lateness is how long
a request thread of the server would have waited for Python's GIL. Each late wake also
records the line the working thread was on, which names the call that held the GIL.

Reported per phase: wall time, CPU time of the working thread, probe lateness p50 / p99 /
max, wakes later than 20 ms, and the source lines behind the longest stalls. Not a timed
test: run by hand, results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Probe:
    """A thread that sleeps ``tick`` seconds in a loop and records how late it wakes."""

    def __init__(self, watched: int, tick: float = 0.001) -> None:
        self.watched, self.tick = watched, tick
        self.samples: list[tuple[float, float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            time.sleep(self.tick)
            now = time.perf_counter()
            late = now - t - self.tick
            where = ""
            if late > 0.01:
                frame = sys._current_frames().get(self.watched)
                if frame is not None:
                    stack = traceback.extract_stack(frame)[-4:]
                    where = " < ".join(
                        f"{Path(f.filename).name}:{f.lineno} {f.line}" for f in reversed(stack)
                    )
            self.samples.append((now, late, where))

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def window(self, start: float, end: float) -> dict:
        late = np.array([s[1] for s in self.samples if start <= s[0] < end]) * 1000
        worst = Counter()
        for s in self.samples:
            if start <= s[0] < end and s[1] > 0.02:
                worst[s[2]] += s[1]
        return {
            "n": int(late.size),
            "p50": float(np.percentile(late, 50)) if late.size else 0.0,
            "p99": float(np.percentile(late, 99)) if late.size else 0.0,
            "max": float(late.max()) if late.size else 0.0,
            "over20": int((late > 20).sum()),
            "worst": worst.most_common(3),
        }


PHASES: list[tuple[str, float, float, float]] = []


@contextmanager
def phase(name: str):
    t, cpu = time.perf_counter(), time.thread_time()
    yield
    PHASES.append((name, t, time.perf_counter(), time.thread_time() - cpu))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--url", default="", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)

    from api_load import make_bank
    from sqlalchemy import select

    from api.db import Database
    from api.models import BankVersion
    from api.services import assessments, banks
    from api.services.bank_documents import prepare_document
    from api.settings import Settings
    from engine.config import CATConfig
    from item_banks.bank import ItemBank
    from item_banks.io import bank_to_json

    large = make_bank(args.items, args.seed)
    raw = bank_to_json(ItemBank(large.items, name="large-bank", description="big")).encode()
    del large
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='zapcat-gil-')}/gil.db"
    db = Database(Settings(url))
    db.migrate()
    config = CATConfig.from_dict({"stop_se": 0.3, "max_items": 30})
    me = threading.get_ident()
    with Probe(me) as probe:
        time.sleep(1.0)
        with phase("idle (probe baseline)"):
            time.sleep(1.0)
        with phase("prepare (child process) + parent unpickle"):
            prepared = prepare_document(raw)
        with phase("publish (write transaction)"):
            summary = banks.publish(db, tenant="t", prepared=prepared)
        del prepared
        row = banks.find_bank_version(db, tenant="t", name="large-bank",
                                      version=summary["version"])  # fmt: skip
        with phase("load_bank (read + parse + build)"):
            bank = banks.load_bank(db, row)
        with phase("warm (engine tables + plan)"):
            if hasattr(banks, "stored_arrays") and len(bank) >= 5000:  # the service's path
                assessments.warm(bank, config, arrays=banks.stored_arrays(db, row))
            else:
                assessments.warm(bank, config)
        # what is stored: the arrays (this code) or the JSON document (before them)
        stored = getattr(BankVersion, "arrays", BankVersion.document)
        with phase("read the stored version only (again)"):
            with db.read() as session:
                text = session.scalar(select(stored).where(BankVersion.id == row.id))
        del text
        time.sleep(0.5)
    print(f"{args.items} items, {len(raw) / 1e6:.1f} MB, {url.split(':')[0]}, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("| phase | wall s | CPU s of this thread | probe late p50 / p99 / max ms "
          "| wakes > 20 ms |\n|---|---|---|---|---|")  # fmt: skip
    for name, t0, t1, cpu in PHASES:
        w = probe.window(t0, t1)
        print(f"| {name} | {t1 - t0:.2f} | {cpu:.2f} | {w['p50']:.1f} / {w['p99']:.1f} / "
              f"{w['max']:.1f} | {w['over20']} |")  # fmt: skip
    print()
    for name, t0, t1, _ in PHASES:
        w = probe.window(t0, t1)
        for where, total in w["worst"]:
            print(f"{name}: {total * 1000:.0f} ms late in all at: {where}")


if __name__ == "__main__":
    main()
