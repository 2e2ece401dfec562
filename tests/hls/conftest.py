import pytest


@pytest.fixture(scope="session")
def csim_cache(request):
    """Compiled C-simulation programs, kept across runs (keyed by a hash of their sources)."""
    return request.config.cache.mkdir("fpgabnn_csim")
