"""tools/deployment/export_onnx.py: ONNX parity with PyTorch (onnxruntime on CPU), small config."""
import json

import pytest
import torch

from test_apis.apis_test_utils import load_tool

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')  # the torch.export based exporter needs it


def test_export_matches_pytorch(tiny_assets, tmp_path, capsys):
    import onnx
    tool = load_tool('tools/deployment/export_onnx.py')
    out = tmp_path / 'baclip_small.onnx'
    vocabulary = ['owl', 'moth', 'frog']
    diffs = tool.main([tiny_assets.config, tiny_assets.checkpoint, '--vocab', ','.join(vocabulary),
                       '--out', str(out), '--num-checks', '2'])
    printed = capsys.readouterr().out
    assert 'largest |onnxruntime - PyTorch| difference' in printed
    assert set(diffs) == {'mask_prob', 'class_scores'}
    assert max(diffs.values()) < 1e-4

    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta['vocabulary']) == vocabulary
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64,
                                                                                      64]


def test_export_module_is_the_model_prediction(tiny_assets):
    """The exported computation equals BaCLIP.predict at the input size."""
    from mmseg_baclip.apis import OVCOSInferencer
    tool = load_tool('tools/deployment/export_onnx.py')
    model = OVCOSInferencer(tiny_assets.config, weights=tiny_assets.checkpoint, device='cpu',
                            show_progress=False).model
    vocabulary = ('owl', 'moth', 'frog')
    wrapper = tool.BaCLIPExportModel(model, vocabulary).eval()
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 255  # RGB
    with torch.no_grad():
        prob, scores = wrapper(image)
        model.set_vocabulary(vocabulary)
        normalized = (image - wrapper.pixel_mean) / wrapper.pixel_std
        samples = model.predict(normalized)
        model.set_vocabulary(None)
    assert prob.shape == (2, 1, 64, 64) and scores.shape == (2, 3)
    for i, sample in enumerate(samples):
        torch.testing.assert_close(prob[i], sample.input_seg_logits.data.sigmoid(), atol=1e-6,
                                   rtol=0)
        torch.testing.assert_close(scores[i], sample.pred_class_scores, atol=1e-6, rtol=0)
