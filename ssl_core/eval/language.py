"""Language-model metrics of a text run: masked-token accuracy and perplexity, next-token perplexity, the
unigram model every language model must beat, nearest words, and a word-pair file's score.

Perplexity is exp(mean cross-entropy) over a set of target tokens: the hidden positions of held-out
texts (masked-token models, hidden with a fixed seed and shown as [MASK]) or every next token of held-out
texts, [SEP] included (next-token models). The unigram baseline scores the same targets with each
token's add-one-smoothed frequency in the training split, so the two numbers are comparable.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssl_core.data.tokenizer import CLS_ID, MASK_ID, PAD_ID, UNK_ID
from ssl_core.errors import UserError
from ssl_core.losses._precision import normalize
from ssl_core.methods._text_lm import (
    FIRST_WORD_ID,
    choose_positions,
    input_table,
    real_vocab,
    token_word,
    tokenizer_of,
)
from ssl_core.models.modes import eval_mode

EVAL_MASK_SEED = 0  # the held-out blanks are the same for every evaluation of every run
NEIGHBOUR_WORDS = 8
MAX_EVAL_TEXTS = 20_000
COMMON_WORDS, COMMON_VOCAB = 10, 100  # see frequent_word_ids
_WORD = re.compile(r"\w+")


# ---- token ids of a run's texts -------------------------------------------------------------------------
def encode_texts(method, texts: list[str]) -> torch.Tensor:
    """Texts -> ids (n, max_tokens) through the method's text adapter (the run's own tokenizer)."""
    return method.input_adapter.encode_texts(list(texts)).cpu()


def source_ids(method, source, indices: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """ids (n, max_tokens) of the samples `indices` of a text source, as training saw them."""
    parts = []
    for start in range(0, len(indices), batch_size):
        stored, _ = source.read(indices[start : start + batch_size])
        parts.append(method.prepare(stored.to(_device(method))).cpu())
    return torch.cat(parts) if parts else torch.zeros(0, 1, dtype=torch.long)


def _device(method) -> torch.device:
    return next(method.parameters()).device


def unigram_counts(ids: torch.Tensor, vocab: int) -> torch.Tensor:
    """Counts (vocab,) of every token a language model is asked for: words, [UNK] and [SEP]."""
    flat = ids[(ids != PAD_ID) & (ids != CLS_ID) & (ids != MASK_ID) & (ids < vocab)].reshape(-1)
    return torch.bincount(flat, minlength=vocab).double()[:vocab]


def unigram_perplexity(counts: torch.Tensor, targets: torch.Tensor, vocab: int | None = None) -> float:
    """Perplexity of `targets` under the add-one-smoothed unigram model of `counts` over the first `vocab`
    ids (the tokenizer's real vocabulary; default: every id counted)."""
    if targets.numel() == 0:
        return float("nan")
    counts = counts[: vocab or len(counts)].double()
    probs = (counts + 1.0) / (counts.sum() + len(counts))
    return float(torch.exp(-probs[targets.long()].log().mean()))


# ---- language-model scores ------------------------------------------------------------------------------
def lm_kind(method) -> str | None:
    """ "masked_token", "next_token" or None for a method without a language-model head."""
    if hasattr(method, "token_logits"):
        return "masked_token"
    if hasattr(method, "next_logits"):
        return "next_token"
    return None


@torch.no_grad()
def lm_scores(method, ids: torch.Tensor, counts: torch.Tensor, batch_size: int = 256) -> dict[str, Any]:
    """Perplexity, top-1 accuracy and the unigram perplexity of the same targets, for held-out ids."""
    kind = lm_kind(method)
    if kind is None:
        raise ValueError(f"{type(method).__name__} has no language-model head")
    device, nll, hits, targets = _device(method), 0.0, 0, []
    share = float(method.hparams.get("mask_share", 0.15))
    with eval_mode(method):
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size].to(device)
            if kind == "masked_token":
                g = torch.Generator().manual_seed(EVAL_MASK_SEED + start)
                where = choose_positions(batch.cpu(), share, g).to(device)
                logits, truth = method.token_logits(batch.masked_fill(where, MASK_ID)), batch
            else:
                logits, truth = method.next_logits(batch)[:, :-1], batch[:, 1:]
                where = truth != PAD_ID
            picked, wanted = logits[where].float(), truth[where]
            nll += float(F.cross_entropy(picked, wanted, reduction="sum")) if len(wanted) else 0.0
            hits += int((picked.argmax(dim=-1) == wanted).sum())
            targets.append(wanted.cpu())
    wanted = torch.cat(targets) if targets else torch.zeros(0, dtype=torch.long)
    n = int(wanted.numel())
    perplexity = math.exp(nll / n) if n else float("nan")
    unigram = unigram_perplexity(counts, wanted, real_vocab(method, len(counts)))
    return {
        "kind": kind,
        "perplexity": perplexity,
        "accuracy": hits / n if n else float("nan"),
        "tokens": n,
        "texts": int(len(ids)),
        "unigram_perplexity": unigram,
        "beats_unigram": bool(n and perplexity < unigram),
    }


