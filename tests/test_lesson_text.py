"""The lesson's text tells the truth the measurements support (issue #10, item 5).

What is checked here is the narrative itself (course/narrative/*.md, the one text of the notebook
and LESSON.md), the README's lesson paragraph and the grader's messages about the lesson:

* the sigmoid's bound of 1/4 is never given as the per-layer factor without the weights;
* sections 4 to 9 type no measured number: every one is a ``{{key}}`` placeholder of the data
  file's contract (course/measured.py fills them in at generation time), and every key quoted is
  quoted with its range over seeds somewhere;
* the "Further" section names its five topics, Question 1's model answer names the forward
  collapse (not "a fixed random transformation cannot separate"), the new figures have their
  cells and a "what this plot should show" paragraph, and each place where the measurements
  differ from the lecture has its boxed paragraph.

The detectors are tested on generated sentences too, so a rewording of an untrue claim cannot
slip past them.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from course.notebook import NARRATIVE, Block, narrative_files, parse_narrative
from tests.strategies import generated

REPO = Path(__file__).resolve().parent.parent
MEASURED = REPO / "course" / "measured.json"
FILES = {path.name: path for path in narrative_files()}
BLOCKS = {name: list(parse_narrative(path, render=False)) for name, path in FILES.items()}
# The sections whose numbers must all come from the data file (the introduction and sections 1-3
# quote only mathematical facts: slopes at given points, float64 limits).
MEASURED_SECTIONS = [name for name in FILES if name[:2].isdigit() and int(name[:2]) >= 4]


def prose(blocks: list[Block]) -> str:
    """The text a reader reads: Markdown and model answers, not code cells."""
    return "\n\n".join(b.text for b in blocks if b.kind in ("markdown", "answer"))


# --- the keys the data file promises (the contract between the studies and the text) ----------

ACTS = ("sigmoid", "tanh", "relu", "leaky_relu")
INITS = ("glorot", "he", "small")
RUNS = ("sigmoid_lr0.5", "tanh_lr0.5", "tanh_lr0.1", "relu_lr0.1", "relu_glorot_lr0.1",
        "leaky_relu_lr0.1", "shallow_sigmoid_lr0.5")


def contract_keys() -> set[str]:
    """Every key course/measured.json must hold (plus any the committed file adds)."""
    keys = {f"flow.{a}.{i}.{m}" for a in ACTS for i in INITS for m in ("r", "r_delta", "gain")}
    keys |= {"flow.sigmoid.glorot.mean_slope", "flow.sigmoid.normal1.depth10.r_delta",
             "flow.tanh.glorot.depth10.r_delta", "flow.relu.glorot.depth10.r_delta",
             "flow.relu.he.depth10.r_delta"}
    keys |= {f"collapse.{a}.layer{n}" for a in ("sigmoid", "relu") for n in (1, 10)}
    keys |= {f"speed.{a}.{m}" for a in ("sigmoid", "relu") for m in ("first", "last", "ratio")}
    keys |= {f"training.{run}.{m}" for run in RUNS for m in ("train", "heldout")}
    keys |= {"training.relu_lr0.1.epochs_to_95", "training.relu_glorot_lr0.1.epochs_to_95",
             "training.tanh_lr0.5.peak_train", "sweep.sigmoid.max_heldout"}
    keys |= {f"sweep.{a}.{m}" for a in ACTS for m in ("best_lr", "heldout")}
    keys |= {f"frozen.{a}.{k}.heldout" for a in ("sigmoid", "relu")
             for k in ("first1", "first3", "last1", "last3", "none")}
    keys |= {"saturation.tanh_lr0.5.init", "saturation.tanh_lr0.5.trained",
             "saturation.tanh_lr0.1.trained"}
    if MEASURED.is_file():
        keys |= {key for key in json.loads(MEASURED.read_text()) if not key.startswith("_")}
    return keys


PLACEHOLDER = re.compile(r"\{\{\s*(?P<key>[^{}:]+?)\s*(?::\s*(?P<form>[^{}]*?)\s*)?\}\}")


def placeholders(text: str) -> list[tuple[str, str]]:
    return [(m["key"], m["form"] or "") for m in PLACEHOLDER.finditer(text)]


# --- detectors --------------------------------------------------------------------------------

MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", flags=re.S)
# The sigmoid's bound, however it is written.
QUARTER = re.compile(r"1\s*/\s*4|\\frac\s*\{\s*1\s*\}\s*\{\s*4\s*\}|¼|\bquarter\b|\b0?\.25\b",
                     flags=re.I)
# ... said of the gradient's per-layer factor (not of the slope's maximum alone).
ABOUT_THE_GRADIENT = re.compile(r"gradient|layer|factor|multipl|vanish|shrink|backward",
                                flags=re.I)
WEIGHTS = re.compile(r"weight", flags=re.I)
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z*>(`$])|\n\s*\n|\n\s*[-*>]\s+")


def sentences(text: str) -> list[str]:
    # Math is kept whole (a "." inside it ends no sentence).
    kept: list[str] = []
    masked = MATH.sub(lambda m: kept.append(m.group(0)) or f"\0{len(kept) - 1}\0", text)
    parts = SENTENCE_END.split(masked)
    return [re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], part) for part in parts]


def quarter_without_weights(text: str) -> list[str]:
    """Sentences that give the sigmoid's 1/4 as what the gradient is multiplied by, and leave
    out the weights."""
    return [" ".join(s.split()) for s in sentences(text)
            if QUARTER.search(s) and ABOUT_THE_GRADIENT.search(s) and not WEIGHTS.search(s)]


# Outside math: percentages, "4×10⁻¹³", "4 x 10^-13", "4e-13", unicode exponents.
TYPED_OUTSIDE_MATH = re.compile(
    r"\d\s*%|\d\s*[×x]\s*10|\b\d+(?:\.\d+)?e[-+]?\d+\b|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]|\d\s*percent",
    flags=re.I)
# Inside math: a mantissa times a power of ten, a decimal percentage, a measured ratio "r ≈ ...".
TYPED_IN_MATH = re.compile(
    r"\d\s*\\times\s*10\s*\^|\d\.\d+\s*\\%|\br(?:_\\delta|_\{\\delta\})?\s*(?:\\approx|=|\\sim)\s*\d")


def typed_measurements(text: str) -> list[str]:
    """Numbers that look measured but are typed, not placeholders."""
    text = PLACEHOLDER.sub(" ", text)
    found = [m.group(0) for math in MATH.findall(text) for m in TYPED_IN_MATH.finditer(math)]
    found += [m.group(0) for m in TYPED_OUTSIDE_MATH.finditer(MATH.sub(" ", text))]
    return found


# --- the detectors catch the class, not only the sentence ------------------------------

SUBJECTS = ("each sigmoid layer", "every layer", "the backward pass through a sigmoid layer",
            "a sigmoid unit")
VERBS = ("multiplies the gradient by", "scales the backpropagated gradient by",
         "shrinks the gradient by a factor of", "passes back")
BOUNDS = ("at most 1/4", "at most $1/4$", r"$\le \frac{1}{4}$", "no more than a quarter",
          "sigma'(z) <= 1/4", "at most ¼", "at most 0.25")
WITH_WEIGHTS = ("times its weights", "and by its weights", "times the weight scale")


@generated(80)
@given(st.sampled_from(SUBJECTS), st.sampled_from(VERBS), st.sampled_from(BOUNDS))
def test_the_quarter_detector_flags_every_wording_of_the_claim(subject, verb, bound):
    claim = f"In the backward pass {subject} {verb} {bound}, so the gradient vanishes."
    assert quarter_without_weights(claim) == [claim]


@generated(80)
@given(st.sampled_from(SUBJECTS), st.sampled_from(VERBS), st.sampled_from(BOUNDS),
       st.sampled_from(WITH_WEIGHTS))
def test_the_quarter_detector_passes_the_claim_with_the_weights(subject, verb, bound, weights):
    claim = f"In the backward pass {subject} {verb} its slope ({bound}) {weights}."
    assert quarter_without_weights(claim) == []
    # the slope's maximum on its own is a fact, not a claim about the gradient
    assert quarter_without_weights(f"Its largest value is {bound}, at $z = 0$.") == []


MANTISSAS = ("4", "2.6", "0.5")
EXPONENTS = ("-13", "-7", "3")


@pytest.mark.parametrize("mantissa, exponent", list(itertools.product(MANTISSAS, EXPONENTS)))
def test_the_number_detector_flags_typed_measurements(mantissa, exponent):
    sup = exponent.translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    for typed in (f"$r \\approx {mantissa} \\times 10^{{{exponent}}}$",
                  f"a ratio of {mantissa}×10{sup}", f"a ratio of {mantissa}e{exponent}",
                  f"it reaches {mantissa}% held-out", f"$r_\\delta = {mantissa}$",
                  f"about {mantissa} x 10^{exponent}"):
        assert typed_measurements(typed), typed
    for fine in (f"{{{{flow.relu.he.r:range}}}} at depth 20, learning rate {mantissa}",
                 f"$0.2^{{10}} \\approx 10^{{{exponent}}}$", "a weight scale of $\\sqrt{64} = 8$",
                 "reaches $95\\%$ training accuracy"):
        assert not typed_measurements(fine), fine


# --- the lesson -------------------------------------------------------------------------------

def lesson_messages() -> list[str]:
    """The grader's lesson-check messages: the string parts of every CheckFailed(...) call."""
    tree = ast.parse((REPO / "grader" / "checking" / "checks" / "lesson.py").read_text())
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "CheckFailed"
                and node.args):
            parts = [n.value for n in ast.walk(node.args[0])
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            found.append("".join(parts))
    assert found
    return found


def readme_lesson() -> str:
    text = (REPO / "README.md").read_text()
    return text.split("## What it teaches", 1)[1].split("\n## ", 1)[0]


TEXTS = {**{name: prose(blocks) for name, blocks in BLOCKS.items()},
         "README.md (What it teaches)": readme_lesson(),
         **{f"lesson.py message {i}": m for i, m in enumerate(lesson_messages())}}


@pytest.mark.parametrize("where", list(TEXTS))
def test_the_quarter_bound_never_comes_without_the_weights(where):
    assert quarter_without_weights(TEXTS[where]) == []


def test_the_slope_times_weights_factor_is_said_where_the_gradient_shrinks():
    section4 = prose(BLOCKS["04-shrinking-gradient.md"])
    assert "weight scale" in section4 and "activation slope" in section4
    assert "{{flow.sigmoid.glorot.mean_slope" in section4
    assert "{{flow.sigmoid.normal1.depth10.r_delta:range}}" in section4
    # Glorot's assumption, and why it leaves the sigmoid at about a quarter per layer
    section3 = prose(BLOCKS["03-network.md"])
    assert "$f'(0) = 1$" in section3 and "$\\sigma'(0) = 1/4$" in section3
    assert "fan-out" in section3 and "fan-in form" in section3
    assert "{{flow.sigmoid.glorot.gain" in section4


@pytest.mark.parametrize("name", MEASURED_SECTIONS)
def test_no_measured_number_is_typed_outside_a_placeholder(name):
    assert typed_measurements(prose(BLOCKS[name])) == []


def test_every_placeholder_names_a_promised_key_outside_math():
    keys = contract_keys()
    used = [(name, key, form) for name, blocks in BLOCKS.items()
            for key, form in placeholders(prose(blocks))]
    assert len(used) > 60
    for name, key, form in used:
        assert key in keys, f"{name}: unknown key {key!r}"
        assert form in ("", "range", "n"), f"{name}: {key}:{form}"
    for name, blocks in BLOCKS.items():
        for math in MATH.findall(prose(blocks)):
            assert "{{" not in math, f"{name}: a placeholder inside math renders as LaTeX: {math}"
        for block in blocks:
            if block.kind == "code":
                assert "{{" not in block.text, f"{name}: code cells are not rendered"


def test_every_quoted_key_is_quoted_with_its_range_over_seeds_somewhere():
    used = [(key, form) for blocks in BLOCKS.values() for key, form in placeholders(prose(blocks))]
    ranged = {key for key, form in used if form == "range"}
    # A best learning rate is the setting a sweep picked, not a measurement with a spread.
    measured = {key for key, form in used if form != "n" and not key.endswith(".best_lr")}
    assert measured <= ranged
    assert any(form == "n" for _, form in used)  # the number of seeds is said


def test_the_further_section_names_its_five_topics():
    assert "09-further.md" in FILES
    text = prose(BLOCKS["09-further.md"])
    assert text.lstrip().startswith("## 9. Further")
    topics = {
        "exploding gradients and clipping": (r"exploding", r"clipping"),
        "dying ReLUs": (r"dying relu",),
        "normalisation and residual connections": (r"batch normali[sz]ation",
                                                   r"layer normali[sz]ation", r"residual"),
        "LSTMs, where the problem was found": (r"lstm|long short-term memory",
                                               r"hochreiter \(1991\)", r"recurrent"),
        "adaptive optimisers soften it": (r"adam", r"rmsprop", r"each parameter",
                                          r"do not cure|does not cure|not cure"),
    }
    for topic, patterns in topics.items():
        for pattern in patterns:
            assert re.search(pattern, text, flags=re.I), f"{topic}: no {pattern!r}"


def _answer(name: str) -> str:
    return next(b.text for blocks in BLOCKS.values() for b in blocks
                if b.kind == "answer" and b.arg == name)


def test_question_1_model_answer_names_the_forward_collapse():
    answer, marking = _answer("answer_early_layers").split("*Marking:*")
    assert re.search(r"forward collapse|collapse[sd]? .*forward", answer, flags=re.S)
    assert "{{collapse.sigmoid.layer10" in answer and "{{collapse.sigmoid.layer1" in answer
    assert "fixed random transformation" not in answer
    assert re.search(r"ReLU net with its first layers frozen", answer)
    assert "collapse" in marking and "1 point for the forward collapse" in marking
    # the untrue reason earns nothing on its own
    assert "does not stop a ReLU net" in marking


def test_section_5_describes_the_frozen_layer_study_honestly():
    text = prose(BLOCKS["05-early-layers.md"])
    for key in ("frozen.relu.first3", "frozen.relu.first1", "frozen.relu.last3",
                "frozen.relu.none", "frozen.sigmoid.first3", "frozen.sigmoid.last3",
                "frozen.sigmoid.none", "collapse.sigmoid.layer1", "collapse.relu.layer10"):
        assert "{{" + key in text, key
    assert "cannot rank early against late layers" in text
    assert "fixed random transformation is not in itself fatal" in text


def test_section_6_states_learning_rates_held_out_and_the_fair_comparison():
    text = prose(BLOCKS["06-cure.md"])
    for run in ("sigmoid at learning rate 0.5", "tanh at\n0.5 and at 0.1", "ReLU at 0.1"):
        assert run in text, run
    assert "{{training.relu_glorot_lr0.1.heldout:range}}" in text
    assert "{{training.relu_glorot_lr0.1.epochs_to_95:range}}" in text
    assert "{{sweep.sigmoid.max_heldout:range}}" in text
    assert "held-out" in text and "training set" in text
    assert "He et al. (2015)" in text and "30-layer" in text
    assert "Both are needed" not in text


def test_section_7_says_tanh_with_glorot_shrinks_slowly():
    text = prose(BLOCKS["07-tanh.md"])
    assert "{{flow.tanh.glorot.depth10.r_delta:range}}" in text and "*slowly*" in text
    assert "tanh keeps its gradients" not in text
    assert "{{saturation.tanh_lr0.5.trained:range}}" in text


LECTURE_BOXES = {
    "04-shrinking-gradient.md": "saturating activations cause it",
    "05-early-layers.md": "the early layers learn slowest",
    "06-cure.md": "ReLU cures it",
    "07-tanh.md": "sigmoid and tanh both cause it",
}


@pytest.mark.parametrize("name, claim", list(LECTURE_BOXES.items()))
def test_each_disagreement_with_the_lecture_has_its_box(name, claim):
    boxes = [box for b in BLOCKS[name] if b.kind == "markdown"
             for box in re.findall(r"(?:^> .*\n?)+", b.text, flags=re.M)]
    box = next((x for x in boxes if "**Lecture vs measurement" in x), "")
    assert claim in " ".join(line.removeprefix("> ") for line in box.splitlines())
    assert "lecture" in box.lower() and re.search(r"\bwe measure\b", box, flags=re.I)
    assert re.search(r"because|why|reason", box, flags=re.I)


FIGURE_CELLS = {
    "04-shrinking-gradient.md": (
        'show(plot_headline(flow, FIGURES / "headline.png"))',
        "data = backward_gain_sweep(Implementation.of(globals()), CONFIG.dial)",
        'show(plot_dial(data, FIGURES / "dial.png"))'),
    "07-tanh.md": (
        "sat = saturation_histograms(Implementation.of(globals()), CONFIG.saturation)",
        'show(plot_saturation(sat, FIGURES / "saturation.png"))'),
}


@pytest.mark.parametrize("name", list(FIGURE_CELLS))
def test_the_new_figures_have_their_cells_and_what_they_should_show(name):
    blocks = BLOCKS[name]
    for call in FIGURE_CELLS[name]:
        index = next(i for i, b in enumerate(blocks) if b.kind == "code" and call in b.text)
        after = blocks[index + 1]
        assert after.kind == "markdown" and after.text.startswith(
            "*What this plot should show, and why.*"), call
    if name.startswith("04"):
        order = [b.arg for b in blocks if b.kind == "code"]
        assert order.index("experiment_flow") < order.index("experiment_headline")


@pytest.mark.parametrize("name, figure", [("05-early-layers.md", "frozen_layers.png"),
                                          ("06-cure.md", "lr_sweep.png")])
def test_the_study_figures_are_shown_and_explained(name, figure):
    text = prose(BLOCKS[name])
    match = re.search(rf"!\[[^\]]+\]\(docs/figures/{re.escape(figure)}\)\n+(.*)", text)
    assert match and match.group(1).startswith("*What this plot should show, and why.*")


def test_the_narrative_is_read_from_the_course_folder():
    assert Path(NARRATIVE) == REPO / "course" / "narrative"
