import pytest


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs a CUDA GPU and Triton; skipped otherwise')


@pytest.fixture
def backend(monkeypatch):
    """Set BACLIP_OPS_BACKEND for one test: ``backend('torch')``."""

    def set_backend(value: str) -> None:
        monkeypatch.setenv('BACLIP_OPS_BACKEND', value)

    return set_backend
