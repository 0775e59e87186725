"""bench/bench_distributed.py: throughput is read from metrics.jsonl after the warm-up (one flush per step on
the CPU, grouped flushes on a GPU), the section has the scaling table, the GPU note and the published
reference, and --quick runs 1 and 2 real `ssl-core train` processes end to end."""

from __future__ import annotations

import pytest

from tests.bench.test_bench_smoke import load

NAME = "bench_distributed"


def _records(times: list[float]) -> list[dict]:
    return [{"step": i + 1, "time": t} for i, t in enumerate(times)]


def test_throughput_times_the_steps_after_the_warmup():
    bench = load(NAME)
    # One flush per step (CPU): a slow first step, then 0.5 s a step.
    records = _records([10.0, 10.5, 11.0, 11.5, 12.0, 12.5])
    ips, steps = bench.throughput(records, warmup=2, batch_size=64)
    assert steps == 4 and ips == pytest.approx(4 * 64 / 2.0)  # from step 2 (t=10.5) to step 6 (t=12.5)
    # Unordered lines are sorted by step.
    assert bench.throughput(list(reversed(records)), warmup=2, batch_size=64) == (ips, steps)


def test_throughput_with_grouped_flushes_starts_at_a_flush():
    bench = load(NAME)
    # A GPU reads losses back in groups: steps 1-3 flushed at t=5, 4-6 at t=6, 7-9 at t=7.
    records = _records([5.0, 5.0, 5.0, 6.0, 6.0, 6.0, 7.0, 7.0, 7.0])
    ips, steps = bench.throughput(records, warmup=2, batch_size=10)
    assert steps == 6 and ips == pytest.approx(6 * 10 / 2.0)  # step 3 at t=5 to step 9 at t=7
    ips, steps = bench.throughput(records, warmup=4, batch_size=10)
    assert steps == 3 and ips == pytest.approx(3 * 10 / 1.0)  # step 6 at t=6 to step 9 at t=7


def test_throughput_refuses_too_few_steps():
    bench = load(NAME)
    with pytest.raises(ValueError, match="raise --steps"):
        bench.throughput(_records([1.0, 1.0, 1.0]), warmup=1, batch_size=8)
    with pytest.raises(ValueError, match="no metrics"):
        bench.throughput([], warmup=1, batch_size=8)


def _case(bench, method: str, processes: int, ips: float, device: str = "cpu"):
    case = bench.Case(method, "small_cnn", device, processes, 64)
    case.keep(bench.Measurement(ips, 4.0 + processes, 20))
    return case


def _settings(bench, **changes):
    values = dict(
        methods=("simclr", "moco"), processes=(1, 2), threads=1, images=1664, image_size=32, batch_size=64,
        warmup=5, steps=20, repeats=3, seed=0, gpu=True, gpu_batch_size=512, command="python bench/x.py",
    )  # fmt: skip
    values.update(changes)
    return bench.Settings(**values)


def test_section_tables_and_targets():
    bench = load(NAME)
    cpu = [
        _case(bench, "simclr", 1, 200.0),
        _case(bench, "simclr", 2, 340.0),
        _case(bench, "moco", 1, 150.0),
        _case(bench, "moco", 2, 210.0),
    ]
    text = bench.render(
        _settings(bench), cpu, None, "no GPU on this machine: GPU scaling row not measured.", None
    )
    assert "| simclr | small_cnn | 64 | 2 | 1 thread | 340 | 1.70x | **0.85** | 6.0 |" in text
    assert "| moco | small_cnn | 64 | 1 | 1 thread | 150 | 1.00x | 1.00 | 5.0 |" in text
    assert "no GPU on this machine: GPU scaling row not measured." in text
    assert "| SimCLR | 4 | 2.75x | 0.69 | 2.70x |" in text and "| MoCo | 4 | 3.69x | 0.92 | 3.13x |" in text
    assert "not measured here" in text and "CPU:" in text
    found = bench.targets(cpu, None)
    assert [(t.target.split(",")[0], t.met) for t in found[:2]] == [
        ("simclr small_cnn", True),
        ("moco small_cnn", False),
    ]
    assert found[2].met is None and "not measured" in found[2].measured

    gpu = [_case(bench, "simclr", 1, 3000.0, "cuda"), _case(bench, "simclr", 4, 9000.0, "cuda")]
    text = bench.render(_settings(bench), cpu, gpu, "", "4 x NVIDIA H200")
    assert "4 x NVIDIA H200: 1 GPU against all of them" in text
    assert "| simclr | small_cnn | 64 | 4 | 1 GPU | 9,000 | 3.00x | **0.75** | 8.0 |" in text
    gpu_target = bench.targets(cpu, gpu)[-1]
    assert gpu_target.measured == "3.00x, efficiency 0.75" and gpu_target.met is None


def test_train_command_asks_for_processes_only_above_one(tmp_path):
    bench = load(NAME)
    s = _settings(bench)
    one = bench.train_command("npz:x.npz", bench.Case("simclr", "small_cnn", "cpu", 1, 64), s, tmp_path)
    two = bench.train_command("npz:x.npz", bench.Case("simclr", "small_cnn", "cpu", 2, 64), s, tmp_path)
    assert "--devices" not in one and two[-2:] == ["--devices", "2"]
    assert one[1:4] == ["-m", "ssl_core", "train"] and "--quiet" in one
    assert one[one.index("--max-steps") + 1] == "25" and one[one.index("--batch-size") + 1] == "64"
    env = bench.child_env("cpu", 1)
    assert env["OMP_NUM_THREADS"] == "1" and env["CUDA_VISIBLE_DEVICES"] == ""


def test_run_all_runs_it():
    assert "bench_distributed.py" in load("run_all").SCRIPTS


def test_gpu_table_is_measured_with_two_gpus_or_more(monkeypatch):
    """With 2+ GPUs (faked here) the GPU cases run 1 and all GPUs with the GPU step counts; with one GPU the
    section says why there is no GPU row."""
    bench = load(NAME)
    launched = []

    def fake_measure(spec, case, s, tmp):
        launched.append((case.device, case.processes, bench.schedule(case, s), case.batch_size))
        return bench.Measurement(100.0 * case.processes, 3.0, 20)

    monkeypatch.setattr(bench, "measure", fake_measure)
    s = _settings(bench, methods=("simclr",), repeats=1, images=64, gpu_batch_size=8)
    monkeypatch.setattr(bench, "gpu_count", lambda: (4, "4 x Fake GPU"))
    text, found = bench.run(s, lambda message: None)
    assert launched == [
        ("cpu", 1, (5, 20), 64),
        ("cpu", 2, (5, 20), 64),
        ("cuda", 1, (20, 100), 8),
        ("cuda", 4, (20, 100), 8),
    ]
    assert (
        "4 x Fake GPU: 1 GPU against all of them" in text and "| simclr | resnet18 | 8 | 4 | 1 GPU |" in text
    )
    assert found[-1].target.startswith("simclr resnet18: 4 GPUs vs 1")

    launched.clear()
    monkeypatch.setattr(bench, "gpu_count", lambda: (1, "1 x Fake GPU"))
    text, _ = bench.run(s, lambda message: None)
    assert [device for device, *_ in launched] == ["cpu", "cpu"]
    assert "one GPU on this machine: GPU scaling row not measured (it needs 2 or more)." in text
