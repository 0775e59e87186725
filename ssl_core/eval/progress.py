"""Where evaluation's progress and cancellation names used to live; they are in `ssl_core.progress` now.

Kept so that `from ssl_core.eval.progress import Cancelled` (the GUI's workers) goes on working.
"""

from ssl_core.progress import Cancelled, CancelToken, ProgressFn, check_cancel, report, sub_progress

__all__ = ["CancelToken", "Cancelled", "ProgressFn", "check_cancel", "report", "sub_progress"]
