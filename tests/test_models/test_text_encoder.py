import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_baclip.models.text_encoders import TEMPLATE_SETS
from baclip_test_utils import TINY_CLIP


@pytest.fixture(scope='module')
def clip_file(tmp_path_factory):
    torch.manual_seed(0)
    clip = open_clip.create_model(TINY_CLIP, pretrained=None).eval()
    with torch.no_grad():
        clip.logit_scale.fill_(4.2)
    path = tmp_path_factory.mktemp('clip') / 'open_clip_pytorch_model.bin'
    torch.save(clip.state_dict(), path)
    return clip, str(path)


def build(checkpoint=None, templates='camoprompts'):
    enc = MODELS.build(dict(type='OpenCLIPTextEncoder', model_name=TINY_CLIP,
                            checkpoint=checkpoint, templates=templates))
    enc.init_weights()
    return enc


def test_template_set_sizes():
    assert {k: len(v) for k, v in TEMPLATE_SETS.items()} == {
        'camoprompts': 6, 'imagenet': 80, 'vild': 14, 'plain': 1}
    assert all('{}' in t for ts in TEMPLATE_SETS.values() for t in ts)


def test_parity_with_encode_text_and_class_recipe(clip_file):
    clip, path = clip_file
    enc = build(path)
    assert float(enc.logit_scale) == pytest.approx(4.2)
    tokenizer = open_clip.get_tokenizer(TINY_CLIP)
    prompts = ['A photo of the camouflaged owl.', 'a frog']
    with torch.no_grad():
        assert torch.allclose(enc.text(tokenizer(prompts)), clip.encode_text(tokenizer(prompts)),
                              atol=1e-5)
        vocab = ['owl', 'snow leopard']
        emb = enc(vocab)
        templates = TEMPLATE_SETS['camoprompts']
        expected = []
        for name in vocab:
            e = F.normalize(clip.encode_text(tokenizer([t.format(name) for t in templates])), dim=-1)
            expected.append(F.normalize(e.mean(0), dim=-1))
    assert emb.shape == (2, 64)
    assert torch.allclose(emb, torch.stack(expected), atol=1e-5)


def test_embeddings_are_cached(monkeypatch):
    enc = build()
    calls = []
    original = enc.text.forward
    monkeypatch.setattr(enc.text, 'forward', lambda t: calls.append(len(t)) or original(t))
    first = enc(['owl', 'frog'])
    second = enc(['owl', 'frog'])
    assert second is first and calls == [12]
    enc(['owl', 'frog'], templates='plain')  # other templates: a new entry
    assert calls == [12, 2]
    enc.load_state_dict(enc.state_dict())  # new weights invalidate the cache
    enc(['owl', 'frog'])
    assert calls == [12, 2, 12]


def test_frozen():
    enc = build()
    enc.train()
    assert not enc.training and not any(p.requires_grad for p in enc.parameters())
    assert not enc(['owl']).requires_grad


@pytest.mark.parametrize('vocab, error', [([], 'empty'), ('owl', 'string'),
                                          (['owl', 'Owl'], "'Owl' repeats name #0 'owl'"),
                                          (['owl', ' '], "name #1 ' ' is blank"),
                                          (['owl', 'a/b'], 'path separator')])
def test_bad_vocabulary(vocab, error):
    with pytest.raises((ValueError, TypeError), match=error):
        build()(vocab)


def test_unknown_template_set():
    with pytest.raises(KeyError, match='camoprompts'):
        build(templates='nope')


def test_cache_is_dropped_when_the_module_moves():
    enc = build()
    enc(['owl'])
    assert len(enc._cache) == 1
    enc.to(torch.float64)
    assert len(enc._cache) == 0
    assert enc(['owl']).shape == (1, 64)
