"""``grokbench reproduce NAME... --plan``: what a reproduction would train and about how
long it would take, before anything trains.

Per experiment (``plan_experiments``): the runs ``runner.plan_runs`` makes (seeds, caps and
budget applied as for a real run), resolved by the engine's own ``plan.build_plan`` and cut
into the cells ``Plan.cells`` would execute at ``--batch-seeds``, so the trial counts are
those ``reproduce`` would create. Nothing is written: no results folder, no manifest.

The estimate (``estimate``): each distinct cell's batched step cost measured briefly
(``grokbench.calibrate.estimate.measure_cells`` at ``PLAN_SETTINGS``: a few warm-up steps,
then two interleaved blocks of one cost unit each, one torch thread; median of the two), then per cell steps x that cost + its setup. Stated on the
output (``ASSUMPTIONS``): the trials of a cell share one batched model, so a cell costs its
steps x the batch's step cost; *budget*: every trial trains to its budget (no early
stop: what censored trials cost; solved seeds leaving the batch early make it less);
*bound*: every trial crosses the target at its budget and trains on through the stability
window and tail (``Budget.bound``, the most the engine trains). Evaluations, data
building and process start-up are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from .. import environment
from ..calibrate.costs import StepCost
from ..calibrate.estimate import Budget, budget_of, cell_config, cell_seconds, measure_cells
from ..calibrate.measure import Settings
from ..plan import Cell, build_plan
from ..spec import parse_overrides
from .claims import Claim
from .runner import Caps, ExperimentRun, plan_runs

BATCH_SEEDS = 64  # grokbench's --batch-seeds default
NO_CAPS = Caps()  # the claims' own budgets and seeds
# Shorter than the quick calibration: a warm-up of a few steps, then 2 interleaved blocks of
# one cost unit each (a unit is the method's cost period and whole epochs, calibrate.measure).
PLAN_SETTINGS = Settings(min_rounds=2, max_rounds=2, block_s=0.0, max_block_s=0.0, warmup_s=0.02,
                         max_seconds=10.0, mode="plan")
ASSUMPTIONS = (
    "seed batching: the trials of a cell share one batched model, so a cell costs steps x the measured CPU "
    "time of one step of its whole batch (a few steps measured per distinct cell, 1 torch thread: one worker of --executor "
    "process:2) + its setup",
    "budget: every trial trains to its budget, no early stop (what censored trials cost; trials that solve "
    "leave the batch after their stability window and tail, so a run can take less)",
    "bound: every trial crosses the target at its budget and trains on through the stability window and tail "
    "(the most the engine trains)",
    "left out: evaluations, data building, process start-up",
)


@dataclass(frozen=True)
class ExperimentPlan:
    """One experiment as ``reproduce`` would run it: the run, the cells it would execute
    and its task's budget (schedule and stability rule)."""

    run: ExperimentRun
    cells: tuple[Cell, ...]
    budget: Budget
    unit: str  # how the task states its budget: "steps" (max_steps set) or "epochs"

    @property
    def trials(self) -> int:
        return sum(len(cell.slots) for cell in self.cells)

    @property
    def budget_text(self) -> str:
        """``2,000 steps``, or ``60 epochs (1,920 steps)`` for an epoch budget."""
        steps = self.budget.schedule.max_steps
        if self.unit == "steps":
            return f"{steps:,} steps"
        return f"{steps // self.budget.schedule.steps_per_epoch:,} epochs ({steps:,} steps)"


def plan_experiment(run: ExperimentRun, batch_seeds: int = BATCH_SEEDS, device: str = "cpu") -> ExperimentPlan:
    """``run`` resolved as ``runner.prepare_run`` resolves it (exactly its methods, no
    added baseline) and cut into cells of at most ``batch_seeds`` trials; builds the task's
    data once for its schedule, trains nothing and writes nothing."""
    plan = build_plan(run.task, ",".join(run.methods), run.seeds, parse_overrides(list(run.overrides)),
                      device=device)
    task = plan.pairs[0][0]
    unit = "steps" if task.params.get("max_steps") else "epochs"
    return ExperimentPlan(run, tuple(plan.cells(set(), batch_seeds)), budget_of(task), unit)


def plan_experiments(claims: Sequence[Claim], budget: str, caps: Caps = NO_CAPS,
                     batch_seeds: int = BATCH_SEEDS) -> tuple[list[ExperimentPlan], list[str]]:
    """Every experiment of ``claims`` that runs at ``budget``, planned
    (``plan_experiment``), and ``claim/experiment`` of each one the budget skips."""
    plans: list[ExperimentPlan] = []
    skipped: list[str] = []
    for claim in claims:
        runs, not_run = plan_runs(claim, budget, caps)
        plans += [plan_experiment(run, batch_seeds) for run in runs]
        skipped += [f"{claim.name}/{exp_id}" for exp_id in not_run]
    return plans, skipped


