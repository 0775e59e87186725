"""The guided stories, as data. Captions are for someone who has never trained a model: short sentences,
everyday words, the term itself only once it has been shown. {time} is the expected training time, said
before a run starts. Every story runs on the real engine with data that ships with the workbench."""

from __future__ import annotations

from app.demo.moves import (
    ChooseData,
    ChooseMethod,
    Configure,
    Evaluate,
    EvaluateAnomalies,
    ShowMap,
    ShowTab,
    StartTraining,
    TrainOn,
)
from app.demo.story import RunPlan, Step, Story

LEAVE = (
    "Press <b>Finish</b> to go back to the normal workbench: the run, its results and every setting stay "
    "there to explore, and the run is listed in the Runs tab."
)

LEARNING_WITHOUT_LABELS = Story(
    key="without_labels",
    title="Learning without labels",
    summary="A computer learns to tell handwritten digits apart without being told which digit is which.",
    steps=(
        Step(
            "Learning without labels",
            "In this demo a computer teaches itself to recognise handwritten digits, <b>without anyone "
            "telling it which digit is which</b>. Then we check what it learned.<br><br>"
            "Press <b>Next</b> to go on. You can go back, or leave the demo at any moment and keep "
            "everything.",
            target="narrator.next",
            enter=(ShowTab("setup"),),
        ),
        Step(
            "The pictures",
            "These are the pictures it learns from: 1,797 small scans of handwritten digits, 0 to 9.<br><br>"
            "We know the right digit for each one (the small number under each picture here), but the "
            "computer is never shown those answers: it only gets the pictures. A fifth of them is kept aside "
            "to test it at the end, so it practises on the other 1,438.",
            target="setup.data",
            enter=(ShowTab("setup"), ChooseData("digits")),
            wait="data",
        ),
        Step(
            "The game it plays",
            "The method is called <b>SimCLR</b>. It plays a matching game: it alters each picture a little "
            "(crops it, shifts it, blurs it) to make two copies, then learns to tell which copies come from "
            "the same picture.<br><br>To win, it has to notice what makes a 3 look like a 3.<br><br>"
            "Training takes <b>{time}</b>; a faster computer practises more in the same time. "
            "Press <b>Next</b> to start it.",
            target="setup.method",
            enter=(ShowTab("setup"), ChooseMethod("simclr"), Configure()),
            wait="start",
        ),
        Step(
            "Practice",
            "Training has started. The line is the <b>loss</b>: how badly it still plays the matching game. "
            "Watch it fall as the computer gets better.<br><br>It takes {time}; you can go on meanwhile.",
            target="train.loss",
            enter=(StartTraining(),),
        ),
        Step(
            "What it sees",
            "Each column is one picture: on top as it is, below it two altered copies, called <b>views</b>."
            "<br><br>The "
            "computer is only shown such copies, never the names of the digits. It learns to make two copies "
            "of the same picture come out alike, and copies of different pictures come out different.",
            target="views.preview",
            enter=(ShowTab("views"),),
        ),
        Step(
            "The map sorts itself",
            "Every dot is one picture, placed by what the computer has learned so far: pictures it finds "
            "alike end up close together.<br><br>The colours are the real digits, which the computer has "
            "never seen. As training goes on, dots of the same colour gather into groups.",
            target="embeddings.map",
            enter=(ShowTab("embeddings"),),
            wait="trained",
            then=(ShowMap(),),
        ),
        Step(
            "A few labels",
            "Now we reveal a few answers: at the left end of each chart, only about <b>1 picture in 100</b> "
            "comes with its digit (10 pictures, one of each digit).<br><br>A simple classifier learns from those few, three times: on what the "
            "computer learned (<b>this run</b>), on an untrained copy of it (<b>random weights</b>), and on "
            "the bare pixels. Higher is better.",
            target="evaluate.charts",
            enter=(ShowTab("evaluate"), Evaluate()),
            wait="evaluated",
        ),
        Step(
            "The verdict",
            "Here is the result in one sentence, below. Compare the first number (what it learned on its "
            "own) with the other two (the untrained network, the bare pixels): the higher it is above them, the "
            f"more the unlabelled pictures were worth.<br><br>{LEAVE}",
            target="evaluate.headline",
            enter=(ShowTab("evaluate"),),
            fact="verdict",
        ),
    ),
)

FILL_IN_THE_BLANKS = Story(
    key="fill_in",
    title="Fill in the blanks",
    summary="A computer learns what digits look like by repairing pictures with parts hidden.",
    steps=(
        Step(
            "Fill in the blanks",
            "Another way to learn without labels: hide part of each picture and ask the computer to paint "
            "it back. To repair a digit well, it has to learn what digits look like.",
            target="narrator.next",
            enter=(ShowTab("setup"),),
        ),
        Step(
            "The pictures",
            "The same 1,797 handwritten digits. Again, nobody tells the computer which digit is which.",
            target="setup.data",
            enter=(ShowTab("setup"), ChooseData("digits")),
            wait="data",
        ),
        Step(
            "Hide and repair",
            "The method is <b>masked reconstruction</b>: it blanks out patches of each picture and learns to "
            "fill them in from what is left.<br><br>Training takes <b>{time}</b>. Press <b>Next</b> to start.",
            target="setup.method",
            enter=(ShowTab("setup"), ChooseMethod("masked_reconstruction"), Configure()),
            wait="start",
        ),
        Step(
            "Repairs, live",
            "On the right, for a few pictures: the original, the same with patches hidden, and the "
            "computer's repair, redrawn every second or so.<br><br>At first the repairs are smudges; watch "
            "them turn into digits.",
            target="train.preview",
            enter=(StartTraining(),),
        ),
        Step(
            "Up close",
            "The same repairs, larger: the original on top, the patches hidden in the middle, the "
            "computer's repair below. When training ends, the last repairs stay here.",
            target="views.preview",
            enter=(ShowTab("views"),),
            wait="trained",
        ),
        Step(
            "What it learned",
            "The computer never saw a label, yet it learned the shapes of digits well enough to fill in what "
            f"is missing. That knowledge is what makes its features useful later.<br><br>{LEAVE}",
            target="views.preview",
            enter=(ShowTab("views"),),
        ),
    ),
)

