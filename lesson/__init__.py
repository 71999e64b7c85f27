"""The lesson's experiments: watch gradients vanish in a deep network, and watch the cure work.

Given code, the same for every student. It runs on any implementation of the exercises' API:
the student's package, a notebook's functions or the reference, passed in as an
``Implementation``. It never computes a forward pass, a backward pass or an initialisation of
its own: everything about the network comes from the implementation's functions.

    python -m lesson --on exercises [--quick] [--out DIR]
        [--only flow|dial|speed|training|saturation]

1. Gradient flow (``flow``). One backward pass through a 20-layer MLP for every activation x
   initialisation; the gradient norm of every layer's weights and of every pre-activation.
   The dial (``dial``): the per-layer backward and forward gain against the weight scale, one
   curve per activation: vanishing and exploding are the two ends of one dial.
2. Earlier layers learn slower (``train.layer_speed``). While a deep net trains, how far does
   each layer's weight matrix move per epoch, relative to its size?
3. The cure pays (``train.training_comparison``). A 10-layer net on a spiral data set: with
   sigmoid it stays at chance, with ReLU and He initialisation it learns the spirals; tanh
   learns them only with a step small enough to keep its units out of saturation.
4. Saturation (``saturation``): each layer's activation histogram and saturated share, at
   initialisation and after training with a large and a small step.

The studies behind the numbers the lesson quotes (seeds, learning-rate sweeps, frozen layers)
are ``studies`` (``make study``), not part of the students' run.

Modules: ``config`` (the settings, frozen dataclasses), ``implementation`` (whose functions),
``flow``, ``dial``, ``saturation`` and ``train`` (the computation: plain dicts of floats and
float64 arrays), ``plots`` (PNG files from those dicts), ``summary`` (sentences from the
numbers) and ``cli``.
"""
