"""Progress a person reads right: a stage's own count is never followed by a bare percentage of the
whole job that contradicts it ("Embedding images 1664/1797 - 28%", issue 15)."""

from __future__ import annotations

from ssl_core.progress import progress_words, stage_progress


def test_a_staged_message_says_its_percentage_is_the_whole_jobs():
    seen = []
    stage = stage_progress(
        lambda f, m: seen.append((f, m)), 0.02, 0.3, "Step 1 of 2, features of every image"
    )
    stage(1664 / 1797, "embedding 1,664 of 1,797 images")
    fraction, message = seen[-1]
    assert 0.27 < fraction < 0.29
    text = progress_words(message, fraction)
    assert text.startswith("Step 1 of 2, features of every image: embedding 1,664 of 1,797 images")
    assert text.endswith("28% of the whole job")


def test_an_unstaged_message_keeps_a_plain_percentage():
    assert progress_words("Loading the run", 0.0) == "Loading the run  0%"
    assert progress_words("", 0.5) == "50%"


def test_the_cli_bar_says_its_percentage_is_the_whole_jobs(capsys):
    from ssl_core.eval.cli import ProgressBar

    bar = ProgressBar(quiet=False)
    bar(0.28, "Step 1 of 2, features of every image: embedding 1,664 of 1,797 images")
    bar.close()
    err = capsys.readouterr().err
    assert "embedding 1,664 of 1,797 images" in err and "28% of the whole job" in err