# ---- word vectors ---------------------------------------------------------------------------------------
def word_table(method) -> torch.Tensor:
    """(V, D) word vectors: the backbone's input embedding (word2vec's input vectors)."""
    try:
        return input_table(method.backbone).weight.detach().float().cpu()
    except TypeError:
        raise UserError(
            f"The {getattr(method.backbone, 'name', 'chosen')} backbone has no word table to look words up in.",
            field="method.backbone",
        ) from None


def candidate_words(method, among: torch.Tensor | None = None) -> torch.Tensor:
    """Bool (V,): ids that may be listed as a neighbour: whole words of the tokenizer (seen in training,
    where `among` says which were)."""
    tokenizer = tokenizer_of(method)
    table = word_table(method)
    ok = torch.zeros(table.shape[0], dtype=torch.bool)
    starts = torch.as_tensor(np.asarray(tokenizer.word_starts[: table.shape[0]], dtype=bool))
    ok[: len(starts)] = starts
    ok[:FIRST_WORD_ID] = False
    ok[real_vocab(method, table.shape[0]) :] = False
    if among is not None:
        ok &= among[: len(ok)].bool().cpu()
    return ok


def word_space(method, among: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(vectors (V, D) centred, candidate mask (V,), centre (D,)): the word table minus the mean vector of
    the candidate words. Cosines are taken there: early in training every word shares one large direction,
    which makes all words look alike (cosine ~1); removing the common mean shows what sets words apart
    (Mu & Viswanath, All-but-the-Top, ICLR 2018)."""
    table, ok = word_table(method), candidate_words(method, among)
    centre = table[ok].mean(dim=0) if bool(ok.any()) else torch.zeros(table.shape[1])
    return table - centre, ok, centre


def neighbours_of(
    method, vector: torch.Tensor, k: int, exclude: list[int] = (), among: torch.Tensor | None = None
) -> list[list]:
    """[[word, cosine], ...]: the k words whose (centred) vectors point most nearly the way `vector` does."""
    tokenizer = tokenizer_of(method)
    space, ok, centre = word_space(method, among)
    sims = normalize(space) @ normalize((vector.float().cpu() - centre).view(1, -1)).flatten()
    ok[list(exclude)] = False
    sims = sims.masked_fill(~ok, float("-inf"))
    values, order = sims.topk(min(int(k), int(ok.sum())))
    return [
        [token_word(tokenizer, i), round(float(v), 3)]
        for v, i in zip(values.tolist(), order.tolist(), strict=True)
    ]


def neighbour_rows(method, word_ids: list[int], k: int = 5, among: torch.Tensor | None = None) -> list[dict]:
    """One "neighbours" text row per word id."""
    tokenizer, table = tokenizer_of(method), word_table(method)
    return [
        {
            "kind": "neighbours",
            "word": token_word(tokenizer, i),
            "top": neighbours_of(method, table[i], k, [i], among),
        }
        for i in word_ids
    ]


def word_ids_of(method, word: str, seen: torch.Tensor | None = None) -> list[int] | None:
    """The token ids a word is written with; None when it cannot be looked up (it has no tokens, holds
    [UNK], or a token of it never occurred in the training split per `seen`)."""
    ids = encode_texts(method, [word])[0]
    pieces = ids[ids >= FIRST_WORD_ID].tolist()
    if not pieces or bool((ids == UNK_ID).any()):
        return None
    if seen is not None and not all(bool(seen[i]) for i in pieces if i < len(seen)):
        return None
    return pieces


def word_vector(method, word: str, seen: torch.Tensor | None = None) -> torch.Tensor | None:
    """A word's vector: the mean of its tokens' vectors (one token for most words); None when missing."""
    pieces = word_ids_of(method, word, seen)
    return None if pieces is None else word_table(method)[pieces].mean(dim=0)


def frequent_word_ids(method, counts: torch.Tensor, n: int = NEIGHBOUR_WORDS) -> list[int]:
    """n frequent whole words (longer than one character) of the training counts. With a vocabulary of
    over COMMON_VOCAB such words, the COMMON_WORDS most frequent (the, of, and, ...) are passed over: their
    neighbours say little."""
    ranked = ranked_word_ids(method, counts, candidate_words(method))
    skip = COMMON_WORDS if len(ranked) > COMMON_VOCAB else 0
    return ranked[skip : skip + n]


def ranked_word_ids(method, counts: torch.Tensor, candidates: torch.Tensor) -> list[int]:
    """Ids of the whole words among `candidates` (bool (V,)) seen in the training counts, most frequent
    first. Single characters are left out: with a small vocabulary most spell rarer words piece by piece."""
    tokenizer = tokenizer_of(method)
    return [
        i
        for i in counts.argsort(descending=True).tolist()
        if counts[i] > 0 and i < len(candidates) and candidates[i] and len(token_word(tokenizer, i)) > 1
    ]


# ---- word-pair files ------------------------------------------------------------------------------------
def read_word_pairs(path: str | Path) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, str, str]]]:
    """(similarity pairs "w1 w2 score", analogies "a b c d") from a text file; '#' starts a comment."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Cannot read the word-pair file {path}: {exc}", path=str(path)) from None
    pairs, analogies = [], []
    for number, line in enumerate(lines, 1):
        fields = re.split(r"[\s,;]+", line.split("#", 1)[0].strip())
        if fields == [""]:
            continue
        if len(fields) == 3:
            try:
                pairs.append((fields[0], fields[1], float(fields[2])))
                continue
            except ValueError:
                pass
        elif len(fields) == 4:
            analogies.append((fields[0], fields[1], fields[2], fields[3]))
            continue
        raise UserError(
            f"{path}, line {number}: expected 'word1 word2 score' or an analogy 'a b c d' (a is to b as c is "
            f"to d); got {line.strip()!r}.",
            path=str(path),
        )
    if not pairs and not analogies:
        raise UserError(f"{path} holds no word pairs or analogies.", path=str(path))
    return pairs, analogies


