"""Tuning: search spaces, quasi-random proposals, one selection rule, and tuned runs.

``grokbench tune`` proposes K configurations per (task, method) from each method's
declared search space (``space``), plus the method's own (its defaults), trains them on the tuning seeds as ordinary records
(``driver``), selects one per (task, method) by the rule in ``selection`` and writes
DIR/tuned.json; ``grokbench run --tuned DIR`` runs the selections on the report seeds
(``tuned``). ``provenance_rows`` / ``selected_rows`` give the leaderboard's provenance
rows and its table of selected configurations, ``study_curves`` the tuning curves it draws.

Plugins declare their spaces with the types of the plugin API, :mod:`grokbench.search`
(``from grokbench.search import Log``); they are re-exported here for plugins written
against grokbench 0.1. The rest loads on first use.
"""

from ..search import Choice, Linear, Log

_LAZY = ("provenance_rows", "selected_rows", "study_curves")


def __getattr__(name: str):
    if name in _LAZY:
        from . import tuned

        return getattr(tuned, name)
    raise AttributeError(name)


__all__ = ["Choice", "Linear", "Log", *_LAZY]
