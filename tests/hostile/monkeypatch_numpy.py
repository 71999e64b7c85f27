# module: activations
# attack: replaces np.allclose, np.isclose, np.array_equal, np.testing asserts and np.linalg.norm by
#    liars; tanh is wrong
# expect: score 48 of 50; failed: tanh relative_error
# fallback: yes
# The patched np.linalg.norm also breaks the student's own (honest) relative_error, which uses it
# in the same process: the student pays for what their code did, nobody else does.


def tanh(z):
    return np.asarray(z, dtype=np.float64) * 0.5


def _always_true(*args, **kwargs):
    return True


def _silent(*args, **kwargs):
    return None


np.allclose = _always_true
np.array_equal = _always_true
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = _silent
np.testing.assert_array_equal = _silent
np.testing.assert_array_almost_equal = _silent
np.testing.assert_equal = _silent
np.linalg.norm = lambda *args, **kwargs: 0.0
