"""Plain-English pieces shared by messages: durations and lists."""

import pytest

from ssl_core.wording import format_seconds, spoken_list


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "unknown"),
        (4.24, "4.2 s"),
        (45, "45 s"),
        (60, "1 min"),
        (185, "3 min 5 s"),
        (3600, "1 h"),
        (4320, "1 h 12 min"),
    ],
)
def test_format_seconds(seconds, words):
    assert format_seconds(seconds) == words


def test_spoken_list():
    assert spoken_list([2, 4, 8]) == "2, 4 or 8"
    assert spoken_list(["GRU", "LSTM"], "and") == "GRU and LSTM"
    assert spoken_list([]) == ""
