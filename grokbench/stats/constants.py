"""The shared vocabulary of :mod:`grokbench.stats`: levels, statuses, thresholds, verdict words.

Contracts: plain constants only, no imports from the package (every other module of
``grokbench.stats`` may import this one; it imports none of them).

* **Statuses.** ``solved`` is an event; ``unsolved`` and ``diverged`` are censored at the
  budget ("unsolved as worst": a diverged trial never reached the threshold and never
  will); together they are the final statuses. A ``timeout`` with a curve is censored at
  the last step it reached (:mod:`.samples`); other statuses carry no measurement.
* **Thresholds.** Steps to 0.90 and to 0.95 test accuracy (first evaluation at or above)
  and to the task's target (the sustained solve of :mod:`grokbench.metrics`; the status
  ``solved``). Each is analysed on its own, with its own family. ``THRESHOLD_COLUMNS``
  names each threshold's (step, seconds) columns of a row of
  :func:`grokbench.store.load_frame`.
* **Levels.** Verdicts at ``ALPHA`` (adjusted in families of ``FAMILY_SIZE``,
  :mod:`.multiplicity`); intervals at ``CI_LEVEL`` from ``N_BOOT`` resamples
  (:mod:`.intervals`).
"""

ALPHA = 0.05
# Every family of comparisons (a task's methods against its baseline at one threshold and
# measure; stacks against their parts; named pairs) is Bonferroni-adjusted as a family of
# this many, or of as many as it holds when more: a verdict never depends on which other
# methods share the page (up to this many; grokbench ships 13 single methods).
FAMILY_SIZE = 16


N_BOOT = 2000
CI_LEVEL = 0.95


EVENT_STATUSES = frozenset({"solved"})
CENSORED_STATUSES = frozenset({"unsolved", "diverged"})
FINAL_STATUSES = EVENT_STATUSES | CENSORED_STATUSES
NOT_ENOUGH = "not enough data"


FASTER, SLOWER, NO_DIFF, BASELINE = "faster", "slower", "no significant difference", "baseline"


TARGET = "target"
THRESHOLDS = ("t90", "t95", TARGET)  # steps to 0.90, to 0.95, to the task's target (sustained)
THRESHOLD_LEVELS = {"t90": 0.90, "t95": 0.95}
THRESHOLD_COLUMNS = {"t90": ("t90_step", "t90_time_s"), "t95": ("t95_step", "t95_time_s"),
                     TARGET: ("solve_step", "time_to_target_s")}
