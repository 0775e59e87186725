"""Unknown names get "did you mean ...?" with the registered names closest to the typo."""

from __future__ import annotations

import pytest

from ssl_core.cli.main import main
from ssl_core.data.sources import parse_spec
from ssl_core.errors import UserError
from ssl_core.methods import METHODS
from ssl_core.models.backbones import BACKBONES
from ssl_core.registry import Registry


@pytest.mark.parametrize(
    "lookup, typo, suggestion",
    [
        (METHODS.get, "simclear", "'simclr'"),
        (METHODS.get, "BYOL2", "'byol'"),
        (BACKBONES.get, "resnet19", "'resnet18'"),
        (BACKBONES.get, "small-cnn", "'small_cnn'"),
        (parse_spec, "digts", "'digits'"),
        (parse_spec, "foldr:~/pictures", "'folder'"),
    ],
)
def test_a_typo_gets_the_closest_names(lookup, typo, suggestion):
    with pytest.raises(UserError) as err:
        lookup(typo)
    message = str(err.value)
    assert "did you mean" in message and suggestion in message
    assert message.index("did you mean") < message.index(";")  # the hint first, the full list after


def test_nothing_close_means_no_guess():
    with pytest.raises(UserError) as err:
        METHODS.get("zzzzzz")
    assert "did you mean" not in str(err.value) and "choose one of" in str(err.value)


def test_suggestions_are_ordered_and_few():
    registry: Registry[int] = Registry("thing")
    for i, name in enumerate(["alpha", "alphb", "alphc", "alphd", "beta"]):
        registry.register(name, i)
    close = registry.suggestions("alpha1")
    assert close[0] == "alpha" and len(close) == 3 and "beta" not in close  # the closest first, three at most
    assert registry.did_you_mean("alpha1") == f" (did you mean '{close[0]}', '{close[1]}' or '{close[2]}'?)"
    assert registry.did_you_mean("bet") == " (did you mean 'beta'?)"
    assert registry.did_you_mean("gamma") == ""


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["train", "--method", "simclear"], "'simclr'"),
        (["train", "--backbone", "resnet81"], "'resnet18'"),
        (["data", "digts"], "'digits'"),
    ],
)
def test_the_cli_prints_the_guess_in_its_one_line_error(capsys, argv, suggestion):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did you mean" in err and suggestion in err
