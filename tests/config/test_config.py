import pytest

from ssl_core.config import RunConfig
from ssl_core.errors import UserError
from ssl_core.params import Param, ParamSet


def test_config_round_trips_through_toml(tmp_path):
    cfg = RunConfig().with_overrides(
        ["train.epochs=3", "method.name=vicreg", "method.params.sim_weight=20.0"]
    )
    path = tmp_path / "exp.toml"
    cfg.save(path)
    again = RunConfig.load(path)
    assert again == cfg
    assert again.train.epochs == 3 and again.method.params == {"sim_weight": 20.0}


def test_unknown_key_is_named():
    with pytest.raises(UserError, match="unknown key 'epoch'"):
        RunConfig.from_dict({"train": {"epoch": 3}})


def test_wrong_type_is_named():
    with pytest.raises(UserError, match="train.epochs must be int"):
        RunConfig.from_dict({"train": {"epochs": "many"}})


@pytest.mark.parametrize("assignment", ["train.epochs=0", "train.batch_size=-4", "data.image_size=0"])
def test_out_of_range_values_are_refused(assignment):
    with pytest.raises(UserError, match="out of range"):
        RunConfig().with_overrides([assignment])


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train\nepochs = 3")
    with pytest.raises(UserError, match="bad.toml is not valid TOML"):
        RunConfig.load(path)


def test_missing_config_file():
    with pytest.raises(UserError, match="does not exist"):
        RunConfig.load("/nonexistent/exp.toml")


def test_param_set_resolves_and_checks_ranges():
    ps = ParamSet(
        (Param("temperature", 0.5, "softmax temperature", low=0.01, high=2.0), Param("queue", 4096, "size"))
    )
    assert ps.resolve({"temperature": "0.2"}) == {"temperature": 0.2, "queue": 4096}
    with pytest.raises(UserError, match=r"temperature = 5.0 is out of range; use a value from 0.01 to 2.0"):
        ps.resolve({"temperature": 5})
    with pytest.raises(UserError, match="Unknown setting tau"):
        ps.resolve({"tau": 1})
    with pytest.raises(UserError, match="queue must be a int"):
        ps.resolve({"queue": 1.5})