def known_words(texts: list[str]) -> set[str]:
    """The words (lower-cased runs of letters and digits) of the training texts."""
    found: set[str] = set()
    for text in texts:
        found.update(_WORD.findall(text.lower()))
    return found


def word_pair_score(
    method, path: str | Path, seen: torch.Tensor | None = None, known: set[str] | None = None
) -> dict[str, Any]:
    """Spearman correlation of cosine similarities with the file's scores, and top-1 analogy accuracy
    (b - a + c nearest to d among the vocabulary's words, a, b and c left out); missing words counted.
    A word is missing when it cannot be looked up (`word_ids_of`) or, given `known` (the training text's
    words), does not occur in the training text (subword tokenizers spell any word, even unseen ones)."""
    from scipy.stats import spearmanr

    pairs, analogies = read_word_pairs(path)
    cache: dict[str, torch.Tensor | None] = {}

    def vec(w: str) -> torch.Tensor | None:
        if w not in cache:
            unseen = known is not None and w.lower() not in known
            cache[w] = None if unseen else word_vector(method, w, seen)
        return cache[w]

    space, ok, centre = word_space(method, seen)
    table = normalize(space)
    sims, gold = [], []
    for a, b, score in pairs:
        va, vb = vec(a), vec(b)
        if va is not None and vb is not None:
            sims.append(float(F.cosine_similarity(va - centre, vb - centre, dim=0)))
            gold.append(score)
    rho = float(spearmanr(sims, gold).statistic) if len(sims) >= 2 else None
    hits = tried = 0
    for a, b, c, d in analogies:
        vs = [vec(w) for w in (a, b, c, d)]
        if any(v is None for v in vs):
            continue
        tried += 1
        target = normalize((vs[1] - vs[0] + vs[2] - centre).view(1, -1)).flatten()
        sims_all = (table @ target).masked_fill(~ok, float("-inf"))
        for w in (a, b, c):
            ids = word_ids_of(method, w)
            if ids and len(ids) == 1:
                sims_all[ids[0]] = float("-inf")
        best = float(sims_all.max())
        d_score = float(F.cosine_similarity(vs[3] - centre, target, dim=0))
        hits += int(d_score >= best - 1e-6)
    missing = sorted(w for w, v in cache.items() if v is None)
    return {
        "file": str(path),
        "pairs": len(pairs),
        "pairs_scored": len(sims),
        "spearman": None if rho is None or math.isnan(rho) else rho,
        "analogies": len(analogies),
        "analogies_scored": tried,
        "analogy_accuracy": hits / tried if tried else None,
        "missing_words": missing,
    }


