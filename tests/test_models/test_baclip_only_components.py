"""MREM and the mask heads need BaCLIP's inputs: inside a stock mmseg segmentor they fail at
build time with one clear message; on their own and inside BaCLIP they build."""
import pytest
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from baclip_test_utils import TINY_CLIP, tiny_baclip_cfg

FCN_HEAD = dict(type='FCNHead', in_channels=320, in_index=3, channels=16, num_convs=1,
                concat_input=False, num_classes=2)
MREM = dict(type='MREM', in_channels=(80, 160, 320), text_channels=64, embed_dims=64,
            num_heads=4)
SAM_HEAD = dict(type='SAMPromptHead', in_channels=64, text_channels=64, transformer_dim=64,
                transformer_mlp_dim=128, transformer_heads=4, prompt_heads=4)


def stock_model(neck=None, decode_head=FCN_HEAD, type='EncoderDecoder'):
    """A stock mmseg EncoderDecoder (BaCLIP's tiny CLIP backbone works there)."""
    return dict(type=type, backbone=dict(type='OpenCLIPConvNeXt', model_name=TINY_CLIP),
                neck=neck, decode_head=decode_head)


def message(name, role):
    # what the component is and needs, where it works, and what works in a stock config
    return (rf"(?s){name} works only inside BaCLIP, as its `{role}`: .*"
            rf"model=dict\(type='BaCLIP', .*{role}=dict\(type='{name}'.*"
            r'OpenCLIPConvNeXt.*CCE.*OVCamoDataset.*IoUMetric.*configs/reuse/.*'
            r'Reusing the components')


def test_mrem_as_stock_neck_fails_at_build():
    with pytest.raises(TypeError, match=message('MREM', 'align_neck')) as info:
        MODELS.build(stock_model(neck=MREM))
    assert "BaCLIP's text input, the class-name embeddings" in str(info.value)
    assert 'built inside EncoderDecoder' in str(info.value)


@pytest.mark.parametrize('extra', [
    dict(),
    # what a stock decode-head config carries: no "unexpected keyword argument" error
    dict(num_classes=2, channels=64, in_index=0, align_corners=False)])
def test_sam_prompt_head_as_stock_decode_head_fails_at_build(extra):
    with pytest.raises(TypeError, match=message('SAMPromptHead', 'decode_head')) as info:
        MODELS.build(stock_model(decode_head=dict(SAM_HEAD, **extra)))
    assert "BaCLIP's text input" in str(info.value)
    assert 'unexpected keyword' not in str(info.value)


def test_conv_mask_head_as_stock_decode_head_fails_at_build():
    with pytest.raises(TypeError, match=message('ConvMaskHead', 'decode_head')):
        MODELS.build(stock_model(decode_head=dict(type='ConvMaskHead', in_channels=320,
                                                  num_classes=2)))


def test_built_on_their_own_they_work():
    assert type(MODELS.build(MREM)).__name__ == 'MREM'
    assert type(MODELS.build(SAM_HEAD)).__name__ == 'SAMPromptHead'
    assert type(MODELS.build(dict(type='ConvMaskHead', in_channels=8))).__name__ == 'ConvMaskHead'


def test_decode_head_arguments_give_the_same_message_outside_a_segmentor():
    with pytest.raises(TypeError, match=message('SAMPromptHead', 'decode_head')) as info:
        MODELS.build(dict(SAM_HEAD, num_classes=2))
    assert 'mmseg BaseDecodeHead arguments (num_classes)' in str(info.value)
    # other unknown arguments stay an ordinary unexpected-keyword error
    with pytest.raises(TypeError, match=r"SAMPromptHead.__init__\(\) got unexpected keyword "
                                        r'argument\(s\): transfomer_dim'):
        MODELS.build(dict(SAM_HEAD, transfomer_dim=64))


def test_inside_baclip_they_build():
    model = MODELS.build(tiny_baclip_cfg())
    assert type(model.align_neck).__name__ == 'MREM'
    assert type(model.decode_head).__name__ == 'SAMPromptHead'
    model = MODELS.build(tiny_baclip_cfg(
        align_neck=None, neck=None, decode_head=dict(type='ConvMaskHead', in_channels=160,
                                                     channels=8)))
    assert type(model.decode_head).__name__ == 'ConvMaskHead'


def test_a_segmentor_can_declare_that_it_supplies_baclip_inputs():

    class TextAwareEncoderDecoder(EncoderDecoder):
        hosts_baclip_components = True

    model = MODELS.build(stock_model(neck=MREM, type=TextAwareEncoderDecoder))
    assert type(model.neck).__name__ == 'MREM'
