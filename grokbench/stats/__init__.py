"""Across-seed statistics: each method against its task's baseline, over the same seeds.

Inputs are the rows of :func:`grokbench.store.load_frame` (one per trial). Everything
here is plain numpy/scipy on those rows; nothing reaches back into training or the plugin
registry: every label, base, part and baseline it needs is in the records.

One module per job, imported one way (each imports only those above it in this list):

* :mod:`.constants`: levels, statuses, thresholds, verdict words;
* :mod:`.samples`: one method's trials at one threshold, per seed, censored (``Sample``);
* :mod:`.survival`: censoring-aware medians and ratios;
* :mod:`.intervals`: estimates with intervals (exact median intervals, bootstrap speedups);
* :mod:`.tests`: the paired sign test (the verdicts' test), log-rank, Fisher, power;
* :mod:`.comparison`: a method's medians, a paired comparison with a reference;
* :mod:`.multiplicity`: fixed-size Bonferroni families, verdicts, agreement across thresholds;
* :mod:`.frames`, :mod:`.controls`: one label per configuration; tuned runs' controls;
* :mod:`.analysis`: every task of a frame (``analyze``);
* :mod:`.profiles`: performance profiles across tasks.

``from grokbench import stats as st; st.X`` reaches every public name of these modules.
"""

from .analysis import ALL_PAIRS, TaskStats, add_pairs, analyze, task_stats
from .comparison import Comparison, MethodStats, compare, method_stats
from .constants import (
    ALPHA,
    BASELINE,
    CENSORED_STATUSES,
    CI_LEVEL,
    EVENT_STATUSES,
    FAMILY_SIZE,
    FASTER,
    FINAL_STATUSES,
    N_BOOT,
    NO_DIFF,
    NOT_ENOUGH,
    SLOWER,
    TARGET,
    THRESHOLD_COLUMNS,
    THRESHOLD_LEVELS,
    THRESHOLDS,
)
from .controls import BASE_AT_ITS_SETTINGS, CONTROL_KINDS, ON_THE_TUNED_BASE, control_pairs
from .frames import disambiguate
from .intervals import (
    IDENTICAL,
    Estimate,
    _quantile_bounds,
    median_ci,
    order_stat_ranks,
    ratio_ci,
    scale,
    seeded_rng,
)
from .multiplicity import DEPENDS, FLIPS, ROBUST, adjust, bonferroni, consistency
from .profiles import TAU_MAX, Profile, performance_profiles
from .samples import Sample, make_sample
from .survival import censored_median
from .tests import (
    SignTest,
    detectable_win_rate,
    fisher,
    logrank,
    pair_outcome,
    sign_test,
    sign_test_power,
)

__all__ = [
    "ALL_PAIRS", "ALPHA", "BASELINE", "BASE_AT_ITS_SETTINGS", "CENSORED_STATUSES", "CI_LEVEL",
    "CONTROL_KINDS", "DEPENDS", "EVENT_STATUSES", "FAMILY_SIZE", "FASTER", "FINAL_STATUSES",
    "FLIPS", "IDENTICAL", "NOT_ENOUGH", "NO_DIFF", "N_BOOT", "ON_THE_TUNED_BASE", "ROBUST",
    "SLOWER", "TARGET", "TAU_MAX", "THRESHOLDS", "THRESHOLD_COLUMNS", "THRESHOLD_LEVELS",
    "Comparison", "Estimate", "MethodStats", "Profile", "Sample", "SignTest", "TaskStats",
    "_quantile_bounds", "add_pairs", "adjust", "analyze", "bonferroni", "censored_median",
    "compare", "consistency", "control_pairs", "detectable_win_rate", "disambiguate", "fisher",
    "logrank", "make_sample", "median_ci", "method_stats", "order_stat_ranks", "pair_outcome",
    "performance_profiles", "ratio_ci", "scale", "seeded_rng", "sign_test", "sign_test_power",
    "task_stats",
]
