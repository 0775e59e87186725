"""The DCGAN-style GAN: losses by hand, both players training in turn through the trainer, samples that
change and come to look like the data, fixed-latent previews, spectral normalisation that survives export,
and a stop-then-resume that continues both optimizers exactly."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch

from ssl_core.config import RunConfig
from ssl_core.data.base import DataInfo
from ssl_core.eval.previews import preview_images
from ssl_core.methods import METHODS, build_method
from ssl_core.methods.base import StepContext
from ssl_core.methods.gan import DISCRIMINATOR, GAN, GENERATOR, slerp
from ssl_core.models.backbones import build_backbone
from ssl_core.models.gan import DCGANGenerator, set_spectral_norm
from ssl_core.runs.store import export_backbone, load_run, read_metrics
from ssl_core.train.builder import build_components
from ssl_core.train.control import RunControl
from ssl_core.train.events import PreviewReady, StepEnded
from ssl_core.train.trainer import Trainer

DIGITS = DataInfo("digits", "digits", 1797, 1, 8, 8, True)


def gan_config(runs_dir, *overrides: str) -> RunConfig:
    base = [
        "data.spec=digits",
        "method.name=gan",
        "train.batch_size=64",
        "train.device=cpu",
        "data.num_workers=0",
        f"runs_dir={str(runs_dir)!r}",
    ]
    return RunConfig().with_overrides(base + list(overrides))


def make_gan(info: DataInfo = DIGITS, **overrides) -> GAN:
    backbone = build_backbone("dcgan_d", info.channels, max(info.height, info.width))
    method = build_method("gan", backbone, overrides, info)
    assert isinstance(method, GAN)
    return method


def ctx(step: int = 0, seed: int = 0) -> StepContext:
    return StepContext(step=step, total_steps=10, epoch=0, generator=torch.Generator().manual_seed(seed))


# ---- the spec ----------------------------------------------------------------------------------------------
def test_spec_is_complete_and_picks_the_discriminator_backbone():
    spec = METHODS.get("gan")
    assert spec.family == "generative" and spec.preview_kind == "samples" and spec.modalities == ("image",)
    assert len(spec.description) > 300 and "generator" in spec.description and spec.paper
    assert spec.backbone_for(DIGITS) == "dcgan_d"
    assert spec.backbone_reason("dcgan_d", DIGITS) is None
    assert "batch normalisation" in spec.backbone_reason("small_cnn", DIGITS)
    assert spec.optim.betas == (0.5, 0.999) and spec.optim.schedule == "constant"
    json.dumps(spec.to_dict())  # the GUI and CLI serialise it
    assert {p.name for p in spec.params} >= {"loss", "regulariser", "penalty_weight", "latent_dim"}


def test_images_too_large_for_the_networks_are_refused_before_building():
    spec = METHODS.get("gan")
    problems = spec.setup_problems({}, DIGITS, image_size=256)
    assert [p.field for p in problems] == ["data.image_size"] and "64 or less" in problems[0].words
    assert spec.setup_problems({}, DIGITS, image_size=64) == []


@pytest.mark.parametrize(
    ("height", "width", "channels"),
    [(8, 8, 1), (16, 16, 3), (28, 28, 1), (32, 32, 3), (64, 64, 3), (8, 12, 1)],
)
def test_networks_fit_every_small_image_size(height, width, channels):
    info = DataInfo("x", "x", 10, channels, height, width, False)
    method = make_gan(info)
    z = torch.randn(3, 64)
    images = method.generator(z)
    assert images.shape == (3, channels, height, width) and images.min() >= 0 and images.max() <= 1
    assert method.encode(images).shape == (3, method.feature_dim)
    assert method.score(images).shape == (3,)


# ---- losses by hand ----------------------------------------------------------------------------------------
def _fixed_scores(method: GAN, real: float, fake: float):
    """Make the discriminator score every real sample `real` and every fake one `fake` (fakes come second)."""

    def score(images):
        n = images.shape[0] // 2
        return torch.tensor([real] * n + [fake] * (images.shape[0] - n))

    method.score = score


def test_non_saturating_losses_match_hand_computed_values():
    method = make_gan(regulariser="spectral_norm")
    _fixed_scores(method, real=2.0, fake=-1.0)
    out = method.training_step(torch.rand(4, 1, 8, 8), ctx(), part=DISCRIMINATOR)
    # -log sigmoid(2) - log(1 - sigmoid(-1)) = softplus(-2) + softplus(-1)
    expected = math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))
    assert out.loss.item() == pytest.approx(expected, rel=1e-6) and out.parts == {}
    method.score = lambda images: torch.full((images.shape[0],), -1.0)
    out = method.training_step(torch.rand(4, 1, 8, 8), ctx(), part=GENERATOR)
    assert out.loss.item() == pytest.approx(math.log1p(math.exp(1.0)), rel=1e-6)  # -log sigmoid(-1)


def test_hinge_losses_match_hand_computed_values():
    method = make_gan(loss="hinge", regulariser="spectral_norm")
    _fixed_scores(method, real=0.25, fake=-3.0)
    out = method.training_step(torch.rand(4, 1, 8, 8), ctx(), part=DISCRIMINATOR)
    assert out.loss.item() == pytest.approx((1 - 0.25) + 0.0)  # relu(1 - 0.25) + relu(1 + (-3))
    method.score = lambda images: torch.full((images.shape[0],), 0.5)
    assert method.training_step(torch.rand(4, 1, 8, 8), ctx(), part=GENERATOR).loss.item() == pytest.approx(
        -0.5
    )


@pytest.mark.parametrize(("regulariser", "expected"), [("r1", 0.5 * 4.0), ("wgan_gp", (2.0 - 1.0) ** 2)])
def test_gradient_penalties_match_hand_computed_values(regulariser, expected):
    """With a linear discriminator D(x) = w . x the slope is w everywhere: |w| = 2 here."""
    method = make_gan(regulariser=regulariser, penalty_weight=3.0)
    w = torch.zeros(1, 8, 8)
    w[0, 0, :4] = 1.0  # |w|^2 = 4
    base = lambda images: (images.float() * w).flatten(1).sum(1)  # noqa: E731
    method.score = base
    real = torch.rand(4, 1, 8, 8)
    penalty = method._penalty(real, torch.rand(4, 1, 8, 8), torch.Generator().manual_seed(0))
    assert penalty.item() == pytest.approx(expected, rel=1e-5)
    out = method.training_step(real, ctx(), part=DISCRIMINATOR)
    name = {"r1": "R1 penalty", "wgan_gp": "gradient penalty"}[regulariser]
    assert out.parts[name].item() == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        fake = method.sample(4, ctx().generator, real.device)
    plain = torch.nn.functional.softplus(-base(real)).mean() + torch.nn.functional.softplus(base(fake)).mean()
    assert out.loss.item() == pytest.approx(plain.item() + 3.0 * expected, rel=1e-5)


def test_a_part_the_gan_does_not_have_is_a_bug():
    with pytest.raises(ValueError, match="two parts"):
        make_gan().training_step(torch.rand(2, 1, 8, 8), ctx())


# ---- networks ------------------------------------------------------------------------------------------------
def test_spectral_norm_bounds_every_layer_and_reloads_from_a_state_dict():
    method = make_gan(regulariser="spectral_norm")
    x = torch.rand(16, 1, 8, 8)
    for _ in range(30):  # power iterations refine the estimate at every training forward
        method.backbone(x)
    layers = [m for m in method.backbone.modules() if hasattr(m, "normalised_weight")]
    assert layers and all(m.spectral for m in layers)
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.normalised_weight().detach().flatten(1), ord=2)
        assert sigma.item() == pytest.approx(1.0, abs=0.05)
    method.eval()
    features = method.encode(x)
    fresh = build_backbone("dcgan_d", 1, 8)  # built without spectral norm: the saved switch turns it on
    fresh.load_state_dict(method.backbone.state_dict())
    fresh.eval()
    assert all(m.spectral for m in fresh.modules() if hasattr(m, "spectral"))
    assert torch.allclose(fresh(x), features, atol=1e-6)
    assert set_spectral_norm(fresh, False) == len(layers) + 0


def test_penalty_regularisers_leave_spectral_norm_off():
    method = make_gan(regulariser="r1")
    assert not any(getattr(m, "spectral", False) for m in method.modules())


def test_fixed_latents_are_the_same_in_every_run_and_slerp_keeps_the_ends():
    a = make_gan()
    torch.manual_seed(123)  # another global stream: the preview latents do not come from it
    b = make_gan()
    assert torch.equal(a.fixed_latents, b.fixed_latents) and a.fixed_latents.shape == (18, 64)
    ends = a.fixed_latents[16], a.fixed_latents[17]
    path = slerp(*ends, 8)
    assert torch.allclose(path[0], ends[0], atol=1e-5) and torch.allclose(path[-1], ends[1], atol=1e-5)
    norms = path.norm(dim=1)
    assert norms.min() > 0.9 * min(e.norm() for e in ends)  # no dip towards 0, unlike a straight line


def test_generator_rounds_sides_that_do_not_halve_evenly():
    g = DCGANGenerator(16, 3, 28, 20)
    assert g(torch.randn(2, 16)).shape == (2, 3, 28, 20)


# ---- training through the trainer ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A GAN trained on the digits by the trainer, with a preview at its first step and its last."""
    runs = tmp_path_factory.mktemp("gan-runs")
    # 120 steps of 64 digits with the defaults (R1 penalty, DCGAN's learning rate): one to two minutes
    # on a busy 2-core machine; a live preview at every step
    trainer = Trainer(gan_config(runs, "train.max_steps=120", "train.seed=1"), preview_interval_s=0.0)
    previews = []
    trainer.events.subscribe(lambda e: previews.append(e) if isinstance(e, PreviewReady) else None)
    result = trainer.run()
    assert result.status == "completed", result.message
    return result, previews