# ---- a run's language section ---------------------------------------------------------------------------
def run_language_metrics(run, word_pairs: str | Path | None = None) -> dict[str, Any] | None:
    """The language section of a text run's evaluation (None for other data)."""
    method = run.method
    if method.modality.name != "text":
        return None
    if word_pairs is not None and not Path(word_pairs).is_file():
        raise UserError(f"The word-pair file {word_pairs} does not exist.", path=str(word_pairs))
    vocab = input_table(method.backbone).num_embeddings if hasattr(method, "backbone") else 0
    counts = unigram_counts(source_ids(method, run.source, run.train_idx), vocab)
    seen = counts > 0
    result: dict[str, Any] = {"train_tokens": int(counts.sum())}
    if lm_kind(method) and len(run.val_idx):
        held_out = source_ids(method, run.source, run.val_idx[:MAX_EVAL_TEXTS])
        result["lm"] = lm_scores(method, held_out, counts)
    word_ids = frequent_word_ids(method, counts)
    result["neighbours"] = neighbour_rows(method, word_ids, k=5, among=seen)
    if word_pairs is not None:
        from ssl_core.modalities.text import training_texts

        known = known_words(training_texts(run.source, run.train_idx))
        result["word_pairs"] = word_pair_score(method, word_pairs, seen, known)
    return result


def format_language(d: dict[str, Any] | None) -> str:
    """The language section as text ("" when there is none)."""
    if not d:
        return ""
    lines = ["Language model (held-out text)"]
    lm = d.get("lm")
    if lm:
        what = "masked-token" if lm["kind"] == "masked_token" else "next-token"
        ratio = lm["unigram_perplexity"] / lm["perplexity"] if lm["perplexity"] else float("nan")
        lines.append(
            f"  {what} perplexity {lm['perplexity']:.2f} vs {lm['unigram_perplexity']:.2f} for the unigram "
            f"model (word frequencies of the training text): {ratio:.1f}x "
            + ("lower" if lm["beats_unigram"] else "— not better than word frequencies yet")
        )
        lines.append(
            f"  {what} accuracy {lm['accuracy']:.3f} (top-1 over {lm['tokens']:,} "
            f"{'hidden' if lm['kind'] == 'masked_token' else 'next'} tokens of {lm['texts']:,} texts)"
        )
    else:
        lines.append("  (this method has no word-guessing head: no perplexity)")
    for row in d.get("neighbours", [])[:NEIGHBOUR_WORDS]:
        near = ", ".join(f"{w} {s:.2f}" for w, s in row["top"])
        lines.append(f"  nearest to {row['word']!r}: {near}")
    pairs = d.get("word_pairs")
    if pairs:
        rho = pairs["spearman"]
        lines.append(
            f"  word pairs ({pairs['file']}): Spearman {'-' if rho is None else f'{rho:.3f}'} over "
            f"{pairs['pairs_scored']} of {pairs['pairs']} pairs"
            + (
                f"; analogies {pairs['analogy_accuracy']:.3f} top-1 over {pairs['analogies_scored']} of "
                f"{pairs['analogies']}"
                if pairs["analogy_accuracy"] is not None
                else ""
            )
        )
        if pairs["missing_words"]:
            lines.append(f"  words not in the training text: {', '.join(pairs['missing_words'])}")
    return "\n".join(lines)
