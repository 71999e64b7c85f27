"""A backward consistent with a junk forward earns nothing.

The backward checks keep a backward's points when it is right for the student's own (wrong)
forward: precise blame. A pair of made-up functions that are each other's exact derivative must
not pass that way: the forward must be a layer (each example of a batch goes through it on its
own), an activation layer right for at least one activation, or a network, not any function.
Enumerated over junk pairs, each with its consistent backward; and the real bugs of the corpus
(a wrong forward with a right backward) keep the backward's points.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.public.engine import self_check
from tests.helpers import failed_checks, grade_in_process

REPO = Path(__file__).resolve().parent.parent
DENSE_JUNK = {  # a forward that mixes the batch, and its exact backward
    "one sum everywhere": (
        "np.full((x.shape[0], W.shape[1]), x.sum() + W.sum() + b.sum())",
        "np.full(x.shape, dout.sum()), np.full(W.shape, dout.sum()), np.full(b.shape, dout.sum())"),
    "column sums": (
        "np.tile(x.sum(axis=0) @ W + b, (x.shape[0], 1))",
        "np.tile(dout.sum(axis=0) @ W.T, (x.shape[0], 1)), "
        "np.outer(x.sum(axis=0), dout.sum(axis=0)), dout.sum(axis=0)"),
    "batch mean added": (
        "x @ W + b + x.mean(axis=0) @ W",
        "dout @ W.T + np.tile(dout.sum(axis=0) @ W.T / x.shape[0], (x.shape[0], 1)), "
        "x.T @ dout + np.outer(x.mean(axis=0), dout.sum(axis=0)), dout.sum(axis=0)"),
}
ACTIVATION_JUNK = {  # the same made-up function for every name, and its derivative
    "square": ("z * z", "2 * z"),
    "sine": ("np.sin(z)", "np.cos(z)"),
    "cube": ("z ** 3", "3 * z ** 2"),
    "exp": ("np.exp(z)", "np.exp(z)"),
}


def _submission(folder: Path, layers_code: str) -> Path:
    shutil.copytree(REPO / "examples" / "correct", folder)
    with open(folder / "layers.py", "a") as handle:  # later definitions win
        handle.write("\n\n" + layers_code)
    return folder


@pytest.mark.parametrize("junk", sorted(DENSE_JUNK))
def test_a_backward_of_a_batch_mixing_forward_earns_nothing(tmp_path, junk):
    forward, backward = DENSE_JUNK[junk]
    code = (f"def dense_forward(x, W, b):\n    return {forward}, (x, W, b)\n\n\n"
            f"def dense_backward(dout, cache):\n    x, W, b = cache\n    return {backward}\n")
    results = {r.name: r for r in grade_in_process(_submission(tmp_path / "s", code))}
    assert {"dense_forward", "dense_backward"} <= failed_checks(results.values())
    assert ("your dense_forward mixes the examples of a batch (moving one row of x changes other "
            "rows of out), so it is no layer and cannot vouch for a backward"
            in results["dense_backward"].notes)


@pytest.mark.parametrize("junk", sorted(ACTIVATION_JUNK))
def test_a_backward_of_a_made_up_activation_earns_nothing(tmp_path, junk):
    forward, slope = ACTIVATION_JUNK[junk]
    code = (f"def activation_forward(z, name):\n    return {forward}, z\n\n\n"
            f"def activation_backward(da, z):\n    return da * ({slope})\n")
    results = {r.name: r for r in grade_in_process(_submission(tmp_path / "s", code))}
    assert {"activation_forward", "activation_backward"} <= failed_checks(results.values())
    assert any(n.startswith("your activation_forward is right for none of the activations")
               for n in results["activation_backward"].notes)


def test_a_backward_of_a_forward_wrong_for_one_activation_keeps_its_points(tmp_path):
    # A real bug: the forward maps "tanh" to the sigmoid; the backward, which differentiates
    # whatever the forward computed, is right for that forward.
    code = ("from activations import (leaky_relu, leaky_relu_grad, relu, relu_grad, sigmoid,\n"
            "                         sigmoid_grad)\n\n"
            "_PAIRS = {'sigmoid': (sigmoid, sigmoid_grad), 'tanh': (sigmoid, sigmoid_grad),\n"
            "          'relu': (relu, relu_grad),\n"
            "          'leaky_relu': (leaky_relu, leaky_relu_grad)}\n\n\n"
            "def activation_forward(z, name):\n"
            "    return _PAIRS[name][0](z), (z, name)\n\n\n"
            "def activation_backward(da, cache):\n"
            "    z, name = cache\n"
            "    return da * _PAIRS[name][1](z)\n")
    results = {r.name: r for r in grade_in_process(_submission(tmp_path / "s", code))}
    failed = failed_checks(results.values())
    assert "activation_forward" in failed and "activation_backward" not in failed
    assert ("activation_backward matches your own activation_forward for tanh"
            in results["activation_backward"].notes)


def test_a_backward_of_a_batch_mixing_network_earns_nothing(tmp_path):
    shutil.copytree(REPO / "examples" / "correct", tmp_path / "s")
    with open(tmp_path / "s" / "network.py", "a") as handle:
        handle.write(
            "\n\ndef mlp_forward(x, params, activation):\n"
            "    s = x.sum() + sum(W.sum() + b.sum() for W, b in params)\n"
            "    return np.full((x.shape[0], params[-1][0].shape[1]), s), "
            "[(W.shape, b.shape) for W, b in params]\n\n\n"
            "def mlp_backward(dout, caches):\n"
            "    s = dout.sum()\n"
            "    return [(np.full(w, s), np.full(b, s)) for w, b in caches]\n")
    results = {r.name: r for r in grade_in_process(tmp_path / "s")}
    failed = failed_checks(results.values())
    assert {"mlp_forward", "mlp_backward", "vanishing_sigmoid", "vanishing_relu"} <= failed
    assert ("your mlp_forward mixes the examples of a batch (moving one row of x changes other "
            "rows of out), so it is no layer and cannot vouch for a backward"
            in results["mlp_backward"].notes)


_OUTPUT_ACTIVATED = (  # a real bug: the output layer is activated too
    "from activations import sigmoid_grad\n\n\n"
    "def mlp_forward(x, params, activation):\n"
    "    caches, h = [], x\n"
    "    for W, b in params:\n"
    "        z, dense_cache = dense_forward(h, W, b)\n"
    "        h, act_cache = activation_forward(z, activation)\n"
    "        caches.append((dense_cache, act_cache, z))\n"
    "    return h, caches\n\n\n"
    "def mlp_backward(dout, caches):\n"
    "    grads, d = [], dout\n"
    "    for dense_cache, act_cache, z in reversed(caches):\n"
    "        d = SLOPE\n"
    "        d, dW, db = dense_backward(d, dense_cache)\n"
    "        grads.append((dW, db))\n"
    "    return grads[::-1]\n")


@pytest.mark.parametrize(("slope", "vindicated"), [
    ("activation_backward(d, act_cache)", True),  # right for that forward, every activation
    ("d * sigmoid_grad(z)", False),  # right for it with the sigmoid only
])
def test_every_shallow_case_tests_a_backward_against_its_own_forward(tmp_path, slope,
                                                                     vindicated):
    shutil.copytree(REPO / "examples" / "correct", tmp_path / "s")
    with open(tmp_path / "s" / "network.py", "a") as handle:
        handle.write("\n\n" + _OUTPUT_ACTIVATED.replace("SLOPE", slope))
    results = {r.name: r for r in grade_in_process(tmp_path / "s")}
    failed = failed_checks(results.values())
    assert "mlp_forward" in failed
    assert ("mlp_backward" in failed) != vindicated
    assert ("mlp_backward matches the gradient of your own mlp_forward"
            in results["mlp_backward"].notes) == vindicated


def _junk_submissions(root: Path) -> list[Path]:
    folders = []
    for i, (forward, backward) in enumerate(DENSE_JUNK.values()):
        folders.append(_submission(root / f"dense{i}", (
            f"def dense_forward(x, W, b):\n    return {forward}, (x, W, b)\n\n\n"
            f"def dense_backward(dout, cache):\n    x, W, b = cache\n    return {backward}\n")))
    for i, (forward, slope) in enumerate(ACTIVATION_JUNK.values()):
        folders.append(_submission(root / f"act{i}", (
            f"def activation_forward(z, name):\n    return {forward}, z\n\n\n"
            f"def activation_backward(da, z):\n    return da * ({slope})\n")))
    return folders


def test_the_self_check_judges_junk_pairs_without_a_grader_error(tmp_path):
    # The public self-check reads recorded answers only: a question asked only of broken code
    # (is this forward right for some activation?) has no recorded answer, and must not turn
    # into "the grader could not evaluate this check".
    for folder in _junk_submissions(tmp_path):
        results = self_check(folder)
        assert not [r.name for r in results if r.internal_error], folder.name
