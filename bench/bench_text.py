"""Text throughput: masked-token training tokens/s, the engine's data path against tokenising per sample.

(a) engine:    `ssl_core.train.trainer.Trainer` on `text:fortunes` (the Debian package's quotes, read from
               /usr/share/games/fortunes) with its defaults for masked-token modelling: each quote stored
               once as zero-padded UTF-8 bytes, resident on the device; the method's input adapter
               (`TextAdapter`) tokenises whole batches in one call of the Rust tokenizer and remembers each
               row's ids, so a row is tokenised once per run; BERT masking on the device; the
               text_transformer backbone; bf16 autocast where the CPU has native bf16; AdamW + gradient
               clipping. Timing starts after the warm-up steps; setup (data, tokenizer training, model) is
               not timed. The timed steps come from the first epoch, so nearly every row is tokenised
               inside the timed window (no help from the memo).
(b) reference: a torch DataLoader over `PerSampleTokens`, the per-sample Dataset text training code usually
               has: `__getitem__` encodes one string with the same trained Hugging Face tokenizer, adds
               [CLS]/[SEP], pads to the maximum length and returns an int64 tensor; default collate; 0 and 2
               worker processes (the faster is kept, and named). Its batches feed the same method modules
               (built by `build_components` from the same config: same initial weights, same tokenizer)
               through `method.training_step` in plain float32 with AdamW + gradient clipping. Its ids are
               the engine's ids exactly (checked on the first 512 quotes).

tokens/s counts real tokens ([CLS] and [SEP] included, padding not): sequences/s times the mean length of
the corpus' tokenised quotes, the same for both pipelines. A second table times the data path alone
(tokenised batches per second, no model), and a third the model precision against the data path.

    python bench/bench_text.py                # full run (~4 min on 2 cores), writes RESULTS.md
    python bench/bench_text.py --threads 1    # one torch thread in the training process
    python bench/bench_text.py --quick        # one tiny iteration on a generated corpus, no results file
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from _common import (
    Target,
    add_common_args,
    apply_threads,
    command_line,
    machine_description,
    now,
    publish,
    ratio,
    table,
)
from _common import rate_text as _f
from _common import sync as _sync
from _trainer_timing import PREFETCH, loader_warmup, trainer_rate
from torch.utils.data import DataLoader, Dataset

from ssl_core.config import RunConfig
from ssl_core.data.base import DataSource
from ssl_core.data.tokenizer import CLS_ID, PAD_ID, SEP_ID
from ssl_core.device import select_device
from ssl_core.methods.base import StepContext
from ssl_core.train.builder import build_components, open_config_source
from ssl_core.train.optim import resolve_hyper
from ssl_core.train.perf import training_autocast_dtype

SECTION_ID = "bench_text"
METHOD = "masked_token"
TARGET_RATIO = 1.5  # the engine's data path must not be what holds text training back
DEMO_SPEC = "text:fortunes"


@dataclass(frozen=True)
class Case:
    method: str
    backbone: str
    batch_size: int
    warmup: int
    steps: int


@dataclass
class Settings:
    device: torch.device
    spec: str
    max_tokens: int
    vocab_size: int
    workers: tuple[int, ...]
    seed: int
    quick: bool
    repeats: int
    batch_size: int
    warmup: int
    steps: int
    cases: tuple[tuple[str, str], ...]
    command: str = ""
    threads: int = 1
    engine_threads: list[int] = field(default_factory=list)


# ---- data -------------------------------------------------------------------------------------------------
def generated_corpus(folder: Path, lines: int, seed: int) -> str:
    """A small corpus of template sentences (for --quick, and machines without the fortunes package)."""
    rng = random.Random(seed)
    who = ["the cat", "a dog", "my friend", "the teacher", "a child", "the old man", "our neighbour"]
    does = ["reads", "writes", "finds", "loves", "hates", "paints", "forgets"]
    what = ["a book", "the letter", "an apple", "the song", "a story", "the answer", "a poem"]
    when = ["today", "at night", "every morning", "in the garden", "after school", "before dinner"]
    path = folder / "corpus.txt"
    path.write_text(
        "\n".join(
            f"{rng.choice(who)} {rng.choice(does)} {rng.choice(what)} {rng.choice(when)}."
            for _ in range(lines)
        )
        + "\n",
        encoding="utf-8",
    )
    return f"text:{path}"


def config_for(case: Case, s: Settings, runs_dir: Path, **train) -> RunConfig:
    cfg = RunConfig()
    cfg.data.spec = s.spec
    cfg.data.val_fraction = 0.0
    cfg.data.length = s.max_tokens
    cfg.data.vocab_size = s.vocab_size
    cfg.method.name = case.method
    cfg.method.backbone = case.backbone
    cfg.train.batch_size = case.batch_size
    cfg.train.max_steps = case.warmup + case.steps
    cfg.train.device = str(s.device)
    cfg.train.seed = s.seed
    cfg.runs_dir = str(runs_dir)
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.validate()
    return cfg


def components(case: Case, source: DataSource, s: Settings):
    """The method the Trainer builds (same seed, same weights, same tokenizer), its hyperparameters, config."""
    cfg = config_for(case, s, Path("unused"))
    parts = build_components(cfg, source=source)
    hyper = resolve_hyper(cfg, parts.spec, len(parts.train_idx))
    return parts, hyper, cfg


class PerSampleTokens(Dataset):
    """One text per item, tokenised in `__getitem__` with a Hugging Face tokenizer: [CLS] ids [SEP] + pad."""

    def __init__(self, texts: list[str], tokenizer_json: str, max_tokens: int):
        from tokenizers import Tokenizer

        self.texts = texts
        self.tokenizer = Tokenizer.from_str(json.loads(tokenizer_json)["tokenizer"])
        self.max_tokens = max_tokens

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> torch.Tensor:
        ids = self.tokenizer.encode(self.texts[i], add_special_tokens=False).ids[: self.max_tokens - 2]
        # What the engine's tokenizer does too: a typed special token inside a text becomes [UNK].
        ids = [1 if t in (PAD_ID, CLS_ID, SEP_ID) else t for t in ids]
        row = [CLS_ID, *ids, SEP_ID]
        return torch.tensor(row + [PAD_ID] * (self.max_tokens - len(row)), dtype=torch.long)


def reference_batches(dataset: PerSampleTokens, batch_size: int, workers: int, s: Settings) -> Iterator:
    cuda = s.device.type == "cuda"
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH if workers > 0 else None,
        generator=torch.Generator().manual_seed(s.seed),
    )
    while True:
        for ids in loader:
            yield ids.to(s.device, non_blocking=cuda)


def check_same_ids(parts, dataset: PerSampleTokens, count: int = 512) -> int:
    """Rows (of the first `count`) where the reference's ids differ from the engine's adapter; raises if any."""
    count = min(count, len(dataset))
    stored, _ = parts.source.read(torch.arange(count))
    with torch.no_grad():
        engine = parts.method.prepare(stored).cpu()
    reference = torch.stack([dataset[i] for i in range(count)])
    differ = int((engine != reference).any(dim=1).sum())
    if differ:
        raise RuntimeError(f"the reference's ids differ from the engine's on {differ} of {count} texts")
    return count


def mean_tokens(parts, s: Settings) -> float:
    """Mean real tokens per sequence ([CLS]/[SEP] included) over the corpus, as the engine tokenises it."""
    n = len(parts.source)
    total = 0
    with torch.no_grad():
        for start in range(0, n, 4096):
            stored, _ = parts.source.read(torch.arange(start, min(n, start + 4096)))
            total += int((parts.method.prepare(stored) != PAD_ID).sum())
    return total / max(1, n)


# ---- (a) the engine and (b) the reference -----------------------------------------------------------------
def engine_rate(case: Case, s: Settings, *, amp: bool = True) -> float:
    """Sequences per second of the Trainer's steps after the warm-up (from StepEnded time stamps)."""
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as runs:
        cfg = config_for(case, s, Path(runs), amp=amp)
        return trainer_rate(
            cfg,
            s.device,
            case.warmup,
            case.steps,
            case.batch_size,
            threads_used=s.engine_threads,
            what=f"engine run of {case}",
        )