@dataclass(frozen=True)
class Estimate:
    """An experiment's CPU seconds under the two assumptions (``ASSUMPTIONS``); ``longest_s``:
    its longest cell at the budget; ``unmeasured``: cells whose cost could not be measured
    (left out of the sums)."""

    plan: ExperimentPlan
    cpu_s_budget: float
    cpu_s_bound: float
    longest_s: float
    unmeasured: tuple[str, ...] = ()


def estimate(plan: ExperimentPlan, costs: dict[str, StepCost]) -> Estimate:
    """Sum over the plan's cells of ``cell_seconds`` at the budget and at the bound; costs
    by ``cell_config(cell).key`` (``measure_cells``)."""
    at_budget, at_bound, unmeasured = [], 0.0, []
    for cell in plan.cells:
        cost = costs.get(cell_config(cell).key)
        if cost is None:
            unmeasured.append(cell.label)
            continue
        at_budget.append(cell_seconds(cost, plan.budget.schedule.max_steps))
        at_bound += cell_seconds(cost, plan.budget.bound)
    return Estimate(plan, sum(at_budget), at_bound, max(at_budget, default=0.0), tuple(unmeasured))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.1f}"


def table(estimates: Sequence[Estimate]) -> list[str]:
    """The markdown table: one row per experiment, then the total (CPU minutes and hours)."""
    lines = ["| claim / experiment | task | methods | seeds | budget | trials | cells | CPU min (budget) "
             "| CPU min (bound) |", "|---|---|---|---|---|---|---|---|---|"]
    for e in estimates:
        run, star = e.plan.run, " (some cells unmeasured)" if e.unmeasured else ""
        methods = ", ".join(f"`{m}`" for m in run.methods)
        lines.append(f"| {run.claim} / {run.experiment} | {run.task} | {methods} | {run.seeds} | "
                     f"{e.plan.budget_text} | {e.plan.trials} | {len(e.plan.cells)} | {_minutes(e.cpu_s_budget)}{star} "
                     f"| {_minutes(e.cpu_s_bound)} |")
    budget_s, bound_s = sum(e.cpu_s_budget for e in estimates), sum(e.cpu_s_bound for e in estimates)
    trials = sum(e.plan.trials for e in estimates)
    lines.append(f"| **total** | | | | | {trials:,} | {sum(len(e.plan.cells) for e in estimates)} | "
                 f"{_minutes(budget_s)} ({budget_s / 3600:.2f} h) | {_minutes(bound_s)} ({bound_s / 3600:.2f} h) |")
    return lines


def report(estimates: Sequence[Estimate], skipped: Sequence[str], machine: str,
           log: Callable[[str], None] = print) -> None:
    """Print the plan: machine line, assumptions, table, the longest cell, what is not run."""
    log(machine)
    log("assumes:\n" + "\n".join(f"- {a}" for a in ASSUMPTIONS) + "\n")
    log("\n".join(table(estimates)))
    if estimates:
        longest = max(estimates, key=lambda e: e.longest_s)
        log(f"\nlongest cell: {longest.plan.run.claim}/{longest.plan.run.experiment}, "
            f"{_minutes(longest.longest_s)} CPU min at the budget (a lower bound on the wall time)")
    unmeasured = [f"{e.plan.run.claim}/{e.plan.run.experiment}: {c}" for e in estimates for c in e.unmeasured]
    if unmeasured:
        log("not measured (left out of the sums): " + "; ".join(unmeasured))
    log(f"not run at this budget: {', '.join(skipped) if skipped else 'none'}")


def machine_line(load_before: float | None) -> str:
    """Where and when the costs were measured: CPU model, torch, the 1-minute load average
    before and after, the UTC time."""
    import torch

    return (f"machine: {environment.cpu_name()}, torch {torch.__version__}, load1 {load_before} before / "
            f"{environment.load_average()} after measuring, {datetime.now(timezone.utc).isoformat(timespec='minutes')}")


def plan_claims(claims: Sequence[Claim], budget: str, caps: Caps = NO_CAPS, batch_seeds: int = BATCH_SEEDS,
                log: Callable[[str], None] = print, note: Callable[[str], None] = print) -> int:
    """The whole ``--plan``: plan every experiment, measure each distinct cell once, print
    the report through ``log`` (progress through ``note``). Trains and writes nothing;
    returns the number of estimates (0 when nothing runs at ``budget``)."""
    load_before = environment.load_average()
    plans, skipped = plan_experiments(claims, budget, caps, batch_seeds)
    costs, unbuilt = measure_cells([cell for p in plans for cell in p.cells], PLAN_SETTINGS, log=note)
    for entry in unbuilt:
        note(f"could not measure {entry['task']} / {entry['method']}: {entry['reason']}")
    estimates = [estimate(p, costs) for p in plans]
    report(estimates, skipped, machine_line(load_before), log)
    return len(estimates)
