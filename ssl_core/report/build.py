"""Make a run report: evaluate a run that has no evaluation yet (and draw its map), read every run's facts,
render the HTML and write it, or a PDF of it, atomically. The CLI and the GUI's worker both call
`write_report`; progress and cancellation follow ssl_core.progress."""

from __future__ import annotations

from pathlib import Path

from ssl_core.errors import UserError
from ssl_core.eval.report import read_report
from ssl_core.file_modes import write_shared_file
from ssl_core.progress import CancelToken, ProgressFn, check_cancel, report, stage_progress
from ssl_core.report.facts import RunFacts, check_runs, has_map, read_run
from ssl_core.report.html import render_html

FORMATS = (".html", ".htm", ".pdf")
PDF_HINT = "PDF needs WeasyPrint: pip install 'ssl-workbench[pdf]' (or weasyprint), or write .html instead."


def needs_work(run_dir: str | Path) -> bool:
    """Whether making a report of this run first evaluates it or draws its map (a slower report)."""
    return read_report(run_dir) is None or not has_map(run_dir)


def prepare_run(
    run_dir: Path,
    projection: str = "pca",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> list[str]:
    """Evaluate the run if it has no evaluation, and draw its map if it has none for that checkpoint.
    Returns problems in words (e.g. data without labels cannot be evaluated) instead of raising them."""
    from ssl_core.eval.embed import embed_run
    from ssl_core.eval.evaluate import evaluate_run

    problems = []
    if read_report(run_dir) is None:
        try:
            evaluate_run(run_dir, progress=stage_progress(progress, 0.0, 0.8, "Evaluating"), cancel=cancel)
        except UserError as exc:
            problems.append(f"Not evaluated: {exc}")
    check_cancel(cancel)
    if not has_map(run_dir):
        try:
            embed_run(
                run_dir, projection=projection, anomaly=False,
                progress=stage_progress(progress, 0.8, 1.0, "Drawing the map"), cancel=cancel,
            )  # fmt: skip
        except UserError as exc:
            problems.append(f"No map: {exc}")
    return problems


def build_report(
    runs: list[str | Path],
    evaluate: bool = True,
    projection: str = "pca",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> str:
    """The HTML report of one run (or the comparison of two). With `evaluate`, runs without an evaluation
    or map get one first (see prepare_run); without, the report says in one line how to add them."""
    paths = check_runs(runs)
    problems: dict[Path, list[str]] = {p: [] for p in paths}
    if evaluate:
        for i, path in enumerate(paths):
            check_cancel(cancel)
            share = stage_progress(
                progress, i / len(paths), (i + 1) / len(paths), f"Run {i + 1} of {len(paths)}"
            )
            problems[path] = prepare_run(path, projection, share, cancel)
    report(progress, 1.0, "Writing the report")
    facts: list[RunFacts] = []
    for path in paths:
        found = read_run(path)
        found.problems = problems[path]
        facts.append(found)
    return render_html(facts)


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError):  # OSError: installed, but its Pango libraries are missing
        raise UserError(PDF_HINT) from None
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """The report as PDF through WeasyPrint (no browser); UserError when it is not installed."""
    return _weasyprint().HTML(string=html).write_pdf()


def check_output(out: str | Path) -> Path:
    out = Path(out).expanduser()
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"{out}: a report is written as .html or .pdf; name the file with one of those.")
    if out.is_dir():
        raise UserError(f"{out} is a folder; give a file name such as {out / 'report.html'}.")
    if not out.parent.is_dir():
        raise UserError(f"The folder {out.parent} does not exist; create it or write the report elsewhere.")
    if out.suffix.lower() == ".pdf":
        _weasyprint()  # refuse before a long evaluation when PDF cannot be made here
    return out


def write_report(
    runs: list[str | Path],
    out: str | Path,
    evaluate: bool = True,
    projection: str = "pca",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write the report to `out` (.html, or .pdf through WeasyPrint) and return its path."""
    out = check_output(out)
    html = build_report(runs, evaluate, projection, progress, cancel)
    data = html_to_pdf(html) if out.suffix.lower() == ".pdf" else html.encode("utf-8")
    check_cancel(cancel)
    return write_shared_file(out, data)
