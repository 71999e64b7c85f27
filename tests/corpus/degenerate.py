"""The "no maths" family: submissions whose functions compute nothing.

Every function of a degenerate module has the reference's signature and returns results of the
right structure, shapes and dtype (float64), but no maths stands behind them. The ``KINDS``:

- ``zeros``, ``ones``, ``constant`` (``value`` everywhere, 0.25 unless told): a fixed value;
- ``identity``: a float64 copy of the function's main input (resized to the result's shape when
  that differs, so the shapes stay right);
- ``passthrough``: the main input object itself, unchanged, where the shapes allow it;
- ``noise``: draws from one generator per module, seeded with ``seed`` (a new draw per call);
- ``fixed_noise``: the same draw (from ``seed``) on every call: a constant that looks random;
- ``not_implemented``: raises NotImplementedError, as the stubs do.

Forward functions keep caches in the reference's format (``(x, W)``, ``(z, activation)``, a list
of ``(dense_cache, act_cache)``), so any mix of degenerate and reference code runs without
raising: what is graded is the maths, never a crash.

``degenerate_source(module, kind)`` is a module's text; ``build_degenerate(dest, kind,
modules)`` is a submission folder with ``modules`` degenerate and the others the reference.
"""

from __future__ import annotations

from pathlib import Path

from grader.checking.trial import REGISTRY
from grader.spec.api import MODULES as API_MODULES

from .build import MODULES, SOLUTIONS_DIR

KINDS = ("zeros", "ones", "constant", "identity", "passthrough", "noise", "fixed_noise",
         "not_implemented")

# One helper block, shared by every degenerate module (each module is self-contained).
_PRELUDE = '''"""A degenerate {module} module ({kind}): right shapes, no maths."""

import numpy as np

KIND = "{kind}"
VALUE = {value!r}
SEED = {seed!r}
_NOISE = np.random.default_rng(SEED)


def _fill(shape, source=None):
    """A float64 array of ``shape`` with no maths behind it."""
    shape = tuple(int(n) for n in shape)
    if KIND == "not_implemented":
        raise NotImplementedError
    if KIND == "zeros":
        return np.zeros(shape)
    if KIND == "ones":
        return np.ones(shape)
    if KIND == "constant":
        return np.full(shape, VALUE)
    if KIND == "noise":
        return _NOISE.normal(size=shape)
    if KIND == "fixed_noise":
        return np.random.default_rng(SEED).normal(size=shape)
    base = np.asarray(0.0 if source is None else source)
    if KIND == "passthrough" and base.shape == shape:
        return source
    base = np.asarray(base, dtype=np.float64)
    if base.shape == shape:
        return base.copy()
    return np.resize(base if base.size else np.zeros(1), shape)


def _scalar(source=None):
    """A float with no maths behind it."""
    if KIND in ("identity", "passthrough"):
        flat = np.asarray(0.0 if source is None else source, dtype=np.float64).reshape(-1)
        return float(flat[0]) if flat.size else 0.0
    return float(_fill((1,))[0])
'''

_BODIES = {
    "activations": '''

def sigmoid(z):
    return _fill(np.shape(z), z)


def sigmoid_grad(z):
    return _fill(np.shape(z), z)


def tanh(z):
    return _fill(np.shape(z), z)


def tanh_grad(z):
    return _fill(np.shape(z), z)


def relu(z):
    return _fill(np.shape(z), z)


def relu_grad(z):
    return _fill(np.shape(z), z)


def leaky_relu(z, alpha=0.01):
    return _fill(np.shape(z), z)


def leaky_relu_grad(z, alpha=0.01):
    return _fill(np.shape(z), z)
''',
    "layers": '''

def dense_forward(x, W, b):
    return _fill((x.shape[0], W.shape[1]), x), (x, W)


def dense_backward(dout, cache):
    x, W = cache
    return _fill(x.shape, dout), _fill(W.shape, dout), _fill((W.shape[1],), dout)


def activation_forward(z, activation):
    return _fill(np.shape(z), z), (z, activation)


def activation_backward(da, cache):
    return _fill(np.shape(da), da)


def mse_loss(pred, target):
    return _scalar(pred), _fill(pred.shape, pred)


def softmax_cross_entropy(logits, labels):
    return _scalar(logits), _fill(logits.shape, logits)
''',
    "network": '''

def init_params(layer_sizes, activation, rng):
    params = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if KIND == "not_implemented":
            raise NotImplementedError
        if KIND in ("identity", "passthrough"):
            W = np.eye(fan_in, fan_out)
        elif KIND == "noise":
            W = rng.normal(size=(fan_in, fan_out))
        else:
            W = _fill((fan_in, fan_out))
        params.append((W, np.zeros(fan_out)))
    return params


def mlp_forward(x, params, activation):
    # Caches in the reference's format: ((layer input, W), activation cache) per layer.
    caches = []
    a = x
    for i, (W, b) in enumerate(params):
        last = i == len(params) - 1
        caches.append(((a, W), None if last else (_fill((a.shape[0], W.shape[1])), activation)))
        a = _fill((x.shape[0], W.shape[1]), a)
    return a, caches


def mlp_backward(dout, caches):
    grads = []
    for (_, W), _ in caches:
        grads.append((_fill(W.shape, dout), _fill((W.shape[1],), dout)))
    return grads
''',
    "gradient_check": '''

def numerical_gradient(f, x, eps=1e-6):
    return _fill(np.shape(x), x)


def relative_error(a, b):
    return _scalar(a)
''',
}

