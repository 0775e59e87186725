"""The report as one HTML file: inline CSS that reflows on a phone, every picture a data URI, no script
and nothing fetched from the network. Jinja2 (which torch already brings) escapes every text."""

from __future__ import annotations

from datetime import datetime, timezone

from jinja2 import Environment, StrictUndefined

from ssl_core import __version__
from ssl_core.report.facts import RunFacts
from ssl_core.report.sections import efficiency_chart, loss_chart, percent, run_section

CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d1d1f;background:#f4f5f7}
main{max-width:980px;margin:0 auto;padding:16px}
header h1{font-size:1.6rem;margin:.2em 0}
h2{font-size:1.25rem;margin:1.6em 0 .5em;border-bottom:2px solid #dfe3e8;padding-bottom:.2em}
section.card>h2:first-child{margin-top:.3em}
.previews{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,430px),1fr));gap:4px 18px}
img.chart{width:100%;max-width:760px}
.previews.wide{grid-template-columns:1fr}
h3{font-size:1.05rem;margin:1.2em 0 .4em}
section.card{background:#fff;border-radius:10px;padding:12px 16px;margin:14px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.muted{color:#5f6368;font-size:.9rem}
.verdict{font-size:1.15rem;background:#eef6ee;border-left:6px solid #2ca02c;padding:10px 14px;border-radius:6px}
.verdict.loses{background:#fdf0ef;border-color:#d62728}.verdict.ties{background:#f3f3f3;border-color:#888}
.notice{background:#fff8e1;border-left:6px solid #f0ad00;padding:10px 14px;border-radius:6px}
.numbers{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:10px 0}
.number{background:#f7f9fb;border-radius:8px;padding:8px 10px}
.number b{display:block;font-size:1.5rem}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
img{max-width:100%;height:auto;display:block}
img.pixels{image-rendering:pixelated}
figure{margin:8px 0}figcaption{font-size:.9rem;color:#5f6368;margin-top:4px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{font-weight:600;background:#fafbfc}
table.setup th{width:9em}
.preview th{width:7em;font-weight:500}
code{background:#f0f1f3;padding:1px 4px;border-radius:4px;font-size:.9em;word-break:break-all}
footer{margin:24px 0;color:#5f6368;font-size:.85rem}
@media (max-width:700px){main{padding:8px}.grid2{grid-template-columns:1fr}header h1{font-size:1.3rem}
 section.card{padding:10px}table{font-size:.85rem}.number b{font-size:1.25rem}}
@media print{body{background:#fff}section.card{box-shadow:none;break-inside:avoid}}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css|safe }}</style>
</head>
<body>
<main>
<header>
<h1>{{ title }}</h1>
<p class="muted">Made by SSL Workbench {{ version }} on {{ created }}. Everything is in this one file: it opens
without the workbench or a network.</p>
</header>
{% if comparison %}
<section class="card" id="comparison">
<h2>The two runs side by side</h2>
<div class="scroll"><table class="compare">
<tr><th></th>{% for s in sections %}<th>Run {{ s.label }}: {{ s.facts.run_id }}</th>{% endfor %}</tr>
{% for row in comparison %}<tr><th>{{ row.what }}</th>{% for v in row["values"] %}<td data-key="{{ row.key }}-{{ loop.index0 }}">{{ v }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% if data_notice %}<p class="notice" data-key="different-data">{{ data_notice }}</p>{% endif %}
{% if head_to_head[0] %}<p class="verdict {{ head_to_head[1] }}" data-key="head-to-head"><b>Head to head:</b> {{ head_to_head[0] }}</p>{% endif %}
{% for s in sections %}{% if s.verdict %}<p class="verdict {{ s.facts.verdict.outcome }}"><b>Run {{ s.label }}:</b> {{ s.verdict }}</p>{% endif %}{% endfor %}
{% if loss_image %}<figure><img src="{{ loss_image }}" class="chart" alt="Training loss of both runs per step"><figcaption>Training loss of both runs, each divided by its value at the start: losses of different methods are on different scales, so their shapes are what compare.</figcaption></figure>{% endif %}
{% if efficiency_image %}<figure><img src="{{ efficiency_image }}" class="chart" alt="Label efficiency of both runs"><figcaption>Linear probe accuracy on held-out samples against how many labels it was fitted on: both runs' features{% if not data_notice %}, and run A's baselines (dashed){% endif %}.</figcaption></figure>{% endif %}
</section>
{% endif %}
{% for s in sections %}
<section class="card run" id="run-{{ loop.index }}">
<h2>{% if s.label %}Run {{ s.label }}: {{ s.facts.run_id }}{% else %}Summary{% endif %}</h2>
{% if s.verdict %}<p class="verdict {{ s.facts.verdict.outcome }}" data-key="verdict">{{ s.verdict }}</p>{% endif %}
{% for problem in s.facts.problems %}<p class="notice">{{ problem }}</p>{% endfor %}
{% if s.not_evaluated and not s.facts.problems %}<p class="notice">{{ s.not_evaluated }}</p>{% endif %}
<div class="numbers">{% for n in s.numbers %}<div class="number"><b data-key="{{ n.key }}">{{ n.value }}</b>{{ n.label }}</div>{% endfor %}</div>
<h3>How it was set up</h3>
<div class="scroll"><table class="setup">{% for what, words in s.config %}<tr><th>{{ what }}</th><td>{{ words }}</td></tr>{% endfor %}</table></div>
{% if not comparison and loss_image %}<h3>Training loss</h3>
<figure><img src="{{ loss_image }}" class="chart" alt="Training loss per step"><figcaption>The loss the method minimised, step by step. It should fall and level off.</figcaption></figure>{% endif %}
{% if s.previews %}<h3>What the network saw and made, through training</h3>
<p class="muted">{{ s.preview_words }}</p>
<div class="previews{% if s.previews[0].payload != 'image_grid' %} wide{% endif %}">{% for p in s.previews %}<figure class="preview"><figcaption><b>{{ p.title }}</b></figcaption>
<div class="scroll"><table>{% for row in p.rows %}{% if row.image %}<tr><th>{{ row.name }}</th><td><img class="pixels" src="{{ row.image }}" alt="{{ row.name }} at {{ p.title }}"></td></tr>{% else %}<tr>{% for c in row.columns %}<th>{{ c }}</th>{% endfor %}</tr>{% for cells in row.cells %}<tr>{% for c in cells %}{% if loop.first %}<th>{{ c }}</th>{% else %}<td>{{ c }}</td>{% endif %}{% endfor %}</tr>{% endfor %}{% endif %}{% endfor %}</table></div>
</figure>{% endfor %}</div>{% endif %}
{% if s.efficiency %}<h3>How much a few labels buy</h3>
{% if not comparison and efficiency_image %}<figure><img src="{{ efficiency_image }}" class="chart" alt="Label efficiency chart"><figcaption>Linear probe accuracy on held-out samples against how many labels it was fitted on. Dashed: the same network with random weights, and the raw input. {{ s.facts.verdict.error_bars if s.facts.verdict else "" }}</figcaption></figure>{% endif %}
{% for title, table in (("Linear probe accuracy (held-out)", s.efficiency), ("kNN accuracy (held-out)", s.knn_efficiency)) %}
<div class="scroll"><table class="efficiency"><caption class="muted">{{ title }}</caption><tr>{% for h in table.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for name, cells in table.rows %}<tr><th>{{ name }}</th>{% for c in cells %}<td data-key="{{ c.key }}">{{ c.text }}</td>{% endfor %}</tr>{% endfor %}</table></div>
{% endfor %}{% endif %}
<div class="grid2">
<div><h3>The embedding map</h3>
{% if s.map_image %}<figure><img src="{{ s.map_image }}" alt="Embedding map coloured by class"></figure>{% endif %}
<p class="muted">{{ s.map_words }}</p></div>
{% if s.confusion_image %}<div><h3>Which classes get confused</h3>
<figure><img src="{{ s.confusion_image }}" alt="Confusion matrix of the linear probe"><figcaption>Linear probe with all labels, on held-out samples: rows are the true class, columns the predicted one; darker cells hold more of their row.</figcaption></figure>
<p class="muted">Per class: {% for name, acc in s.per_class %}{{ name }} {{ acc }}{% if not loop.last %}, {% endif %}{% endfor %}</p></div>{% endif %}
</div>
<p class="muted">Run folder: <code>{{ s.facts.run_dir }}</code></p>
</section>
{% endfor %}
<footer>Accuracies are of offline probes on frozen features: a linear probe (logistic regression) and a kNN
classifier fitted on the training split's labels and scored on held-out samples the network never trained on.</footer>
</main>
</body>
</html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=False)


def _comparison_rows(sections) -> list[dict]:
    def fewest(s):
        n = next((n for n in s.numbers if n.key.startswith("probe-fewest")), None)
        return f"{n.value} with {n.label.split('with ', 1)[-1]}" if n else "–"

    def row(what, key, fn):
        return {"what": what, "key": key, "values": [fn(s) for s in sections]}

    return [
        row("Method", "method", lambda s: s.config[0][1].split(":")[0]),
        row("Data", "data", lambda s: s.facts.config.data.spec),
        row("Steps", "steps", lambda s: f"{s.facts.losses[-1][0] if s.facts.losses else 0:,}"),
        row("Final loss", "final-loss", lambda s: f"{s.facts.losses[-1][1]:.4f}" if s.facts.losses else "–"),
        row("Probe, fewest labels", "probe-fewest", fewest),
        row(
            "Probe, all labels",
            "probe-all",
            lambda s: percent(s.facts.pretrained["probe"]["accuracy"]) if s.facts.pretrained else "–",
        ),
        row("Machine", "machine", lambda s: dict(s.config).get("Machine", "")),
        row("Time taken", "time", lambda s: dict(s.config).get("Time taken", "")),
    ]


def different_data(sections) -> str:
    """A notice when the two runs were trained on different data (their accuracies do not compare)."""
    specs = [s.facts.config.data.spec for s in sections]
    if len(specs) < 2 or specs[0] == specs[1]:
        return ""
    return (
        f"The two runs learned from different data ({specs[0]} and {specs[1]}): their accuracies are "
        "each measured on their own data, so they do not say which method is better."
    )


def head_to_head(sections) -> tuple[str, str]:
    """Which run's features do better with few labels, in one sentence (ssl_core.eval.race_verdict), and
    the outcome ("wins", "ties", "empty")."""
    from ssl_core.eval.race_verdict import lane_scores, race_verdict

    if not all(s.facts.evaluation for s in sections) or different_data(sections):
        return "", "empty"
    titles = [s.config[0][1].split(":")[0] for s in sections]
    if titles[0] == titles[1]:
        titles = ["run A", "run B"]
    else:
        titles = [f"{t} (run {s.label})" for t, s in zip(titles, sections, strict=True)]
    lanes = [lane_scores(s.facts.evaluation, t) for s, t in zip(sections, titles, strict=True)]
    said = race_verdict(*lanes)
    return said.text, said.outcome


def _loss_labels(sections) -> list[str]:
    return [f"{s.label} ({s.config[0][1].split(':')[0]})" for s in sections]


def render_html(runs: list[RunFacts]) -> str:
    """The report of one run, or the comparison of two, as an HTML document."""
    labels = ["A", "B"] if len(runs) == 2 else [""]
    sections = [run_section(facts, label) for facts, label in zip(runs, labels, strict=True)]
    if len(runs) == 2:
        title = f"Comparison: {runs[0].run_id} and {runs[1].run_id}"
        chart_labels = ["A: ", "B: "]
    else:
        title = f"Run report: {runs[0].run_id}"
        chart_labels = [""]
    return _ENV.from_string(TEMPLATE).render(
        title=title,
        css=CSS,
        version=__version__,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        comparison=_comparison_rows(sections) if len(runs) == 2 else None,
        head_to_head=head_to_head(sections) if len(runs) == 2 else ("", "empty"),
        data_notice=different_data(sections),
        loss_image=loss_chart(runs, _loss_labels(sections) if len(runs) == 2 else chart_labels),
        efficiency_image=efficiency_chart(runs, chart_labels, baselines=not different_data(sections)),
    )
