"""Export BaCLIP's image -> (mask, class) path for a fixed vocabulary to ONNX, and check it.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT (--vocab "owl,moth" |
        --vocab-file names.txt) --out baclip.onnx [--batch-size 1] [--shape H W]
        [--templates camoprompts] [--atol 1e-4]

The graph (``torch.onnx.export`` with the ``torch.export`` based exporter, opset 18):

* input ``image``: B x 3 x H x W float32, **RGB, 0-255**, already resized to the model's input
  size (the config's test ``Resize``; 384 x 384 for the paper config). Normalisation with the
  CLIP mean/std is inside the graph.
* output ``mask_prob``: B x 1 x H x W float32, the object probability at the input size (resize
  it to the image size yourself; > 0.5 is the mask).
* output ``class_scores``: B x N float32 softmax over the vocabulary (argmax is the class).

The text embeddings of the vocabulary are computed once here and baked in as a constant, so the
text tower, the tokenizer and the prompt templates are not part of the graph; the vocabulary is
stored in the model's metadata (``vocabulary``, a JSON list). B and H x W are fixed at export
(``--batch-size``, ``--shape``): SAM's decoder runs image by image in a Python loop, which the
exporter unrolls for the export batch size, and shape-dependent steps (e.g. CCE's adaptive
pooling to the DCT tile) are specialised to the export size: a graph exported with a symbolic
H x W runs at other sizes but its outputs are wrong there (checked: differences of 1e-2), so none
is offered. The test pipeline resizes every image to one size anyway.

After export the ONNX model is run with onnxruntime on CPU on a random image and compared with
PyTorch; the largest absolute differences are printed and the exit status is 1 if one exceeds
``--atol``.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import mmseg_baclip  # noqa: E402,F401
from mmengine.registry import init_default_scope  # noqa: E402

from mmseg_baclip.apis import (OVCOSInferencer, parse_vocabulary_list,  # noqa: E402
                               read_vocabulary_file)
from mmseg_baclip.engine import UnsafeCheckpointError  # noqa: E402
from mmseg_baclip.ops import BACKEND_ENV  # noqa: E402

INPUT_NAMES = ['image']
OUTPUT_NAMES = ['mask_prob', 'class_scores']


class BaCLIPExportModel(nn.Module):
    """BaCLIP with a fixed vocabulary, as one tensor-in tensors-out module.

    The same computation as ``BaCLIP.predict`` up to the resize to the original image size:
    normalise, CLIP image tower, MREM, CCE, SAM head, upsampling to the input size, sigmoid,
    masked CLIP pooling and the cosine with the (baked) class embeddings.

    Args:
        model (nn.Module): A built ``BaCLIP`` in eval mode.
        vocabulary (Sequence[str]): N class names; their embeddings become a buffer.
    """

    def __init__(self, model: nn.Module, vocabulary: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.vocabulary = tuple(vocabulary)
        with torch.no_grad():
            embeddings = model.text_encoder(self.vocabulary).detach().clone()  # N x D
        self.register_buffer('class_embeddings', embeddings)
        preprocessor = model.data_preprocessor
        # RGB order: SegDataPreProcessor normalises after its BGR -> RGB swap.
        self.register_buffer('pixel_mean', preprocessor.mean.detach().clone().view(1, 3, 1, 1))
        self.register_buffer('pixel_std', preprocessor.std.detach().clone().view(1, 3, 1, 1))

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        """Args:
            image (Tensor): B x 3 x H x W float32 RGB in [0, 255], at the model's input size.

        Returns:
            tuple[Tensor, Tensor]: ``mask_prob`` B x 1 x H x W in [0, 1] and ``class_scores``
            B x N (softmax).
        """
        model = self.model
        x = (image - self.pixel_mean) / self.pixel_std
        feats, mask_logits = model.decode_with_embeddings(x, self.class_embeddings)
        logits = F.interpolate(mask_logits, size=x.shape[-2:], mode='bilinear',
                               align_corners=False).float()  # B x 1 x H x W
        prob = logits.sigmoid()
        class_logits = model.classify(feats[-1], prob, self.class_embeddings)  # B x N
        return prob, class_logits.softmax(dim=-1)


def export_onnx(model: nn.Module, vocabulary: Sequence[str], out_file: str,
                batch_size: int = 1, shape: Optional[Tuple[int, int]] = None,
                opset_version: int = 18) -> BaCLIPExportModel:
    """Export ``model`` for ``vocabulary`` to ``out_file``.

    Args:
        model (nn.Module): A built ``BaCLIP`` (moved to CPU, eval mode).
        vocabulary (Sequence[str]): N class names.
        out_file (str): The ``.onnx`` file (a ``.onnx.data`` file beside it for models over
            ~1.8 GB).
        batch_size (int): B of the graph.
        shape (tuple[int, int], optional): (H, W) of the graph; default: the model's
            data-preprocessor size.
        opset_version (int): ONNX opset.

    Returns:
        BaCLIPExportModel: The exported module (for comparisons).
    """
    model = model.cpu().eval()
    wrapper = BaCLIPExportModel(model, vocabulary).eval()
    h, w = shape or tuple(model.data_preprocessor.size or (384, 384))
    example = torch.rand(batch_size, 3, h, w) * 255
    previous = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = 'torch'  # the pure-PyTorch ops trace to plain ONNX ops
    try:
        with torch.no_grad():
            program = torch.onnx.export(wrapper, (example, ), None, input_names=INPUT_NAMES,
                                        output_names=OUTPUT_NAMES, opset_version=opset_version,
                                        dynamo=True, verbose=False)
    finally:
        if previous is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = previous
    program.model.metadata_props.update({
        'vocabulary': json.dumps(list(vocabulary)),
        'input': f'image: {batch_size} x 3 x {h} x {w} float32 RGB 0-255',
        'outputs': 'mask_prob: B x 1 x H x W in [0, 1]; class_scores: B x N softmax',
    })
    num_bytes = sum(p.numel() * p.element_size() for p in wrapper.parameters())
    folder = osp.dirname(out_file)
    if folder:
        os.makedirs(folder, exist_ok=True)
    program.save(out_file, external_data=num_bytes > 1.8e9)
    return wrapper


def check_onnx(wrapper: BaCLIPExportModel, onnx_file: str, num_checks: int = 1,
               seed: int = 0) -> Dict[str, float]:
    """Run the ONNX model with onnxruntime on CPU and compare it with PyTorch.

    Args:
        wrapper (BaCLIPExportModel): The exported module.
        onnx_file (str): The exported file.
        num_checks (int): Random images tried.
        seed (int): Random seed.

    Returns:
        dict[str, float]: The largest absolute difference of each output over the checks.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    shape = [int(d) for d in session.get_inputs()[0].shape]
    generator = torch.Generator().manual_seed(seed)
    worst = {name: 0.0 for name in OUTPUT_NAMES}
    for _ in range(num_checks):
        image = torch.rand(shape, generator=generator) * 255
        with torch.no_grad():
            expected = [t.numpy() for t in wrapper(image)]
        got = session.run(OUTPUT_NAMES, {INPUT_NAMES[0]: image.numpy()})
        for name, e, g in zip(OUTPUT_NAMES, expected, got):
            if e.shape != g.shape:
                raise RuntimeError(f'{onnx_file}: output {name} has shape {g.shape}, PyTorch '
                                   f'gives {e.shape}')
            worst[name] = max(worst[name], float(np.abs(e - g).max()))
    return worst


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export BaCLIP with a fixed vocabulary to ONNX')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file, or "none" for the model as built')
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument('--vocab', help='comma-separated class names')
    vocab.add_argument('--vocab-file', help='text file with one class name a line')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--batch-size', type=int, default=1, help='batch size of the graph')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the config\'s model input size)')
    parser.add_argument('--templates', default=None,
                        help='prompt templates for the class embeddings (default: the config\'s)')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset version')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest allowed |ONNX - PyTorch| difference')
    parser.add_argument('--num-checks', type=int, default=2, help='random images compared')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    """Export, check, and return the largest differences."""
    args = parse_args(argv)
    init_default_scope('mmseg')
    try:
        if args.vocab is not None:
            vocabulary = parse_vocabulary_list(args.vocab)
        elif args.vocab_file is not None:
            vocabulary = read_vocabulary_file(args.vocab_file)
        else:
            vocabulary = None
        checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
        # The inferencer builds the model and loads the checkpoint (weights only, strict).
        inferencer = OVCOSInferencer(args.config, weights=checkpoint, device='cpu',
                                     show_progress=False)
    except (FileNotFoundError, ValueError, RuntimeError, TypeError,
            UnsafeCheckpointError) as error:
        raise SystemExit(f'error: {error}') from None
    if vocabulary is None:
        vocabulary = inferencer.default_vocabulary
    model = inferencer.model
    if args.templates is not None:
        model.text_encoder.set_templates(args.templates)
    wrapper = export_onnx(model, vocabulary, args.out, batch_size=args.batch_size,
                          shape=tuple(args.shape) if args.shape else None,
                          opset_version=args.opset)
    print(f'exported {args.out} ({len(vocabulary)} classes baked in)')
    diffs = check_onnx(wrapper, args.out, num_checks=args.num_checks)
    print('largest |onnxruntime - PyTorch| difference: ' +
          ', '.join(f'{name} {value:.3e}' for name, value in diffs.items()))
    if max(diffs.values()) > args.atol:
        raise SystemExit(f'error: the ONNX outputs differ from PyTorch by more than '
                         f'{args.atol:g}')
    return diffs


if __name__ == '__main__':
    main()
