# module: activations
# attack: relu returns an ndarray subclass whose comparisons and ufuncs always say "equal"
# expect: score 49 of 50; failed: relu
# fallback: yes


class _Liar(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __float__(self):
        return 0.0


def relu(z):
    return np.zeros(np.shape(z)).view(_Liar)
