"""Fixtures of the API tests: the tiny assets and one inferencer on them (both built once)."""
import pytest

from test_apis.apis_test_utils import get_tiny_assets


@pytest.fixture(scope='session')
def tiny_assets(tmp_path_factory):
    return get_tiny_assets(tmp_path_factory)


@pytest.fixture(scope='session')
def inferencer(tiny_assets):
    from mmseg_baclip.apis import OVCOSInferencer
    return OVCOSInferencer(tiny_assets.config, weights=tiny_assets.checkpoint, device='cpu',
                           show_progress=False)
