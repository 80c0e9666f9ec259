"""Paper reproductions as data: claim files (``claims/*.json``) -> plans run through the
ordinary engine -> one page with the published number next to ours and a verdict.

``claims`` loads and checks the files, ``runner`` turns a claim into plans and runs them
into ``DIR/<claim>/<experiment>/``, ``results`` reads them back, ``verdict`` holds the one
rule, ``page`` renders the markdown.
"""

from .claims import Claim, load_claims, select
from .page import check_page_path, write_page
from .results import collect
from .runner import Caps, execute_claim, plan_runs, write_manifest
from .verdict import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED

__all__ = ["Caps", "Claim", "check_page_path", "INCONCLUSIVE", "NOT_REPRODUCED", "NOT_RUN", "REPRODUCED", "collect",
           "execute_claim", "load_claims", "plan_runs", "select", "write_manifest", "write_page"]