@pytest.mark.timeout(900)  # the shared GAN run trains first
def test_both_losses_stay_finite_and_are_recorded_as_parts(trained):
    result, _ = trained
    records = read_metrics(result.run_dir)
    assert len(records) == result.step == 120
    for r in records:
        assert set(r["parts"]) == {DISCRIMINATOR, GENERATOR, "R1 penalty"}
        assert all(math.isfinite(v) for v in r["parts"].values())
        assert r["loss"] == pytest.approx(r["parts"][DISCRIMINATOR] + r["parts"][GENERATOR], rel=1e-5)

    # the discriminator learns to separate: its loss without the penalty (weight 1) falls from log 4
    def plain(r):
        return r["parts"][DISCRIMINATOR] - r["parts"]["R1 penalty"]

    late = sum(plain(r) for r in records[-20:]) / 20
    assert plain(records[0]) == pytest.approx(2 * math.log(2), abs=0.15) and late < plain(records[0])


@pytest.mark.timeout(900)  # the shared GAN run trains first
def test_samples_change_and_come_to_look_like_digits(trained, tmp_path):
    result, previews = trained
    assert previews and previews[0].step == 1 and previews[-1].step == result.step
    first, last = previews[0].preview, previews[-1].preview
    assert first.kind == last.kind == "samples" and first.payload == "image_grid"
    assert list(last.images) == ["real", "samples", "more samples", "interpolation"]
    assert all(v.shape == (8, 1, 8, 8) for v in last.images.values())
    assert torch.equal(first.images["real"], last.images["real"])  # the same held-out digits all run
    assert (first.images["samples"] - last.images["samples"]).abs().mean() > 0.05
    # the generator's samples move towards the data: their mean image and spread approach the digits'
    run = load_run(result.run_dir)
    digits = run.method.prepare(run.source.read(run.val_idx)[0])
    fresh = build_components(run.config, source=run.source).method  # the same GAN at its random start
    with torch.no_grad():
        trained_samples = run.method.sample(512, torch.Generator().manual_seed(0), torch.device("cpu"))
        start_samples = fresh.eval().sample(512, torch.Generator().manual_seed(0), torch.device("cpu"))

    def gap(samples):
        return (samples.mean(0) - digits.mean(0)).abs().mean().item()

    print("mean-image gap to the digits: start", gap(start_samples), "trained", gap(trained_samples))
    assert gap(trained_samples) < 0.5 * gap(start_samples)
    # neighbouring frames of the interpolation differ less than unrelated samples do
    strip = last.images["interpolation"]
    steps = (strip[1:] - strip[:-1]).abs().mean()
    assert steps < (last.images["samples"][1:] - last.images["samples"][:-1]).abs().mean()


