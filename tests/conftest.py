"""Suite-wide set-up: the hypothesis profile every generated test starts from."""

from hypothesis import settings

from tests.strategies import PROFILE

# Before any test module is imported: settings objects built at import inherit from it.
settings.load_profile(PROFILE)
