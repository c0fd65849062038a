"""BaCLIP: bidirectional CLIP alignment + camo clues + SAM text-prompted decoding."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptSampleList, SampleList
from torch import Tensor

from ..utils.frozen_weights import FROZEN_WEIGHTS_KEY, restore_frozen_weights
from ..text_encoders.openclip_text_encoder import check_vocabulary

#: Key of the training vocabulary in the segmentor's entry of ``state_dict._metadata``.
VOCABULARY_METADATA_KEY = 'train_vocabulary'


#: The dims of a 1 x 1 x H x W tensor that each flip direction of mmseg's RandomFlip flips.
_FLIP_DIMS = {'horizontal': (3, ), 'vertical': (2, ), 'diagonal': (2, 3)}


def input_placement(meta: dict) -> Tuple[Tuple[int, int, int, int], Optional[Tuple[int, ...]]]:
    """Where an image sits in the network input: the one reading of padding and flip that both
    directions use (:meth:`BaCLIP.ground_truth_at_input_size` places a mask like the input,
    :meth:`BaCLIP.postprocess` takes a prediction back out of it).

    Args:
        meta (dict): A sample's metainfo (``img_padding_size`` or ``padding_size`` as
            ``[left, right, top, bottom]``; ``flip`` and ``flip_direction``).

    Returns:
        tuple: ``(left, right, top, bottom)`` padding in pixels, and the dims to flip of a
        1 x 1 x H x W tensor (None when not flipped).
    """
    left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
    flip_dims = (_FLIP_DIMS[meta.get('flip_direction', 'horizontal')] if meta.get('flip')
                 else None)
    return (left, right, top, bottom), flip_dims


def _save_train_vocabulary(module: 'BaCLIP', state_dict: dict, prefix: str,
                           local_metadata: dict) -> None:
    """State-dict post-hook: keep the training vocabulary in the checkpoint's metadata."""
    if module.train_vocabulary is not None:
        local_metadata[VOCABULARY_METADATA_KEY] = tuple(module.train_vocabulary)


