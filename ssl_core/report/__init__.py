"""Run reports: one self-contained HTML file (or PDF) about a run, or comparing two runs, that anyone can
open without the workbench. `write_report` makes one; `ssl-core report RUN [RUN2] -o FILE` and the GUI's
File > Export > Run report call it."""

from ssl_core.report.build import build_report, needs_work, write_report

__all__ = ["build_report", "needs_work", "write_report"]
