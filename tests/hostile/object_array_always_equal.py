# module: activations
# attack: leaky_relu returns an object array of items equal to everything
# expect: score 49 of 50; failed: leaky_relu
# fallback: yes


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return False

    def __gt__(self, other):
        return False

    def __float__(self):
        return 0.0

    def __abs__(self):
        return 0.0

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__
    __hash__ = object.__hash__


def leaky_relu(z, alpha=0.01):
    shape = np.shape(z)
    items = np.empty(int(np.prod(shape)), dtype=object)
    for index in range(items.size):
        items[index] = _AlwaysEqual()
    return items.reshape(shape)