@dataclass
class ReferenceResult:
    sequences_per_sec: float
    waiting: float  # share of the timed window spent waiting for the DataLoader
    workers: int


def reference_rate(
    case: Case, source: DataSource, texts: list[str], s: Settings, workers: int, *, bf16: bool = False
) -> ReferenceResult:
    parts, hyper, cfg = components(case, source, s)
    method = parts.method.to(s.device).train()
    dataset = PerSampleTokens(texts, method.input_adapter.tokenizer.to_json(), s.max_tokens)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=hyper.lr, weight_decay=hyper.weight_decay)
    dtype = training_autocast_dtype(s.device) if bf16 else None
    generator = torch.Generator(device=s.device).manual_seed(s.seed)
    batches = reference_batches(dataset, case.batch_size, workers, s)
    case = loader_warmup(case, workers)
    total = case.warmup + case.steps
    waited = start = 0.0
    try:
        for step in range(total):
            if step == case.warmup:
                _sync(s.device)
                start, waited = time.perf_counter(), 0.0
            before = time.perf_counter()
            ids = next(batches)
            waited += time.perf_counter() - before
            ctx = StepContext(step=step, total_steps=total, epoch=0, generator=generator)
            with torch.autocast(s.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                loss = method.training_step(ids, ctx).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
            optimizer.step()
        _sync(s.device)
        seconds = time.perf_counter() - start
    finally:
        batches.close()  # drops the DataLoader and so stops its workers
    return ReferenceResult(case.steps * case.batch_size / seconds, waited / seconds, workers)


# ---- the data path alone ------------------------------------------------------------------------------------
def reference_tokens_rate(dataset: PerSampleTokens, case: Case, s: Settings, workers: int) -> float:
    batches = reference_batches(dataset, case.batch_size, workers, s)
    warm = loader_warmup(case, workers)
    try:
        for _ in range(warm.warmup):
            next(batches)
        start = time.perf_counter()
        for _ in range(warm.steps):
            next(batches)
        return warm.steps * case.batch_size / (time.perf_counter() - start)
    finally:
        batches.close()


def engine_tokens_rate(parts, case: Case, s: Settings, *, warm_memo: bool) -> float:
    """Batches through the engine's resident bytes + TextAdapter; cold: every row new to the memo."""
    adapter = parts.method.input_adapter
    stored, _ = parts.source.read(torch.arange(len(parts.source)))
    stored = stored.to(s.device)
    g = torch.Generator().manual_seed(s.seed)
    order = torch.randperm(len(stored), generator=g)
    need = (case.warmup + case.steps) * case.batch_size
    order = order.repeat(need // len(order) + 1)[:need] if warm_memo else order
    adapter.forget()
    if warm_memo:
        adapter(stored)
    batches = iter(torch.split(order, case.batch_size))
    steps = min(case.steps, len(order) // case.batch_size - case.warmup)
    with torch.no_grad():
        for _ in range(case.warmup):
            adapter(stored.index_select(0, next(batches).to(s.device)))
        _sync(s.device)
        start = time.perf_counter()
        for _ in range(steps):
            adapter(stored.index_select(0, next(batches).to(s.device)))
        _sync(s.device)
    adapter.forget()
    return steps * case.batch_size / (time.perf_counter() - start)


# ---- the benchmark ------------------------------------------------------------------------------------------
@dataclass
class Row:
    case: Case
    references: dict[int, ReferenceResult]
    engine: float

    @property
    def best_reference(self) -> ReferenceResult:
        return max(self.references.values(), key=lambda r: r.sequences_per_sec)

    @property
    def speedup(self) -> float:
        return self.engine / self.best_reference.sequences_per_sec


def run(s: Settings, log: Callable[[str], None]) -> tuple[str, list[Target]]:
    cases = [Case(m, b, s.batch_size, s.warmup, s.steps) for m, b in s.cases]
    with tempfile.TemporaryDirectory(prefix="bench-text-") as tmp:
        if s.spec == "generated":
            s.spec = generated_corpus(Path(tmp), 400 if s.quick else 20_000, s.seed)
        source = open_config_source(config_for(cases[0], s, Path(tmp) / "unused"))
        texts = source.texts(list(range(len(source))))
        parts, _, _ = components(cases[0], source, s)
        checked = check_same_ids(
            parts, PerSampleTokens(texts, parts.method.input_adapter.tokenizer.to_json(), s.max_tokens)
        )
        per_sequence = mean_tokens(parts, s)
        log(f"{len(source):,} texts, {per_sequence:.1f} tokens per sequence; ids agree on {checked} texts")

        # 1. engine vs reference, alternating, best of `repeats` (other work only ever slows a run down).
        rows = []
        for case in cases:
            refs: dict[int, list[ReferenceResult]] = {w: [] for w in s.workers}
            engs = []
            for _ in range(s.repeats):
                for w in s.workers:
                    refs[w].append(reference_rate(case, source, texts, s, w))
                engs.append(engine_rate(case, s))
            row = Row(
                case, {w: max(r, key=lambda x: x.sequences_per_sec) for w, r in refs.items()}, max(engs)
            )
            rows.append(row)
            log(
                f"{case.method} {case.backbone}: reference "
                + ", ".join(f"{w} workers {r.sequences_per_sec:.0f}" for w, r in row.references.items())
                + f"; engine {row.engine:.0f} sequences/s ({row.speedup:.2f}x)"
            )

        # 2. the data path alone (no model).
        base = rows[0]
        dataset = PerSampleTokens(texts, parts.method.input_adapter.tokenizer.to_json(), s.max_tokens)
        data_case = replace(base.case, steps=base.case.steps * 5)
        data_rates = {
            f"reference: per-sample tokenising + DataLoader, {w} workers": reference_tokens_rate(
                dataset, data_case, s, w
            )
            for w in s.workers
        }
        best_ref = max(data_rates.values())
        data_rates["engine: resident bytes + TextAdapter, first epoch (every row new)"] = engine_tokens_rate(
            parts, data_case, s, warm_memo=False
        )
        data_rates["engine: later epochs (ids remembered)"] = engine_tokens_rate(
            parts, data_case, s, warm_memo=True
        )
        data_rows = [
            [name, _f(v), _f(v * per_sequence), ratio(v, best_ref)] for name, v in data_rates.items()
        ]
        log("data path done")

        # 3. precision of the model step against the data path.
        workers = base.best_reference.workers
        precision = training_autocast_dtype(s.device)
        label = f"{str(precision).removeprefix('torch.')} autocast" if precision else ""
        variants: list[tuple[str, Callable[[], float]]] = [
            (f"reference: per-sample tokenising + DataLoader ({workers} workers), float32",
             lambda: reference_rate(base.case, source, texts, s, workers).sequences_per_sec),
        ]  # fmt: skip
        if precision is not None:
            variants.append(
                (f"reference + the engine's model precision ({label})",
                 lambda: reference_rate(base.case, source, texts, s, workers, bf16=True).sequences_per_sec)
            )  # fmt: skip
            variants.append(
                ("engine, float32 (train.amp = false)", lambda: engine_rate(base.case, s, amp=False))
            )
        variants.append((f"engine defaults ({label or 'float32'})", lambda: engine_rate(base.case, s)))
        best = dict.fromkeys((name for name, _ in variants), 0.0)
        for _ in range(1 if s.quick else 2):
            for name, measure in variants:
                best[name] = max(best[name], measure())
        ref0 = next(iter(best.values()))
        ablation_rows = [[name, _f(v), _f(v * per_sequence), ratio(v, ref0)] for name, v in best.items()]
        log("ablation done")
        corpus = f"{s.spec} ({len(source):,} texts, {per_sequence:.1f} tokens per sequence on average)"

    targets = []
    for r in rows:
        ref = r.best_reference
        targets.append(
            Target(
                "text training throughput",
                f"{r.case.method} {r.case.backbone}: engine >= {TARGET_RATIO}x per-sample tokenising pipeline",
                f"{r.speedup:.2f}x ({_f(r.engine * per_sequence)} vs {_f(ref.sequences_per_sec * per_sequence)} "
                f"tokens/s, reference with {ref.workers} workers)",
                r.speedup >= TARGET_RATIO,
                "",
            )
        )
    return render(s, corpus, per_sequence, rows, data_rows, ablation_rows), targets


def render(s: Settings, corpus: str, per_sequence: float, rows: list[Row], data_rows, ablation_rows) -> str:
    threads = sorted(set(s.engine_threads)) or [s.threads]
    header = ["method", "backbone", "batch"]
    header += [f"reference tokens/s, {w} workers" for w in s.workers]
    header += ["reference waiting", "engine tokens/s", "engine vs best reference"]
    body = []
    for r in rows:
        best = r.best_reference
        body.append(
            [r.case.method, r.case.backbone, r.case.batch_size]
            + [_f(r.references[w].sequences_per_sec * per_sequence) for w in s.workers]
            + [f"{best.waiting:.0%}", _f(r.engine * per_sequence), f"**{r.speedup:.2f}x**"]
        )
    lines = [
        f"## Text throughput: masked-token training on {s.spec}, max {s.max_tokens} tokens",
        "",
        f"_{now()}; {machine_description(s.device)}; torch threads: engine {threads}, reference {s.threads}._",
        "",
        f"`{s.command}`. Corpus: {corpus}; byte-level BPE of {s.vocab_size:,} tokens trained on it; "
        f"{s.warmup} warm-up and {s.steps} timed steps per run, best of {s.repeats}, reference and engine "
        "alternating. tokens/s = sequences/s x the mean real tokens per sequence (padding not counted).",
        "",
        table(header, body),
        "",
        "### The data path alone (tokenised batches, no model)",
        "",
        table(["pipeline", "sequences/s", "tokens/s", "vs best reference"], data_rows, "lrrr"),
        "",
        "### Where the gain comes from (first row): model precision against the data path",
        "",
        table(["pipeline", "sequences/s", "tokens/s", "vs reference"], ablation_rows, "lrrr"),
    ]
    return "\n".join(lines).rstrip("\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        default=DEMO_SPEC,
        help=f"text data spec, or 'generated' for template sentences (default {DEMO_SPEC})",
    )
    p.add_argument("--max-tokens", type=int, default=64, help="tokens per sequence (default 64)")
    p.add_argument("--vocab-size", type=int, default=2000, help="BPE vocabulary (default 2000)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of both pipelines (default 64)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per run (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="reference worker counts (default 0 2)"
    )
    p.add_argument(
        "--cases",
        nargs="+",
        default=["masked_token:text_transformer", "next_token:text_gpt"],
        help="METHOD:BACKBONE rows (default masked_token:text_transformer next_token:text_gpt)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="best of this many runs per row (default 2)")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.warmup < 1 or args.steps < 1 or args.repeats < 1:
        raise SystemExit("--warmup, --steps and --repeats must be at least 1")
    apply_threads(args)
    quick = args.quick
    cases = tuple(tuple(c.split(":", 1)) for c in args.cases)
    if any(len(c) != 2 for c in cases):
        raise SystemExit("--cases takes METHOD:BACKBONE pairs, e.g. masked_token:text_transformer")
    s = Settings(
        device=select_device(args.device),
        spec="generated" if quick else args.data,
        max_tokens=16 if quick else args.max_tokens,
        vocab_size=300 if quick else args.vocab_size,
        workers=tuple(dict.fromkeys(args.workers)),
        seed=args.seed,
        quick=quick,
        repeats=1 if quick else args.repeats,
        batch_size=16 if quick else args.batch_size,
        warmup=1 if quick else args.warmup,
        steps=2 if quick else args.steps,
        cases=cases,
        threads=torch.get_num_threads(),
    )
    s.command = command_line("bench_text.py", argv)
    body, targets = run(s, lambda m: print(m, flush=True))
    publish(args, SECTION_ID, body, targets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
