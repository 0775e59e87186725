"""Fine-tuning is not an image feature: a table run goes through the same engine (views from its modality)."""

import pytest

from ssl_core.finetune import FinetuneSettings, export_classifier, finetune_run, saved_finetune_results
from tests.tiny_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_table_run_fine_tunes_with_pseudo_labels_and_fixmatch(tmp_path):
    parent = train_tiny(
        tmp_path / "runs", "data.spec='table:wine'", "method.backbone=auto", "train.batch_size=32",
        "train.max_steps=4",
    )  # fmt: skip
    settings = FinetuneSettings(labels=5, epochs=3, seeds=(0, 1), pseudo_labels=True, fixmatch=True)
    report = finetune_run(parent, settings)
    rows = {r.variant: r for r in report.rows}
    assert set(rows) == {"fine-tune", "fine-tune (random init)", "linear probe", "pseudo-labels", "fixmatch"}
    assert all(r.n_labels == 15 and len(r.values) == 2 for r in rows.values())  # 5 of each of 3 cultivars
    assert rows["fine-tune"].accuracy > 1 / 3 + 0.2  # well above chance on held-out wines
    assert report.class_names and len(report.class_names) == 3
    assert {e["variant"] for e in saved_finetune_results(parent)} == set(rows)
    out = export_classifier(report.run_dir, tmp_path / "wine.pt")
    assert out.is_file()


def test_a_text_run_fine_tunes_its_transformer(tmp_path):
    from tests.eval.test_language import sentences

    texts, labels = sentences(240, seed=3)
    data = tmp_path / "sentences.csv"
    data.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in zip(texts, labels, strict=True)))
    parent = train_tiny(
        tmp_path / "runs", f"data.spec='text:{data}'", "data.tokenizer=wordpiece", "data.vocab_size=112",
        "data.length=16", "data.label_column=label", "method.name=simclr", "method.backbone=auto",
        "method.backbone_params={width = 32, layers = 1}", "train.max_steps=4", "train.batch_size=32",
    )  # fmt: skip
    report = finetune_run(parent, FinetuneSettings(labels=0.2, epochs=2, seeds=(0,), fixmatch=True))
    assert {r.variant for r in report.rows} == {
        "fine-tune",
        "fine-tune (random init)",
        "linear probe",
        "fixmatch",
    }
    assert all(0.0 <= r.accuracy <= 1.0 for r in report.rows)
    export_classifier(report.run_dir, tmp_path / "text.pt")  # token ids in, logits out
    assert (tmp_path / "text.pt").is_file()
