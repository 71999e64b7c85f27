"""The experiments' settings: one frozen dataclass per experiment, and the two sizes, ``FULL``
(what the README and the notebook quote) and ``QUICK`` (a smoke test whose numbers mean little).

Change a setting with ``dataclasses.replace``, e.g. ``replace(FULL.flow, depth=10)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu")
# Initialisation schemes, the experimental variable of the gradient-flow experiment: Glorot
# and He as ``init_params`` draws them, and "small", N(0, 0.01^2), the "just use small random
# numbers" recipe.
INIT_SCHEMES = ("glorot", "he", "small")


@dataclass(frozen=True)
class Flow:
    """Experiment 1: one forward/backward pass at initialisation, MSE loss on N(0, 1) data.

    The net is width -> depth hidden layers of ``width`` units -> a linear output of ``n_out``
    units; ``batch`` rows of input. Every (activation, init) pair sees the same data (``seed``).
    """

    depth: int = 20
    width: int = 64
    batch: int = 64
    n_out: int = 10
    seed: int = 0
    activations: tuple[str, ...] = ACTIVATION_NAMES
    inits: tuple[str, ...] = INIT_SCHEMES


@dataclass(frozen=True)
class Spirals:
    """The data set of experiments 2 and 3: ``n_classes`` interleaved spiral arms in the plane."""

    n_per_class: int = 300
    noise: float = 0.2
    n_classes: int = 3
    seed: int = 0


@dataclass(frozen=True)
class SGD:
    """One classifier and its training: D -> depth x width -> C, plain minibatch SGD (no
    momentum, no weight decay) at learning rate ``lr``; ``seed`` draws the init and the
    shuffles."""

    depth: int = 10
    width: int = 32
    lr: float = 0.1
    epochs: int = 300
    batch: int = 32
    seed: int = 0


@dataclass(frozen=True)
class Speed:
    """Experiment 2: the relative weight change of every layer per epoch, one net per
    activation, each with the init ``init_params`` pairs with it, all with the same lr."""

    activations: tuple[str, ...] = ("sigmoid", "relu")
    net: SGD = SGD(depth=8, epochs=30)
    data: Spirals = Spirals()


# (activation, learning rate) pairs. sigmoid stays at chance at every lr we tried (0.1 to 5).
# tanh at lr 0.5 learns at first, then its large steps push the units into saturation, where
# the gradient vanishes; at lr 0.1 it learns the spirals, so both are shown. The shallow sigmoid
# control shows that depth, not the data set, is what defeats the sigmoid.
DEFAULT_RUNS = (("sigmoid", 0.5), ("tanh", 0.5), ("tanh", 0.1), ("relu", 0.1))
DEFAULT_CONTROLS = (("sigmoid", 0.5),)


@dataclass(frozen=True)
class Training:
    """Experiment 3: one deep net per (activation, lr) of ``runs`` and a net of
    ``control_depth`` hidden layers per entry of ``controls``; the deep nets' decision regions
    on a ``grid_resolution`` x ``grid_resolution`` grid. ``net.lr`` is unused (each run has its
    own)."""

    runs: tuple[tuple[str, float], ...] = DEFAULT_RUNS
    controls: tuple[tuple[str, float], ...] = DEFAULT_CONTROLS
    control_depth: int = 2
    grid_resolution: int = 150
    net: SGD = SGD()
    data: Spirals = Spirals()


# The dial's activations: the four curves of the headline figure. "centred_sigmoid" is
# sigmoid(z) - 1/2, built from the implementation's sigmoid (see lesson/dial.py).
DIAL_ACTIVATIONS = ("sigmoid", "centred_sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class Dial:
    """The dial: the per-layer gain of the backward pass (and of the forward spread) against
    the weight scale sigma_w * sqrt(n), W ~ N(0, sigma_w^2), n = fan-in = ``width``.

    A square net: width -> depth hidden layers of ``width`` units -> a linear output of
    ``width`` units, so Glorot's and He's scales are exactly 1 and sqrt(2). ``points`` scales
    spaced evenly on a log axis from ``scale_min`` to ``scale_max``, plus the three inits'.
    The forward spread is measured over ``batch`` N(0, 1) inputs, the backward gain from one
    backward pass of each of the first ``backward_rows`` of them (one row: dL/dz exactly).
    """

    depth: int = 16
    width: int = 64
    batch: int = 32
    backward_rows: int = 4
    scale_min: float = 0.05
    scale_max: float = 12.0
    points: int = 25
    seed: int = 0
    activations: tuple[str, ...] = DIAL_ACTIVATIONS


# (activation, learning rate) pairs for the saturation histograms: tanh at lr 0.5 saturates,
# at lr 0.1 much less; the sigmoid at lr 0.5 is the contrast (its units stay unsaturated, and
# its gradient vanishes all the same).
SATURATION_RUNS = (("tanh", 0.5), ("tanh", 0.1), ("sigmoid", 0.5))


@dataclass(frozen=True)
class Saturation:
    """Per-layer histograms of the activations over the spirals, at initialisation and after
    ``net.epochs`` epochs of SGD, one net per (activation, lr) of ``runs`` (``net.lr`` unused).
    Fewer epochs than the training experiment: saturation at lr 0.5 sets in within them."""

    runs: tuple[tuple[str, float], ...] = SATURATION_RUNS
    bins: int = 40
    net: SGD = SGD(epochs=30)
    data: Spirals = Spirals()


@dataclass(frozen=True)
class Config:
    """The settings of all the experiments."""

    flow: Flow = field(default_factory=Flow)
    speed: Speed = field(default_factory=Speed)
    training: Training = field(default_factory=Training)
    dial: Dial = field(default_factory=Dial)
    saturation: Saturation = field(default_factory=Saturation)


FULL = Config()
QUICK = Config(
    flow=Flow(depth=6, width=16, batch=16),
    speed=Speed(net=SGD(depth=4, width=16, epochs=3), data=Spirals(n_per_class=40)),
    training=Training(net=SGD(depth=4, width=16, epochs=4), data=Spirals(n_per_class=40),
                      grid_resolution=40),
    dial=Dial(depth=6, width=16, batch=8, backward_rows=2, points=7),
    saturation=Saturation(net=SGD(depth=4, width=16, epochs=3), data=Spirals(n_per_class=40),
                          bins=10),
)
