"""Step-cost calibration: steps are exact, seconds are measured carefully.

How many steps a method needs to reach its target is exact (the records say). How much a
step costs is measured here, apart from training: for each configuration of a results
folder (task configuration, method configuration, device, batch layout = seeds trained
together) a live seed batch is stepped with the engine's own timed unit
(``grokbench.trial.train_step``), warmed up, over blocks that cover whole cost periods of
the method, all configurations interleaved round-robin so that they share the machine's
conditions, until every median is stable (``measure``). The costs go to
``DIR/calibration.json`` (``costs``), and give each trial a calibrated time to target:
steps to target x its per-seed share of a batch step + its share of the method's one-time
setup. That figure does not depend on which other seeds shared the batch, on the load
while the trial ran, or on its executor; it does depend on the calibration's device,
threads and layout, which every cost names.

``grokbench calibrate DIR`` runs a full session (``FULL``); ``grokbench run`` ends with a
quick one (``QUICK``) when the folder has configurations its calibration lacks.

Modules: ``configs`` (records -> configurations), ``measure`` (runners, blocks, rounds),
``session`` (one session over a folder), ``costs`` (the file, frame columns), ``walltime``
(what the leaderboard's wall-time table needs).
"""

from __future__ import annotations

from .configs import CalibrationConfig, configs_of
from .costs import (
    CALIBRATION_FILE,
    StepCost,
    calibration_path,
    load_costs,
    read_calibration,
    with_calibrated_columns,
)
from .measure import FULL, QUICK, Settings
from .session import Calibration, calibrate_folder
from .walltime import MethodTiming, calibrated_median, calibrated_speedup, walltime_context

__all__ = [
    "CALIBRATION_FILE", "FULL", "QUICK", "Calibration", "CalibrationConfig", "MethodTiming", "Settings",
    "StepCost", "calibrate_folder", "calibrated_median", "calibrated_speedup", "calibration_path",
    "configs_of", "load_calibrated_frame", "load_costs", "read_calibration", "walltime_context",
    "with_calibrated_columns",
]


def load_calibrated_frame(results_dir, with_curves: bool = False):
    """``grokbench.store.load_frame`` plus the calibrated columns (``with_calibrated_columns``)."""
    from ..store import load_frame

    return with_calibrated_columns(load_frame(results_dir, with_curves), load_costs(results_dir))