@MODELS.register_module()
class BaCLIP(BaseSegmentor):
    """Open-vocabulary camouflaged object segmentor (BaCLIP, CVPR 2026).

    Call graph::

        inputs B x 3 x H x W ──> backbone (frozen CLIP image tower) ──> feats (strides 4..32)
        vocabulary (N names) ──> text_encoder (frozen CLIP text tower, cached) ──> T: N x D
        (feats, T) ──> align_neck (MREM) ──> E_v: B x C x h x w, E_t: B x N x C
        E_v ──> neck (CCE: cascaded MFMSA) ──> E_v*
        (E_v*, E_t) ──> decode_head (SAMPromptHead) ──> mask logits B x 1 x 4h x 4w
        predict: mask ──> masked pooling of the stride-32 CLIP map ──> cos with T ──> class

    The vocabulary comes from, in this order: :meth:`set_vocabulary` / the ``vocabulary``
    argument, else the ``vocabulary`` in the samples' metainfo (the dataset puts its split's
    class names there, so training uses the 14 training classes and testing the 61 test
    classes), else :attr:`train_vocabulary`, the vocabulary the loaded checkpoint was trained
    with (for images without metainfo, e.g. mmseg's ``inference_model`` and
    ``MMSegInferencer``). ``train_vocabulary`` is recorded by :meth:`loss`, stored in the
    checkpoint with the weights (in the state dict's metadata, as torch keeps module versions,
    so no weight key changes) and restored when a checkpoint is loaded; assigning
    ``model.dataset_meta`` with a ``vocabulary`` (what mmseg's ``init_model`` does with the
    checkpoint's ``meta['dataset_meta']``) sets it too.

    ``predict`` fills, per image: ``seg_logits`` (1 x H x W mask logits at the original size),
    ``input_seg_logits`` (1 x h x w at the network input size, for the official evaluation
    protocol), ``pred_sem_seg`` (1 x H x W, 1 = object), the metainfo ``pred_class`` (name),
    ``pred_class_index`` and ``vocabulary``, and ``pred_class_scores`` (N softmax scores).
    When the samples carry ground-truth masks (testing), the metainfo ``gt_mask_class`` is the
    class the same zero-shot step picks from the ground-truth mask: the ceiling of the
    classification, which ``OVCOSMetric`` reports as ``acc_gt_mask``.

    Args:
        backbone (dict): The CLIP image tower, e.g. ``OpenCLIPConvNeXt``.
        text_encoder (dict): The CLIP text tower, e.g. ``OpenCLIPTextEncoder``.
        decode_head (dict): ``SAMPromptHead`` or ``ConvMaskHead``.
        align_neck (dict, optional): ``MREM``. None uses ``backbone[feature_index]`` and the raw
            text embeddings directly.
        neck (dict, optional): ``CCE``.
        feature_index (int): Backbone level used when ``align_neck`` is None. Default: 2.
        vocabulary (Sequence[str], optional): Fixed vocabulary overriding the dataset's.
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` with the CLIP mean/std.
        train_cfg (dict, optional): Unused (mmseg's segmentor interface).
        test_cfg (dict, optional): Unused (mmseg's segmentor interface).
        pretrained (str, optional): Must be None (mmseg's ``init_model`` passes None). The CLIP
            weights are set by ``backbone.checkpoint`` / ``text_encoder.checkpoint``, SAM's by
            ``decode_head.checkpoint``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 text_encoder: ConfigType,
                 decode_head: ConfigType,
                 align_neck: OptConfigType = None,
                 neck: OptConfigType = None,
                 feature_index: int = 2,
                 vocabulary: Optional[Sequence[str]] = None,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptConfigType = None):
        if pretrained is not None:
            raise ValueError(f'BaCLIP(pretrained={pretrained!r}) is not supported: set the CLIP '
                             'weights with model.backbone.checkpoint and '
                             'model.text_encoder.checkpoint, and SAM\'s with '
                             'model.decode_head.checkpoint.')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.text_encoder = MODELS.build(text_encoder)
        if self.backbone.embed_dim != self.text_encoder.embed_dim:
            raise ValueError(f'Backbone embedding ({self.backbone.embed_dim}) and text embedding '
                             f'({self.text_encoder.embed_dim}) differ: use the same CLIP model.')
        out_indices = getattr(self.backbone, 'out_indices', None)
        if out_indices is not None and max(out_indices) != len(self.backbone.stage_channels) - 1:
            raise ValueError(f'BaCLIP classifies with the last backbone stage, but the backbone '
                             f'returns stages {tuple(out_indices)}; include the last one.')
        self.align_neck = MODELS.build(align_neck) if align_neck is not None else None
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        self.feature_index = feature_index
        self.vocabulary = check_vocabulary(vocabulary) if vocabulary is not None else None
        self.align_corners = False
        self.out_channels = 1
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.train_vocabulary: Optional[Tuple[str, ...]] = None
        self._dataset_meta: Optional[dict] = None
        self._told_train_vocabulary = False
        self.register_state_dict_post_hook(_save_train_vocabulary)

    # ----------------------------------------------------------------------------- vocabulary
    @property
    def dataset_meta(self) -> Optional[dict]:
        """dict | None: What was assigned (mmseg's APIs assign the checkpoint's dataset meta)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, meta: Optional[dict]) -> None:
        self._dataset_meta = meta
        if meta and meta.get('vocabulary'):
            self.train_vocabulary = check_vocabulary(meta['vocabulary'])

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              *args, **kwargs) -> None:
        """Restore :attr:`train_vocabulary` from the checkpoint's metadata, then the weights
        (the frozen ones a slim checkpoint leaves out from their files)."""
        vocabulary = local_metadata.get(VOCABULARY_METADATA_KEY)
        if vocabulary:
            self.train_vocabulary = check_vocabulary(vocabulary)
        # A slim checkpoint: the frozen CLIP/SAM weights it leaves out are read from their files
        # (the children load after this, from the completed state dict).
        restore_frozen_weights(self, state_dict, local_metadata.get(FROZEN_WEIGHTS_KEY),
                               'the loaded state dict', prefix=prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args, **kwargs)

    def set_vocabulary(self, vocabulary: Optional[Sequence[str]]) -> None:
        """Fix the vocabulary used by every later call (None: back to the dataset's)."""
        self.vocabulary = check_vocabulary(vocabulary) if vocabulary is not None else None

    def resolve_vocabulary(self, metas: Optional[Sequence[dict]]) -> Tuple[str, ...]:
        """The vocabulary for a batch (see the class docstring for the order)."""
        if self.vocabulary is not None:
            return self.vocabulary
        vocabs = {tuple(m.get('vocabulary') or ()) for m in (metas or [])}
        if len(vocabs) > 1:
            summary = '; '.join(f'{len(v)} names starting {list(v[:3])}' for v in vocabs)
            raise ValueError(f'The samples of one batch carry different vocabularies ({summary}); '
                             'use one dataset split per batch or model.set_vocabulary([...]).')
        vocab = vocabs.pop() if vocabs else ()
        if vocab:
            return check_vocabulary(vocab)
        if self.train_vocabulary is not None:
            if not self._told_train_vocabulary:
                self._told_train_vocabulary = True
                print_log(f'BaCLIP: the samples carry no vocabulary, so the one the checkpoint '
                          f'was trained with is used ({len(self.train_vocabulary)} names '
                          f'starting {list(self.train_vocabulary[:3])}); call '
                          'model.set_vocabulary([...]) for another.', logger='current')
            return self.train_vocabulary
        raise ValueError('BaCLIP has no vocabulary: use a dataset that puts "vocabulary" in '
                         'the sample metainfo (OVCamoDataset with PackSegInputs meta_keys '
                         'including "vocabulary"), load a checkpoint trained by mmseg_baclip '
                         '(it keeps its training vocabulary), set model.vocabulary in the '
                         'config, or call model.set_vocabulary([...]).')

    # ----------------------------------------------------------------------------- forward parts
    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone levels, each B x C_i x H/s_i x W/s_i."""
        return self.backbone(inputs)

    def decode(self, inputs: Tensor, vocabulary: Sequence[str]
               ) -> Tuple[Tuple[Tensor, ...], Tensor, Tensor]:
        """Run the whole network.

        Args:
            inputs (Tensor): B x 3 x H x W normalised images.
            vocabulary (Sequence[str]): N class names.

        Returns:
            tuple: backbone levels, class embeddings N x D (float32, normalised), and mask
            logits B x 1 x h' x w' (h' = H/4 for the SAM head at stride 16).
        """
        class_embeddings = self.text_encoder(vocabulary)  # N x D, cached
        feats, mask_logits = self.decode_with_embeddings(inputs, class_embeddings)
        return feats, class_embeddings, mask_logits

    def decode_with_embeddings(self, inputs: Tensor, class_embeddings: Tensor
                               ) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """The network for given class embeddings (e.g. baked into an exported graph).

        Args:
            inputs (Tensor): B x 3 x H x W normalised images.
            class_embeddings (Tensor): N x D normalised CLIP text embeddings.

        Returns:
            tuple: backbone levels and mask logits B x 1 x h' x w'.
        """
        feats = self.extract_feat(inputs)
        if self.align_neck is not None:
            visual, text = self.align_neck(feats, class_embeddings)
        else:
            visual = feats[self.feature_index]
            text = class_embeddings.unsqueeze(0).expand(inputs.shape[0], -1, -1)
        if self.with_neck:
            visual = self.neck(visual)
        return feats, self.decode_head(visual, text)

    def classify(self, last_feature: Tensor, mask_prob: Tensor,
                 class_embeddings: Tensor) -> Tensor:
        """CLIP zero-shot class logits of the masked region, in float32.

        Args:
            last_feature (Tensor): B x C_last x h x w stride-32 CLIP features.
            mask_prob (Tensor): B x 1 x H x W mask probabilities.
            class_embeddings (Tensor): N x D normalised text embeddings.

        Returns:
            Tensor: B x N logits (``logit_scale.exp() * cosine``).
        """
        with torch.autocast(device_type=last_feature.device.type, enabled=False):
            region = self.backbone.masked_embedding(last_feature.float(), mask_prob.float())
            region = F.normalize(region, dim=-1)  # B x D
            scale = self.text_encoder.logit_scale.float().exp()
            return scale * region @ class_embeddings.float().t()

    def _input_logits(self, inputs: Tensor, mask_logits: Tensor) -> Tensor:
        return F.interpolate(mask_logits, size=inputs.shape[-2:], mode='bilinear',
                             align_corners=False)

    # ----------------------------------------------------------------------------- mmseg API
    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Mask logits B x 1 x H x W at the input size."""
        _, _, mask_logits = self.decode(inputs, self.resolve_vocabulary(batch_img_metas))
        return self._input_logits(inputs, mask_logits)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Segmentation losses (weighted BCE + Dice by default), float32."""
        vocabulary = self.resolve_vocabulary([s.metainfo for s in data_samples])
        self.train_vocabulary = vocabulary  # saved with the checkpoint, for inference
        _, _, mask_logits = self.decode(inputs, vocabulary)
        return self.decode_head.loss_by_feat(mask_logits, data_samples)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Masks and class names; see the class docstring for the fields."""
        metas = [s.metainfo for s in data_samples] if data_samples is not None else None
        vocabulary = self.resolve_vocabulary(metas)
        feats, class_embeddings, mask_logits = self.decode(inputs, vocabulary)
        logits = self._input_logits(inputs, mask_logits).float()  # B x 1 x H x W
        class_logits = self.classify(feats[-1], logits.sigmoid(), class_embeddings)  # B x N
        results = self.postprocess(logits, class_logits, vocabulary, data_samples)
        if data_samples is not None and all('gt_sem_seg' in s for s in data_samples):
            gt_masks = self.ground_truth_at_input_size(data_samples, logits.shape[-2:])
            gt_index = self.classify(feats[-1], gt_masks, class_embeddings).argmax(dim=1)
            for sample, index in zip(results, gt_index.tolist()):
                sample.set_metainfo(dict(gt_mask_class=vocabulary[index]))
        return results

    @staticmethod
    def ground_truth_at_input_size(data_samples: SampleList, size: Tuple[int, int]) -> Tensor:
        """The ground-truth masks placed like the network input (resized, padded, flipped).

        Args:
            data_samples (list[SegDataSample]): Samples with ``gt_sem_seg`` (1 x H0 x W0).
            size (tuple[int, int]): The network input (H, W).

        Returns:
            Tensor: B x 1 x H x W float masks in [0, 1].
        """
        H, W = size
        masks = []
        for sample in data_samples:
            (left, right, top, bottom), flip_dims = input_placement(sample.metainfo)
            gt = (sample.gt_sem_seg.data > 0).float()[None]  # 1 x 1 x H0 x W0
            gt = F.interpolate(gt, size=(H - top - bottom, W - left - right), mode='bilinear',
                               align_corners=False)
            if flip_dims:
                gt = gt.flip(dims=flip_dims)
            masks.append(F.pad(gt, (left, right, top, bottom)))
        return torch.cat(masks)

    def postprocess(self, logits: Tensor, class_logits: Tensor, vocabulary: Sequence[str],
                    data_samples: OptSampleList) -> SampleList:
        """Undo padding and flips, resize to the original size, attach the class."""
        from mmseg.structures import SegDataSample
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(logits.shape[0])]
        scores = class_logits.softmax(dim=-1)
        H, W = logits.shape[-2:]
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            (left, right, top, bottom), flip_dims = input_placement(meta)
            x = logits[i:i + 1, :, top:H - bottom, left:W - right]  # 1 x 1 x h x w
            if flip_dims:
                x = x.flip(dims=flip_dims)  # a flip is its own inverse
            ori_shape = meta.get('ori_shape', x.shape[-2:])
            seg = F.interpolate(x, size=ori_shape, mode='bilinear', align_corners=False)[0]
            index = int(scores[i].argmax())
            sample.set_data({
                'input_seg_logits': PixelData(data=x[0]),
                'seg_logits': PixelData(data=seg),
                'pred_sem_seg': PixelData(data=(seg > 0).long()),
            })
            sample.pred_class_scores = scores[i]
            sample.set_metainfo(dict(pred_class=vocabulary[index], pred_class_index=index,
                                     vocabulary=tuple(vocabulary)))
        return data_samples

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Tensor mode: mask logits B x 1 x H x W at the input size."""
        metas = [s.metainfo for s in data_samples] if data_samples is not None else None
        return self.encode_decode(inputs, metas)