@pytest.mark.timeout(900)  # the shared GAN run trains first
def test_discriminator_features_are_the_representation(trained, tmp_path):
    result, _ = trained
    run = load_run(result.run_dir)
    x = run.method.prepare(run.source.read(run.val_idx[:5])[0])
    feats = run.method.encode(x)
    assert feats.shape == (5, run.method.feature_dim) and torch.isfinite(feats).all()
    saved = torch.load(export_backbone(result.run_dir, tmp_path / "d.pt"), weights_only=True)
    assert saved["backbone"] == "dcgan_d"
    backbone = build_backbone("dcgan_d", 1, 8)
    backbone.load_state_dict(saved["state_dict"])
    assert torch.allclose(backbone.eval()(x), feats, atol=1e-5)


@pytest.mark.timeout(900)  # the shared GAN run trains first
def test_on_demand_preview_of_the_run_uses_the_fixed_latents(trained):
    result, previews = trained
    preview = preview_images(result.run_dir)
    assert preview.kind == "samples"
    assert torch.allclose(preview.images["samples"], previews[-1].preview.images["samples"], atol=1e-6)


def test_stop_then_resume_continues_both_optimizers_exactly(tmp_path):
    # spectral norm: its power-iteration vectors are buffers that must resume too
    overrides = ("train.max_steps=8", "train.seed=4", "method.params.regulariser='spectral_norm'")
    full = Trainer(gan_config(tmp_path / "a", *overrides)).run()
    full_records = read_metrics(full.run_dir)
    control = RunControl()
    first = Trainer(gan_config(tmp_path / "b", *overrides), control)
    first.events.subscribe(lambda e: control.stop() if isinstance(e, StepEnded) and e.step == 3 else None)
    assert first.run().status == "stopped"
    saved = torch.load(first.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert list(saved["optimizers"]) == [DISCRIMINATOR, GENERATOR] and saved["step"] == 3
    resumed = Trainer.resume(first.run_dir).run()
    assert resumed.status == "completed" and resumed.step == 8
    records = read_metrics(first.run_dir)
    assert [r["step"] for r in records] == list(range(1, 9))
    for name in (DISCRIMINATOR, GENERATOR):
        assert [r["parts"][name] for r in records] == pytest.approx(
            [r["parts"][name] for r in full_records], rel=1e-4, abs=1e-5
        )


def test_a_small_cnn_discriminator_is_refused_in_words(tmp_path):
    result = Trainer(gan_config(tmp_path, "method.backbone=small_cnn", "train.max_steps=1")).run()
    assert result.status == "failed" and "dcgan_d" in result.message


def test_amp_with_a_loss_scaler_steps_both_parts(tmp_path):
    """float16 with a GradScaler (CUDA's mixed precision) on two optimizers: simulated on the CPU."""
    from ssl_core.train.checkpointing import TrainingState
    from ssl_core.train.optim import Hyper, build_optimizers, build_scheduler

    trainer = Trainer(gan_config(tmp_path))
    parts = build_components(trainer.config)
    optimizers = build_optimizers(parts.method, parts.spec, Hyper(64, 2e-4, 0.0, 0.0))
    state = TrainingState(
        method=parts.method,
        optimizers=optimizers,
        schedulers={n: build_scheduler(o, 10, 0, "constant") for n, o in optimizers.items()},
        scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10),
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
        amp_dtype=torch.bfloat16,
    )
    batch = parts.source.read(parts.train_idx[:32])[0]
    before = {n: p.detach().clone() for n, p in parts.method.named_parameters()}
    for step in range(3):
        trainer.step = step
        out = trainer._step(state, batch, 0, 10)
        assert torch.isfinite(out.loss) and set(out.parts) == {DISCRIMINATOR, GENERATOR, "R1 penalty"}
    moved = {n.split(".")[0] for n, p in parts.method.named_parameters() if not torch.equal(p, before[n])}
    assert moved == {"backbone", "critic", "generator"}
    assert state.scaler.get_scale() > 0 and all(p.requires_grad for p in parts.method.parameters())


def test_pause_holds_both_players_and_resume_continues(tmp_path):
    control = RunControl()
    trainer = Trainer(gan_config(tmp_path, "train.max_steps=3"), control)
    seen, paused_at = [], threading.Event()

    def on_event(e):
        if isinstance(e, StepEnded):
            seen.append(e.step)
            if e.step == 1:
                control.pause()
                paused_at.set()

    trainer.events.subscribe(on_event)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    assert paused_at.wait(120)
    worker.join(0.5)
    assert worker.is_alive() and seen == [1]
    control.resume()
    worker.join(120)
    assert not worker.is_alive() and seen == [1, 2, 3]


def test_compiling_leaves_the_discriminator_eager_under_a_gradient_penalty():
    """torch.compile has no double backward: with R1 or WGAN-GP only the generator is compiled."""
    from ssl_core.train.perf import compile_method

    method = make_gan(regulariser="r1")
    compile_method(method)
    compiled = {name for name, child in method.named_children() if child._compiled_call_impl is not None}
    assert compiled == {"generator"}
    assert make_gan(regulariser="spectral_norm").eager_modules == ()
