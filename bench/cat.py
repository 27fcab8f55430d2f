"""CAT benchmark: zapcat, catsim and the PyPI ``mirt`` CAT side by side in one run.

Run (one thread per tool, so the ratios are fair)::

    RAYON_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        .venv/bin/python bench/cat.py [--write]

Design: a fixed-seed 500-item 2PL bank (catsim's generator, Barrada 2010: a ~ N(1.2, 0.25),
b ~ N(0, 1), seed 0), 1,000 simulees theta ~ N(0, 1) (seed 5), maximum information, stop
at SE < 0.3 or 40 items. Reports mean length, RMSE, max exposure, share of the most common
first item and simulees per second (batch runs: best of 5 alternating rounds); per-step
latency of one live test (500 / 5,000 / 50,000 items); Sympson-Hetter at 0.20; blueprint
compliance with content and enemy constraints; the shadow test on 1,000 items with 10
constraint families. ``--write`` replaces the "## CAT engine" section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

from engine.config import CATConfig
from engine.exposure import fit_sympson_hetter
from engine.session import respond, start
from engine.simulation import report, simulate
from item_banks import Item, ItemBank, read_bank
from item_banks.examples import DEMO_BANK_PATH

N_SIMULEES = 1000
SE_STOP = 0.3
MAX_ITEMS = 40


def catsim_params(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    import contextlib
    import io

    from catsim.item_bank import ItemBank as CatsimBank

    with contextlib.redirect_stdout(io.StringIO()):
        items = CatsimBank.generate_item_bank(n, "2PL", seed=seed).items
    return items[:, 0].copy(), items[:, 1].copy()


def zapcat_bank(a: np.ndarray, b: np.ndarray) -> ItemBank:
    return ItemBank(
        [Item(f"i{j:05d}", "2pl", {"a": float(a[j]), "b": float(b[j])}) for j in range(a.size)],
        name=f"bench-2pl-{a.size}",
    )


def summarise(true, est, lengths, items_lists, seconds, n_items):
    counts = np.zeros(n_items)
    first = np.zeros(n_items)
    for seq in items_lists:
        counts[list(seq)] += 1
        first[seq[0]] += 1
    n = len(true)
    return {
        "mean_length": float(np.mean(lengths)),
        "rmse": float(np.sqrt(np.mean((np.asarray(est) - true) ** 2))),
        "max_exposure": float(counts.max() / n),
        "first_item_share": float(first.max() / n),
        "unused_share": float((counts == 0).mean()),
        "simulees_per_s": n / seconds,
        "ms_per_item": 1e3 * seconds / float(np.sum(lengths)),
    }


# ----------------------------------------------------------------------------- peers
def run_catsim(a, b, theta):
    from catsim.estimation.numerical import NumericalSearchEstimator
    from catsim.initialization.initialization import FixedPointInitializer
    from catsim.selection.selection import MaxInfoSelector
    from catsim.simulation import Simulator
    from catsim.stopping.stopping import MinErrorStopper

    items = np.column_stack([a, b, np.zeros_like(a), np.ones_like(a)])
    sim = Simulator(items, theta, seed=0)
    began = time.perf_counter()
    sim.simulate(FixedPointInitializer(0.0), MaxInfoSelector(), NumericalSearchEstimator(),
                 MinErrorStopper(SE_STOP, max_items=MAX_ITEMS))  # fmt: skip
    seconds = time.perf_counter() - began
    lists = sim.administered_items
    return summarise(theta, sim.latest_estimations, [len(x) for x in lists], lists, seconds,
                     a.size)  # fmt: skip


def _mirt_engine(a, b):
    from mirt.cat import CATEngine
    from mirt.models import TwoParameterLogistic

    model = TwoParameterLogistic(n_items=a.size)
    model.set_parameters(discrimination=a, difficulty=b)
    model._is_fitted = True  # its CAT refuses known parameters otherwise
    return CATEngine(model, se_threshold=SE_STOP, max_items=MAX_ITEMS, seed=0)


def run_mirt_batch(a, b, theta, repeats=5):
    engine = _mirt_engine(a, b)
    engine.run_batch_simulation(theta[:10])  # warm-up
    seconds = np.inf
    for _ in range(repeats):  # best of `repeats` (the machine is shared)
        began = time.perf_counter()
        res = engine.run_batch_simulation(theta)
        seconds = min(seconds, time.perf_counter() - began)
    lists = [r.items_administered for r in res]
    return summarise(theta, [r.theta for r in res], [len(x) for x in lists], lists, seconds, a.size)


def run_mirt_loop(a, b, theta):
    engine = _mirt_engine(a, b)
    began = time.perf_counter()
    res = [engine.run_simulation(float(t)) for t in theta]
    seconds = time.perf_counter() - began
    lists = [r.items_administered for r in res]
    return summarise(theta, [r.theta for r in res], [len(x) for x in lists], lists, seconds,
                     a.size)  # fmt: skip


# --------------------------------------------------------------------------- zapcat
def run_zapcat(bank, config, theta, *, batch, repeats=5):
    simulate(bank, config, n=20, seed=123, batch=batch)  # warm-up: tables built once per bank
    res = None
    seconds = np.inf
    for _ in range(repeats if batch else 1):  # best of `repeats` (the machine is shared)
        res = simulate(bank, config, true_theta=theta, seed=1, batch=batch)
        seconds = min(seconds, res.seconds)
    lists = [row[row >= 0].tolist() for row in res.items]
    out = summarise(theta, res.theta, res.n_scored, lists, seconds, len(bank))
    out["report"] = report(res, bank, config)
    return out


def live_latency(bank, config, n_tests=25, pause_ms=0.0):
    """Per-step time of ``respond`` (select + estimate + state) in one live test.

    Wall time and the thread's CPU time: on a machine shared with other jobs, wall-time
    tails include preemption by other processes. ``pause_ms`` sleeps between steps, as a
    live test waits for the examinee's answer (a busy loop is preempted by the scheduler
    every few milliseconds when other jobs share the core; a waiting process is not).
    """
    rng = np.random.default_rng(3)
    wall, cpu = [], []
    state = start(bank, config, seed=999)  # warm-up
    for t in range(n_tests):
        state = start(bank, config, seed=t)
        true = rng.normal()
        while not state.finished:
            item = bank.index_of(state.pending_item)
            p = bank.prob([true], [item])[0, 0, 1]
            answer = int(rng.random() < p)
            if pause_ms:
                time.sleep(pause_ms / 1e3)
            began, began_cpu = time.perf_counter(), time.thread_time()
            state = respond(bank, config, state, state.pending_item, answer)
            cpu.append(time.thread_time() - began_cpu)
            wall.append(time.perf_counter() - began)
    wall_ms, cpu_ms = 1e3 * np.asarray(wall), 1e3 * np.asarray(cpu)
    return {"p50": float(np.percentile(wall_ms, 50)), "p99": float(np.percentile(wall_ms, 99)),
            "cpu_p50": float(np.percentile(cpu_ms, 50)),
            "cpu_p99": float(np.percentile(cpu_ms, 99)), "steps": int(wall_ms.size)}  # fmt: skip


def shadow_bank(n=1000, seed=11):
    rng = np.random.default_rng(seed)
    a, b = catsim_params(n, seed=seed)
    areas = [f"area{j}" for j in range(8)]
    items = []
    for j in range(n):
        enemy = (f"enemy{j // 2}",) if j < 60 else ()
        items.append(
            Item(
                f"s{j:04d}",
                "2pl",
                {"a": float(a[j]), "b": float(b[j])},
                content_areas=(areas[int(rng.integers(8))],),
                enemy_groups=enemy,
            )
        )
    return ItemBank(items, name="shadow-1000")


def fmt(v, digits=3):
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def out(text=""):
        print(text, flush=True)
        lines.append(text)

    a, b = catsim_params(500)
    theta = np.random.default_rng(5).normal(size=N_SIMULEES)
    bank = zapcat_bank(a, b)
    config = CATConfig(stop_se=SE_STOP, max_items=MAX_ITEMS)
    fixed = config.replace(start_spread=0.0, start_randomesque=1)

    rows = {}
    # the batch runs alternate (5 rounds, best of each) so that load from other jobs on the
    # shared machine hits them alike
    batch = {"zap": [], "zapfixed": [], "mirt": []}
    for _ in range(5):
        batch["zap"].append(run_zapcat(bank, config, theta, batch=True, repeats=1))
        batch["mirt"].append(run_mirt_batch(a, b, theta, repeats=1))
        batch["zapfixed"].append(run_zapcat(bank, fixed, theta, batch=True, repeats=1))

    def best(runs):
        return max(runs, key=lambda r: r["simulees_per_s"])

    rows["zapcat batch (default: spread start)"] = best(batch["zap"])
    rows["zapcat batch, fixed start theta=0"] = best(batch["zapfixed"])
    rows["zapcat one by one (live session code)"] = run_zapcat(bank, config, theta, batch=False)
    rows["mirt 1.2.0 batch (Rust)"] = best(batch["mirt"])
    rows["mirt 1.2.0 one-examinee loop"] = run_mirt_loop(a, b, theta)
    rows["catsim 0.21.0"] = run_catsim(a, b, theta)

    out("Design: 500-item 2PL bank (catsim generator, seed 0), 1,000 simulees theta ~ N(0,1)"
        " (seed 5), maximum information, stop at SE < 0.3 or 40 items; zapcat EAP (61 points),"
        " mirt EAP (21 points), catsim ML.")  # fmt: skip
    out()
    out("| tool | mean length | RMSE | max exposure | most common first item | unused items "
        "| simulees/s | ms per item |")  # fmt: skip
    out("|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        out(f"| {name} | {r['mean_length']:.2f} | {r['rmse']:.3f} | {r['max_exposure']:.3f} | "
            f"{r['first_item_share']:.1%} | {r['unused_share']:.1%} | {r['simulees_per_s']:.0f} | "
            f"{r['ms_per_item']:.4f} |")  # fmt: skip
    zb = rows["zapcat batch (default: spread start)"]
    mb = rows["mirt 1.2.0 batch (Rust)"]
    best_peer = min((rows[k] for k in ("mirt 1.2.0 batch (Rust)", "catsim 0.21.0")),
                    key=lambda r: r["mean_length"])  # fmt: skip
    out()
    out(f"- Efficiency: zapcat {zb['mean_length']:.2f} items at RMSE {zb['rmse']:.3f}; best peer "
        f"{best_peer['mean_length']:.2f} items at RMSE {best_peer['rmse']:.3f} "
        f"(length ratio {zb['mean_length'] / best_peer['mean_length']:.3f}).")  # fmt: skip
    out(
        f"- Batch speed: zapcat {zb['simulees_per_s']:.0f} simulees/s vs mirt Rust batch "
        f"{mb['simulees_per_s']:.0f} (ratio {zb['simulees_per_s'] / mb['simulees_per_s']:.2f}); "
        f"{zb['ms_per_item']:.4f} vs {mb['ms_per_item']:.4f} ms per administered item."
    )
    out(f"- First items: most common first item given to {zb['first_item_share']:.1%} of "
        f"simulees (peers: {mb['first_item_share']:.0%} and "
        f"{rows['catsim 0.21.0']['first_item_share']:.0%}).")  # fmt: skip

    # per-step latency of one live test
    out()
    out("Per-step latency of one live test (`engine.session.respond`: record, EAP, stop rule, "
        "MFI selection, new state), 25 tests x 40 items, 5 rounds: the median round by wall "
        "p99, every round's p99 in brackets; ms:")  # fmt: skip
    out()
    out("| bank size | wall p50 | wall p99 | CPU p50 | CPU p99 | steps |")
    out("|---|---|---|---|---|---|")
    sizes = (500, 5000, 50000)
    banks = {n: zapcat_bank(*catsim_params(n, seed=1)) for n in sizes}
    live_config = config.replace(stop_se=None)
    all_rounds = {n: [] for n in sizes}
    for _ in range(5):  # sizes interleaved, so bursts of other jobs hit every size alike
        for n in sizes:
            all_rounds[n].append(live_latency(banks[n], live_config))
    for n in sizes:
        rounds = sorted(all_rounds[n], key=lambda r: r["p99"])
        lat = rounds[len(rounds) // 2]  # the median round by wall p99
        walls = ", ".join(f"{r['p99']:.3f}" for r in rounds)
        cpus = ", ".join(f"{r['cpu_p99']:.3f}" for r in sorted(rounds, key=lambda r: r["cpu_p99"]))
        out(
            f"| {n:,} | {lat['p50']:.3f} | {lat['p99']:.3f} ({walls}) | {lat['cpu_p50']:.3f} | "
            f"{lat['cpu_p99']:.3f} ({cpus}) | 5 x {lat['steps']} |"
        )
        if n == 5000:
            paused = sorted(
                (live_latency(banks[n], live_config, pause_ms=1.0) for _ in range(3)),
                key=lambda r: r["p99"],
            )
            paused_5000 = paused[1]
            cpu_sorted = sorted(r["cpu_p99"] for r in rounds)
            lat5000 = (rounds[0]["p99"], lat["p99"], cpu_sorted[len(cpu_sorted) // 2],
                       cpu_sorted[-1])  # fmt: skip
    out(f"- Live test pacing: with a 1 ms pause between steps (a live test waits for each "
        f"answer), 5,000 items, median of 3 rounds: wall p50 {paused_5000['p50']:.3f} ms, "
        f"p99 {paused_5000['p99']:.3f} ms (CPU p99 {paused_5000['cpu_p99']:.3f} ms).")  # fmt: skip
    out(f"- Peers' live loops on the 500-item design: mirt one-examinee loop "
        f"{rows['mirt 1.2.0 one-examinee loop']['ms_per_item']:.3f} ms per item, catsim "
        f"{rows['catsim 0.21.0']['ms_per_item']:.3f} ms per item.")  # fmt: skip

    # Sympson-Hetter
    out()
    out("Sympson-Hetter, target 0.20, fitted by 15 iterations of 2,000 fresh simulees; "
        "evaluated on the same 1,000 simulees and on 5,000 fresh ones:")  # fmt: skip
    out()
    out("| fit aims at | fit time s | max exposure (1,000) | max exposure (5,000) | mean length "
        "| length vs no control | RMSE | unused items |")  # fmt: skip
    out("|---|---|---|---|---|---|---|---|")
    sh_rows = []
    for margin in (0.0, 0.015):
        began = time.perf_counter()
        fit = fit_sympson_hetter(bank, config, target=0.2, n_simulees=2000, n_iterations=15,
                                 seed=100, margin=margin)  # fmt: skip
        fit_s = time.perf_counter() - began
        sh = run_zapcat(bank, fit.config, theta, batch=True, repeats=1)
        sh5 = simulate(bank, fit.config, n=5000, seed=77)
        sh5_max = float(sh5.exposure_counts(len(bank)).max() / 5000)
        sh_rows.append((sh["max_exposure"], sh5_max, sh["mean_length"] / zb["mean_length"] - 1))
        out(f"| {0.2 - margin:.3f} | {fit_s:.1f} | {sh['max_exposure']:.3f} | {sh5_max:.3f} | "
            f"{sh['mean_length']:.2f} | {sh['mean_length'] / zb['mean_length'] - 1:+.1%} | "
            f"{sh['rmse']:.3f} | {sh['unused_share']:.1%} |")  # fmt: skip

    # blueprint
    demo = read_bank(DEMO_BANK_PATH)
    blueprint = {"syntax": (4, 8), "data-structures": (4, 8), "functions": (3, 7),
                 "object-oriented": (3, 6), "testing": (2, 5), "debugging": (2, 5)}  # fmt: skip
    bp_config = CATConfig(stop_se=SE_STOP, min_items=20, max_items=30,
                          content=tuple((k, lo, hi) for k, (lo, hi) in blueprint.items()),
                          pretest_count=2)  # fmt: skip
    bp = simulate(demo, bp_config, n=N_SIMULEES, seed=4)
    bp_rep = report(bp, demo, bp_config)
    shadow_cfg = bp_config.replace(selector="shadow")
    sh_bp = simulate(demo, shadow_cfg, n=100, seed=4)
    sh_rep = report(sh_bp, demo, shadow_cfg)
    out()
    out("Blueprint (demo bank, 250 items, 6 content areas with min/max counts, 18 enemy pairs, "
        "2 pretest items seeded, 20-30 items):")  # fmt: skip
    out()
    out(f"- 1,000 simulees, MFI + content/enemy masks: content satisfied "
        f"{bp_rep['blueprint']['content']:.1%}, no enemies together "
        f"{bp_rep['blueprint']['enemies']:.1%}, mean length {bp_rep['test_length']['mean']:.2f}, "
        f"RMSE {bp_rep['rmse']:.3f}.")  # fmt: skip
    out(
        f"- 100 simulees, shadow test: content {sh_rep['blueprint']['content']:.1%}, enemies "
        f"{sh_rep['blueprint']['enemies']:.1%}, mean length {sh_rep['test_length']['mean']:.2f}."
    )

    # shadow speed
    sbank = shadow_bank()
    s_config = CATConfig(
        selector="shadow", stop_se=None, max_items=30,
        content=tuple((f"area{j}", 2, 6) for j in range(8)),
    )  # fmt: skip
    lat = live_latency(sbank, s_config, n_tests=5)
    out(f"- Shadow test on 1,000 items, 10 constraint families (length, 8 content areas with "
        f"min/max, 30 enemy pairs), 30 items: per step p50 {lat['p50']:.1f} ms, p99 "
        f"{lat['p99']:.1f} ms ({lat['steps']} steps).")  # fmt: skip

    # targets of issue 4, from the figures above
    def verdict(ok):
        return "met" if ok else "NOT met"

    out()
    out("Targets (issue 4), from the figures above:")
    out()
    efficient = zb["mean_length"] <= best_peer["mean_length"] and zb["rmse"] <= best_peer["rmse"]
    out(f"- Efficiency (length <= best peer at equal or lower RMSE): {verdict(efficient)}.")
    sh0 = sh_rows[0]
    out(f"- Sympson-Hetter at 0.20 (max exposure <= 0.22, length up <= 15%): fit aimed at 0.20 "
        f"gives max {sh0[0]:.3f} on the 1,000 simulees ({verdict(sh0[0] <= 0.22)}; "
        f"{sh0[1]:.3f} on 5,000) with length {sh0[2]:+.1%} ({verdict(sh0[2] <= 0.15)}); aimed at "
        f"0.185: max {sh_rows[1][0]:.3f} / {sh_rows[1][1]:.3f}, length {sh_rows[1][2]:+.1%}. "
        "A 1,000-simulee maximum over ~30 items near the cap sits about 2 binomial SDs "
        "(2 x 0.013) above the true cap, so <= 0.22 there needs a true cap near 0.195, "
        "which costs about 16% length on this bank: neither fit meets both limits.")  # fmt: skip
    bp_ok = bp_rep["blueprint"]["content"] == 1 and bp_rep["blueprint"]["enemies"] == 1
    out(f"- Blueprints (100% of 1,000 tests): content {bp_rep['blueprint']['content']:.0%}, "
        f"enemies {bp_rep['blueprint']['enemies']:.0%}: {verdict(bp_ok)}.")  # fmt: skip
    out(f"- Live step p99 < 0.5 ms at 5,000 items (MFI + EAP), busy loop as the peers' "
        f"per-item figures: wall p99 {lat5000[1]:.3f} ms in the median round "
        f"({verdict(lat5000[1] < 0.5)}; best round {lat5000[0]:.3f}); CPU-time p99 median "
        f"{lat5000[2]:.3f} ms over rounds, at most {lat5000[3]:.3f} ({verdict(lat5000[3] < 0.5)} "
        f"in every round). Paced like a live test (1 ms pause, cold caches): wall p99 "
        f"{paused_5000['p99']:.3f} ms ({verdict(paused_5000['p99'] < 0.5)}). Wall-clock tails "
        "above the CPU time are preemption by the other jobs sharing the 2 cores.")  # fmt: skip
    out(f"- Shadow test < 50 ms per step on 1,000 items: p99 {lat['p99']:.1f} ms "
        f"({verdict(lat['p99'] < 50)}).")  # fmt: skip
    out(f"- Batch speed >= fastest peer (mirt Rust batch): ratio "
        f"{zb['simulees_per_s'] / mb['simulees_per_s']:.2f} "
        f"({verdict(zb['simulees_per_s'] >= mb['simulees_per_s'])}).")  # fmt: skip
    out(f"- No item to everyone: most common first item {zb['first_item_share']:.1%} "
        f"({verdict(zb['first_item_share'] < 1)}).")  # fmt: skip

    if args.write:
        write_section("\n".join(lines))


def write_section(body: str) -> None:
    path = Path(__file__).with_name("RESULTS.md")
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    command = ("RAYON_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "
               ".venv/bin/python bench/cat.py --write")  # fmt: skip
    section = (f"## CAT engine\n\nCommand: `{command}` ({time.strftime('%Y-%m-%d')}, 2-core "
               f"machine shared with other jobs).\n\n{body}\n")  # fmt: skip
    pattern = re.compile(r"^## CAT engine\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
