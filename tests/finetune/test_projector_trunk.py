"""Fine-tuning from the middle of the projection head (SimCLRv2): which layers are kept, and that the
network built with them starts from the pretrained weights and reads the right width."""

import pytest
import torch
from torch import nn

from ssl_core.finetune.classifier import classifier_from_method, projector_trunk
from ssl_core.models.heads import moco_projector, simclr_projector, simsiam_projector
from tests.tiny_runs import tiny_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Method(nn.Module):
    def __init__(self, projector):
        super().__init__()
        self.projector = projector


@pytest.mark.parametrize(
    "head, width",
    [(simclr_projector(16, 24, 8), 24), (moco_projector(16, 20, 8), 20), (simsiam_projector(16, 12, 8), 12)],
)
def test_the_trunk_is_the_first_block_ending_with_its_nonlinearity(head, width):
    trunk, out = projector_trunk(_Method(head), 1)
    assert out == width
    assert isinstance(trunk[0], nn.Linear) and isinstance(trunk[-1], nn.ReLU)
    assert len(trunk) == (2 if isinstance(head[1], nn.ReLU) else 3)  # Linear-[BN]-ReLU
    assert torch.equal(trunk[0].weight, head[0].weight) and trunk[0].weight is not head[0].weight  # a copy
    assert trunk(torch.randn(4, 16)).shape == (4, width)


def test_no_trunk_without_a_projection_head_or_with_too_few_blocks():
    assert projector_trunk(_Method(simclr_projector(16, 24, 8)), 0) is None
    assert projector_trunk(_Method(simclr_projector(16, 24, 8)), 2) is None  # its 2nd Linear is the output
    assert projector_trunk(_Method(nn.Linear(16, 8)), 1) is None  # not a Sequential of blocks
    assert projector_trunk(nn.Module(), 1) is None  # no projector at all
    odd = nn.Sequential(nn.Linear(16, 24), nn.Dropout(0.1), nn.ReLU(), nn.Linear(24, 8))
    assert projector_trunk(_Method(odd), 1) is None  # unknown layers: left alone


def test_a_simclr_classifier_reads_the_projection_heads_middle_layer(tmp_path):
    from ssl_core.train.builder import build_components

    method = build_components(tiny_config(tmp_path)).method.eval()
    plain = classifier_from_method(method, 10, seed=0)
    neck = classifier_from_method(method, 10, seed=0, projector_layers=1)
    hidden = method.projector[0].out_features
    assert plain.neck_layers == 0 and neck.neck_layers == 1
    assert plain.head.in_features == method.feature_dim and neck.head.in_features == hidden
    x = torch.rand(5, *method.info.sample_shape)
    with torch.no_grad():
        expected = method.projector[2](method.projector[1](method.projector[0](method.backbone(x))))
        assert torch.allclose(neck.eval().raw_features(x), expected, atol=1e-6)
        assert neck(x).shape == (5, 10)
    # The head is drawn from the seed alone, so variants with the same seed start alike.
    again = classifier_from_method(method, 10, seed=0, projector_layers=1)
    assert torch.equal(again.head.weight, neck.head.weight)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_cli_fine_tunes_from_the_projection_head_and_stores_it_back(tmp_path, capsys):
    import json

    from ssl_core.cli.main import main
    from ssl_core.finetune import export_classifier, load_classifier, torchscript_path
    from ssl_core.runs.store import load_run
    from tests.tiny_runs import train_tiny

    parent = train_tiny(tmp_path / "runs")
    code = main([
        "finetune", str(parent), "--labels", "3/class", "--projector-layers", "1", "--seeds", "0",
        "--epochs", "2", "--patience", "1", "--no-compare", "--json",
    ])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["settings"]["projector_layers"] == 1
    model, payload = load_classifier(result["run_dir"])
    assert payload["projector_layers"] == model.neck_layers == 1
    pretrained, stored = load_run(parent).method, load_run(result["run_dir"]).method
    assert model.head.in_features == pretrained.projector[0].out_features
    # The fine-tuned block goes back into the stored method's projector (same indices); the backbone too.
    assert all(torch.equal(v, stored.projector.state_dict()[k]) for k, v in model.neck.state_dict().items())
    assert all(
        torch.equal(v, stored.backbone.state_dict()[k]) for k, v in model.backbone.state_dict().items()
    )
    out = export_classifier(result["run_dir"], tmp_path / "clf.pt")
    images = load_run(parent).source.read(torch.arange(4))[0]
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(torchscript_path(out)))(images), model(images), atol=1e-4)
    assert main(["finetune", str(parent), "--labels", "3/class", "--projector-layers", "-1"]) == 2
    assert "projector_layers" in capsys.readouterr().err