MOTION_SIGNALS = Story(
    key="motion",
    title="Motion signals",
    summary="A computer learns to tell walking, running, standing and badminton apart from a watch's sensors.",
    run=RunPlan(time_limit_s=45.0),
    steps=(
        Step(
            "Motion signals",
            "Not only pictures: here the data are <b>motion recordings</b> from a smart watch, taken while "
            "people were standing, walking, running or playing badminton. The computer learns from the "
            "signals alone, without being told which activity is which.",
            target="narrator.next",
            enter=(ShowTab("setup"),),
        ),
        Step(
            "The recordings",
            "80 short recordings, each with 6 lines: the watch's movement and rotation in three directions. "
            "The activity of each is known to us, hidden from the computer.",
            target="setup.data",
            enter=(ShowTab("setup"), ChooseData("series:BasicMotions")),
            wait="data",
        ),
        Step(
            "The matching game, with signals",
            "The same game as with pictures (<b>SimCLR</b>): each recording is altered a little (stretched, "
            "shifted, with some noise) to make two copies, and the computer learns which copies belong "
            "together.<br><br>Training takes <b>{time}</b>. Press <b>Next</b> to start.",
            target="setup.method",
            enter=(ShowTab("setup"), ChooseMethod("simclr"), Configure()),
            wait="start",
        ),
        Step(
            "Practice",
            "On the right: a few recordings as they are and, below them, their altered copies, the <b>views</b>. The loss on the left falls "
            "as the computer gets better at matching them.",
            target="train.preview",
            enter=(StartTraining(),),
        ),
        Step(
            "The map",
            "Every dot is one recording, coloured by its real activity. Recordings the computer finds alike "
            "end up close together.",
            target="embeddings.map",
            enter=(ShowTab("embeddings"),),
            wait="trained",
            then=(ShowMap(),),
        ),
        Step(
            "A few labels",
            "Now a simple classifier gets the activity of only a few recordings (the left end of each chart) "
            "and must name the rest: once on what the computer learned, once on an untrained network, once "
            "on the raw signals. Higher is better.",
            target="evaluate.charts",
            enter=(ShowTab("evaluate"), Evaluate()),
            wait="evaluated",
        ),
        Step(
            "The verdict",
            f"The result in one sentence.<br><br>{LEAVE}",
            target="evaluate.headline",
            enter=(ShowTab("evaluate"),),
            fact="verdict",
        ),
    ),
)

ANOMALIES_IN_A_TABLE = Story(
    key="anomalies",
    title="Anomalies in a table",
    summary="A computer learns what normal flight readings look like and flags the unusual ones.",
    run=RunPlan(time_limit_s=45.0),
    steps=(
        Step(
            "Anomalies in a table",
            "A table of 49,097 moments from a space shuttle's flight, 9 sensor readings each. About 7 in 100 "
            "moments are unusual. The computer learns what normal looks like, then flags what does not fit.",
            target="narrator.next",
            enter=(ShowTab("setup"),),
        ),
        Step(
            "The table",
            "Each row is one moment; each column one sensor. Which rows are unusual is known to us; we use it "
            "only to check the computer's answers at the end.",
            target="setup.data",
            enter=(ShowTab("setup"), ChooseData("table:shuttle")),
            wait="data",
        ),
        Step(
            "Learn what normal looks like",
            "An <b>autoencoder</b> squeezes each row through a narrow middle and rebuilds it. We train it on "
            "normal rows only, so it rebuilds normal rows well and unusual rows badly: how badly is the "
            "row's <b>anomaly score</b>.<br><br>Training takes <b>{time}</b>. Press <b>Next</b> to start.",
            target="setup.method",
            enter=(ShowTab("setup"), TrainOn("normal"), ChooseMethod("autoencoder"), Configure()),
            wait="start",
        ),
        Step(
            "Practice",
            "The loss shows how badly it still rebuilds the normal rows; it falls as it learns.<br><br>"
            "Next becomes available when training ends, in {time}.",
            target="train.loss",
            enter=(StartTraining(),),
            wait="trained",
        ),
        Step(
            "The scores",
            "Every row now has a score. The bars count rows by score: normal rows (blue) on the left, unusual "
            "rows (red) further right.<br><br>The line flags the 5 rows in 100 with the highest scores; "
            "dragging it left catches more unusual rows, at the price of a few false alarms.<br><br>The "
            "curves on the right compare it with three classic detectors: the closer to the top left "
            "corner, the better.",
            target="anomalies.histogram",
            enter=(ShowTab("anomalies"), EvaluateAnomalies()),
            wait="anomalies",
        ),
        Step(
            "The most unusual rows",
            f"The rows it finds most unusual, highest score first, with the readings that stand out.<br><br>{LEAVE}",
            target="anomalies.top",
            enter=(ShowTab("anomalies"),),
            fact="anomaly_result",
        ),
    ),
)

STORIES = {
    s.key: s for s in (LEARNING_WITHOUT_LABELS, FILL_IN_THE_BLANKS, MOTION_SIGNALS, ANOMALIES_IN_A_TABLE)
}
