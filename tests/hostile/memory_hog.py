# module: network
# attack: init_params allocates and touches memory in 64 MiB blocks until it runs out
# expect: score 47 of 50; failed: init_params
# fallback: yes


def init_params(layer_sizes, activation, rng):
    blocks = []
    while True:
        blocks.append(np.ones(8 << 20))