if set(_BODIES) != set(MODULES):  # pragma: no cover - a new module needs its degenerate body
    raise RuntimeError("every student module needs a degenerate body")


def _prelude(module: str, kind: str, value: float, seed: int) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {KINDS}")
    return _PRELUDE.format(module=module, kind=kind, value=float(value), seed=int(seed))


def degenerate_source(module: str, kind: str, value: float = 0.25, seed: int = 7) -> str:
    """The text of a degenerate ``module`` of ``kind`` (every API function, reference names);
    ``value`` is the constant of ``constant``, ``seed`` the seed of the noise kinds."""
    return _prelude(module, kind, value, seed) + _BODIES[module]


def _function_source(module: str, function: str) -> str:
    """The degenerate definition of one function, cut from its module's body."""
    body = _BODIES[module]
    start = body.index(f"\ndef {function}(")
    end = body.find("\n\n\ndef ", start + 1)
    return body[start:] if end < 0 else body[start:end + 1]


def degenerate_function_source(function: str, kind: str, value: float = 0.25,
                               seed: int = 7) -> str:
    """The helpers and the degenerate definition of one API function, as a cell or a file to
    run after the reference's definitions (which it then replaces)."""
    module = next(m for m in MODULES if function in API_MODULES[m])
    return _prelude(module, kind, value, seed) + _function_source(module, function)


def build_degenerate(dest: Path, kind: str, modules: tuple[str, ...] = MODULES,
                     functions: tuple[str, ...] = (), *, value: float = 0.25, seed: int = 7,
                     solutions_dir: Path = SOLUTIONS_DIR) -> Path:
    """A submission folder: ``modules`` degenerate of ``kind``, plus the single ``functions``
    degenerate inside otherwise reference modules; everything else is the reference.

    A single function is appended to its reference module, so its degenerate definition is the
    one the module's other functions (and the modules importing it) see.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in MODULES:
        if name in modules:
            (dest / f"{name}.py").write_text(degenerate_source(name, kind, value, seed),
                                             encoding="utf-8")
            continue
        source = (solutions_dir / f"{name}.py").read_text(encoding="utf-8")
        chosen = [f for f in functions if API_MODULES.get(name) and f in API_MODULES[name]]
        if chosen:
            source += "".join("\n\n" + degenerate_function_source(f, kind, value, seed)
                              for f in chosen)
        (dest / f"{name}.py").write_text(source, encoding="utf-8")
    unknown = set(functions) - {f for m in MODULES for f in API_MODULES[m]}
    if unknown:
        raise ValueError(f"unknown functions {sorted(unknown)}")
    (dest / "__init__.py").write_text("", encoding="utf-8")
    return dest


def checks_of(modules: tuple[str, ...] = (), functions: tuple[str, ...] = ()) -> set[str]:
    """The checks that grade a function of ``modules`` or one of ``functions`` (by their
    tags): the ones such degenerate code must fail, at least."""
    graded = {f for m in modules for f in API_MODULES[m]} | set(functions)
    return {c.name for c in REGISTRY.values() if set(c.tags) & graded}


__all__ = ["KINDS", "build_degenerate", "checks_of", "degenerate_function_source",
           "degenerate_source"]
