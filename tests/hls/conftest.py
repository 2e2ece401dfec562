import pytest


@pytest.fixture(scope="session")
def csim_cache(request, tmp_path_factory):
    """Compiled C-simulation programs, kept across runs (keyed by a hash of their sources) when pytest's cache
    is enabled, else for this session only."""
    cache = getattr(request.config, "cache", None)
    return cache.mkdir("fpgabnn_csim") if cache is not None else tmp_path_factory.mktemp("fpgabnn_csim")
