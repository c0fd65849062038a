"""OVCOSInferencer: BaCLIP on any images with any class names, in mmseg's inferencer style."""
import copy
import os
import os.path as osp
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer, ModelType
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType

from ..engine import load_weights
from ..utils.image_files import IMAGE_EXTENSIONS
from ..utils.init_report import init_weights_without_report
from ..utils.progress import track_progress
from ..visualization.overlay import draw_ovcos_overlay, save_rgb
from .inference_loader import InputsType, OVCOSInferenceLoader
from .vocabulary import VocabularyType, config_vocabulary, load_vocabulary

#: Image loaders of a test pipeline that the inference loader replaces.
_LOADERS = ('LoadOVCamoImage', 'LoadImageFromFile', 'InferencerLoader', 'LoadImageFromNDArray')
#: Annotation loaders dropped from the test pipeline.
_ANNOTATION_LOADERS = ('LoadOVCamoAnnotations', 'LoadAnnotations', 'LoadDepthAnnotation')


class OVCOSInferencer(BaseInferencer):
    """Open-vocabulary camouflaged object segmentation for users, following ``MMSegInferencer``.

    Example::

        >>> from mmseg_baclip.apis import OVCOSInferencer
        >>> inferencer = OVCOSInferencer('configs/baclip_convnext-l_ovcamo.py',
        ...                              weights='baclip_convnext-l_ovcamo.pth', device='cuda')
        >>> results = inferencer('photos/', vocabulary=['owl', 'moth', 'frog'], batch_size=4)
        >>> results[0]['class'], results[0]['scores']['owl'], results[0]['mask'].shape

    Each call runs ``load -> test pipeline (resize) -> model.test_step -> (overlay) -> dict``
    batch by batch, so memory does not grow with the number of images beyond the returned
    dicts. The vocabulary and template set of a call are put into the model for that call only;
    the text encoder caches the class embeddings, so a vocabulary is encoded once however many
    images and calls use it.

    Args:
        model (str | dict | Config): A config file or a config (``model`` and
            ``test_dataloader`` are used).
        weights (str, optional): A checkpoint written by this project (loaded with
            ``torch.load(weights_only=True)``; every key must match the model; an empty or
            truncated file and NaN/Inf weights are refused, naming the file or the tensors). The
            frozen CLIP/SAM weights a slim checkpoint leaves out are read from the files the
            config names, which must be the ones it was trained with (same sha256). None builds
            the model and calls ``init_weights()`` (without mmengine's per-parameter INFO
            report; warnings still show): CLIP and SAM are read from the local files the config
            names, the new layers are untrained (seed torch first for reproducible ones, e.g.
            ``mmengine.runner.set_random_seed(0)``).
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``... None picks what mmengine's
            ``get_device`` finds.
        scope (str): Registry scope. Defaults to ``'mmseg'``.
        show_progress (bool): Progress when a call has more than one batch, on stderr: a bar
            on a terminal, a few lines in a log (see :func:`track_progress`). Defaults to True.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'show', 'wait_time', 'img_out_dir', 'alpha', 'return_vis'}
    postprocess_kwargs: set = {'pred_out_dir', 'return_maps'}

    def __init__(self,
                 model: Union[ModelType, str],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: str = 'mmseg',
                 show_progress: bool = True) -> None:
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'config file not found: {model}')
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'checkpoint file not found: {weights}')
        init_default_scope(scope)
        self._default_vocabulary: Optional[Tuple[str, ...]] = None
        self.failed: List[Dict[str, str]] = []
        super().__init__(model=model, weights=weights, device=device, scope=scope,
                         show_progress=show_progress)

    # ------------------------------------------------------------------------------ set-up
    def _init_model(self, cfg: ConfigType, weights: Optional[str], device: str = 'cpu'
                    ) -> nn.Module:
        """Build the model, load ``weights`` (weights-only, strict) or run ``init_weights``."""
        model = MODELS.build(cfg.model)
        model.cfg = cfg
        self._load_weights_to_model(model, weights, cfg)
        model.to(device)
        model.eval()
        return model

    def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[str],
                               cfg: Optional[ConfigType]) -> None:
        """Load a checkpoint file into ``model``; every key must match.

        Args:
            model (nn.Module): The built model.
            checkpoint (str, optional): Checkpoint path; None runs ``model.init_weights()``
                without mmengine's per-parameter report.
            cfg (Config, optional): The config (unused).

        Raises:
            BrokenCheckpointError: The file is empty, truncated or corrupt.
            UnsafeCheckpointError: The file needs more than ``torch.load(weights_only=True)``.
            CheckpointMismatchError: The file does not fit the model of the config.
            NonFiniteWeightsError: Weights hold NaN or Inf (the tensors are named).
            FrozenWeightsMismatchError: A slim checkpoint, and the config names other frozen
                weight files than those it was trained with (both files are named).
        """
        if checkpoint is None:
            init_weights_without_report(model)
            return
        load_weights(model, checkpoint)  # the Runner's reading and checks, outside a Runner

    def _init_pipeline(self, cfg: ConfigType) -> Compose:
        """The config's test pipeline with the inference loader and without annotations."""
        pipeline_cfg = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        pipeline_cfg = [t for t in pipeline_cfg if t['type'] not in _ANNOTATION_LOADERS]
        index = next((i for i, t in enumerate(pipeline_cfg) if t['type'] in _LOADERS), -1)
        if index == -1:
            raise ValueError(f'the test pipeline has no image loader (one of {_LOADERS}): '
                             f'{[t["type"] for t in pipeline_cfg]}')
        loader_cfg = dict(pipeline_cfg[index])
        loader_type = loader_cfg.pop('type')
        kwargs = {k: v for k, v in loader_cfg.items()
                  if loader_type == 'LoadOVCamoImage' or k in ('imdecode_backend',
                                                               'backend_args')}
        self.loader = OVCOSInferenceLoader(**kwargs)
        pipeline_cfg[index] = self.loader
        return Compose(pipeline_cfg)

    def _init_collate(self, cfg: ConfigType) -> Callable:
        """mmengine's ``pseudo_collate`` unless the config's test dataloader names one."""
        if cfg.get('test_dataloader', {}).get('collate_fn') is None:
            return pseudo_collate
        return super()._init_collate(cfg)

    def _init_visualizer(self, cfg: ConfigType) -> None:
        """No mmengine visualizer: overlays are drawn by :func:`draw_ovcos_overlay`."""
        return None

    # ------------------------------------------------------------------------------ vocabulary
    @property
    def default_vocabulary(self) -> Tuple[str, ...]:
        """tuple[str, ...]: The config's test vocabulary (see :func:`config_vocabulary`)."""
        if self._default_vocabulary is None:
            self._default_vocabulary, _ = config_vocabulary(self.cfg)
        return self._default_vocabulary

    def resolve_vocabulary(self, vocabulary: Optional[VocabularyType]) -> Tuple[str, ...]:
        """The vocabulary of a call: ``vocabulary`` (names or a file) or the default."""
        return self.default_vocabulary if vocabulary is None else load_vocabulary(vocabulary)

    @contextmanager
    def vocabulary_context(self, vocabulary: Sequence[str],
                           templates: Optional[Union[str, Sequence[str]]]) -> Iterator[None]:
        """Put a vocabulary and template set into the model, restoring the old ones after.

        Args:
            vocabulary (Sequence[str]): N class names.
            templates (str | Sequence[str], optional): Template set; None keeps the config's.
        """
        text_encoder = self.model.text_encoder
        old_vocabulary, old_templates = self.model.vocabulary, text_encoder.templates
        self.model.set_vocabulary(vocabulary)
        if templates is not None:
            text_encoder.set_templates(templates)
        try:
            yield
        finally:
            self.model.set_vocabulary(old_vocabulary)
            text_encoder.set_templates(old_templates)

    # ------------------------------------------------------------------------------ inputs
    def _inputs_to_list(self, inputs: InputsType) -> list:
        """A path, an array, a list of them, or a folder (its image files, sorted by name)."""
        if isinstance(inputs, str) and osp.isdir(inputs):
            names = sorted(f for f in os.listdir(inputs)
                           if f.lower().endswith(IMAGE_EXTENSIONS)
                           and osp.isfile(osp.join(inputs, f)))
            if not names:
                raise FileNotFoundError(f'no image file ({", ".join(IMAGE_EXTENSIONS)}) in the '
                                        f'folder {inputs}')
            return [osp.join(inputs, name) for name in names]
        if isinstance(inputs, (str, np.ndarray)):
            return [inputs]
        inputs = list(inputs)
        if not inputs:
            raise ValueError('no input image given')
        return inputs

    @staticmethod
    def _output_names(inputs: list) -> List[str]:
        """A distinct file stem per input (the file name, or ``array_00000`` for arrays)."""
        names, used = [], set()
        for i, item in enumerate(inputs):
            stem = (osp.splitext(osp.basename(item))[0] if isinstance(item, str) else
                    f'array_{i:05d}')
            name, k = stem, 1
            while name in used:
                name, k = f'{stem}_{k}', k + 1
            used.add(name)
            names.append(name)
        return names

    def _load_batch(self, items: list, names: List[str], on_error: str
                    ) -> Tuple[List[dict], list, List[str]]:
        """Run the pipeline on a batch of inputs; list the ones that cannot be read in
        :attr:`failed` (``error`` starts with the file's path), unless ``on_error='raise'``."""
        data, kept, kept_names = [], [], []
        for item, name in zip(items, names):
            try:
                data.append(self.pipeline(item))
            except (OSError, ValueError) as error:  # missing / undecodable file, bad array
                if on_error == 'raise':
                    raise
                where = str(item if isinstance(item, str) else name)
                message = str(error)
                if not message.startswith(f'{where}: '):
                    message = f'{where}: {message}'
                self.failed.append(dict(path=where, error=message))
                continue
            kept.append(item)
            kept_names.append(name)
        return data, kept, kept_names

    # ------------------------------------------------------------------------------ call
    def __call__(self,
                 inputs: InputsType,
                 vocabulary: Optional[VocabularyType] = None,
                 templates: Optional[Union[str, Sequence[str]]] = None,
                 batch_size: int = 1,
                 return_datasamples: bool = False,
                 out_dir: str = '',
                 img_out_dir: str = 'overlays',
                 pred_out_dir: str = 'masks',
                 on_error: str = 'warn',
                 **kwargs) -> List[Any]:
        """Segment the camouflaged object of each image and name its class.

        Args:
            inputs (str | np.ndarray | Sequence): An image path, a BGR array, a list of them, or
                a folder (its ``.jpg/.jpeg/.png/.bmp/.tif/.tiff/.webp`` files, sorted).
            vocabulary (str | Sequence[str], optional): Candidate class names, or a text file
                with one name a line (blank lines ignored). Default: the config's test vocabulary
                (:attr:`default_vocabulary`).
            templates (str | Sequence[str], optional): Prompt template set for the class
                embeddings: ``'camoprompts'``, ``'imagenet'``, ``'vild'``, ``'plain'`` or
                templates with ``{}``. None keeps the config's set (``'camoprompts'`` in every
                shipped config), which is what the model was trained with.
            batch_size (int): Images per forward pass. Defaults to 1.
            return_datasamples (bool): Return the model's ``SegDataSample`` objects instead of
                dicts. Defaults to False.
            out_dir (str): If set, write ``<out_dir>/<pred_out_dir>/<name>.png`` (mask, 0/255)
                and ``<out_dir>/<img_out_dir>/<name>.png`` (overlay) per image.
            img_out_dir (str): Overlay sub-folder. Defaults to ``'overlays'``.
            pred_out_dir (str): Mask sub-folder. Defaults to ``'masks'``.
            on_error (str): For a list or folder, what an image that cannot be read does.
                ``'warn'`` (default): the others run, and the call ends with one warning naming
                each such file and what is wrong with it. ``'skip'``: the same without the
                warning, for callers that report :attr:`failed` themselves. ``'raise'``: the
                call stops. Either way :attr:`failed` lists them (``path``, ``error``); a single
                input always raises.
            **kwargs: ``show``, ``wait_time``, ``alpha``, ``return_vis`` (add ``'overlay'``,
                RGB uint8, to each dict) and ``return_maps`` (False leaves out ``prob`` and
                ``mask`` to save memory on large folders).

        Returns:
            list: One item per readable image, in input order. Dicts hold ``path`` (None for
            arrays), ``name`` (output file stem), ``size`` ([H, W]), ``prob`` (H x W float32
            in [0, 1] at the image size), ``mask`` (H x W bool, ``prob > 0.5``), ``class`` (a
            vocabulary name), ``class_index``, ``score`` (its probability), ``scores`` (name
            -> probability, in vocabulary order, summing to 1), ``top5`` ([name, probability]
            pairs, best first) and ``mask_path`` / ``overlay_path`` when files were written.
        """
        if on_error not in ('warn', 'skip', 'raise'):
            raise ValueError(f"on_error must be 'warn', 'skip' or 'raise', got {on_error!r}")
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        single = isinstance(inputs, np.ndarray) or (isinstance(inputs, str)
                                                    and not osp.isdir(inputs))
        vocab = self.resolve_vocabulary(vocabulary)
        pre_kwargs, fwd_kwargs, vis_kwargs, post_kwargs = self._dispatch_kwargs(**kwargs)
        if out_dir:
            vis_kwargs['img_out_dir'] = osp.join(out_dir, img_out_dir)
            post_kwargs['pred_out_dir'] = osp.join(out_dir, pred_out_dir)

        items = self._inputs_to_list(inputs)
        names = self._output_names(items)
        chunks = [(items[i:i + batch_size], names[i:i + batch_size])
                  for i in range(0, len(items), batch_size)]
        self.failed = []
        results: List[Any] = []
        with self.vocabulary_context(vocab, templates):
            for chunk_items, chunk_names in track_progress(
                    chunks, 'Inference', enabled=self.show_progress and len(chunks) > 1):
                data, kept, kept_names = self._load_batch(chunk_items, chunk_names,
                                                          'raise' if single else on_error)
                if not data:
                    continue
                preds = self.forward(self.collate_fn(data), **fwd_kwargs)
                for pred, item, name in zip(preds, kept, kept_names):
                    pred.set_metainfo(dict(input_name=name,
                                           input_path=item if isinstance(item, str) else None))
                visualization = self.visualize(kept, preds, **vis_kwargs)
                results.extend(self.postprocess(preds, visualization, return_datasamples,
                                                **post_kwargs))
        if self.failed and on_error == 'warn':
            warnings.warn(f'{len(self.failed)} of {len(items)} images could not be read and were '
                          'skipped (listed in OVCOSInferencer.failed): ' +
                          '; '.join(f['error'] for f in self.failed), stacklevel=2)
        return results

    def visualize(self,
                  inputs: list,
                  preds: List[SegDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: float = 0.,
                  img_out_dir: str = '',
                  alpha: float = 0.45) -> Optional[List[np.ndarray]]:
        """Draw :func:`draw_ovcos_overlay` pictures (mask, contour, class and score).

        Args:
            inputs (list): The batch's inputs (paths or BGR arrays).
            preds (list[SegDataSample]): The batch's predictions.
            return_vis (bool): Return the pictures.
            show (bool): Show each picture in a window (needs a display).
            wait_time (float): Seconds each picture is shown.
            img_out_dir (str): Write ``<img_out_dir>/<name>.png``; '' writes nothing.
            alpha (float): Tint opacity.

        Returns:
            list[np.ndarray] | None: RGB uint8 (H, W, 3) pictures when ``return_vis``.
        """
        if not (return_vis or show or img_out_dir):
            return None
        pictures = []
        for single_input, pred in zip(inputs, preds):
            image = self.loader(single_input)['img'][..., ::-1]  # H x W x 3 RGB
            score = float(pred.pred_class_scores[pred.pred_class_index])
            mask = pred.pred_sem_seg.data[0].cpu().numpy() > 0  # H x W
            picture = draw_ovcos_overlay(image, mask, pred.pred_class, score, alpha=alpha)
            if img_out_dir:
                path = osp.join(img_out_dir, f'{pred.input_name}.png')
                save_rgb(path, picture)
                pred.set_metainfo(dict(overlay_path=path))
            if show:
                cv2.imshow(pred.input_name, picture[..., ::-1])
                cv2.waitKey(int(wait_time * 1000))
            pictures.append(picture)
        return pictures if return_vis else None

    def postprocess(self,
                    preds: List[SegDataSample],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasample: bool = False,
                    pred_out_dir: str = '',
                    return_maps: bool = True) -> List[Any]:
        """Turn the batch's data samples into plain dicts, writing the masks if asked.

        Args:
            preds (list[SegDataSample]): Predictions with ``seg_logits`` (1 x H x W),
                ``pred_sem_seg``, ``pred_class_scores`` (N) and the class metainfo.
            visualization (list[np.ndarray], optional): Pictures from :meth:`visualize`.
            return_datasample (bool): Return ``preds`` unchanged.
            pred_out_dir (str): Write ``<pred_out_dir>/<name>.png`` (uint8 0/255).
            return_maps (bool): Include ``prob`` and ``mask``.

        Returns:
            list: See :meth:`__call__`.
        """
        if return_datasample:
            return list(preds)
        results = []
        for i, pred in enumerate(preds):
            logits = pred.seg_logits.data[0].detach().float().cpu()  # H x W
            prob = torch.sigmoid(logits).numpy()
            mask = (logits > 0).numpy()
            scores = pred.pred_class_scores.detach().float().cpu().tolist()
            vocabulary = list(pred.vocabulary)
            order = sorted(range(len(scores)), key=lambda k: -scores[k])[:5]
            result: Dict[str, Any] = dict(
                path=pred.input_path,
                name=pred.input_name,
                size=[int(logits.shape[0]), int(logits.shape[1])],
                **{'class': pred.pred_class},
                class_index=int(pred.pred_class_index),
                score=float(scores[pred.pred_class_index]),
                scores={name: float(s) for name, s in zip(vocabulary, scores)},
                top5=[[vocabulary[k], float(scores[k])] for k in order])
            if return_maps:
                result.update(prob=prob, mask=mask)
            if pred_out_dir:
                path = osp.join(pred_out_dir, f'{pred.input_name}.png')
                save_rgb(path, mask.astype(np.uint8) * 255)
                result['mask_path'] = path
            if 'overlay_path' in pred:
                result['overlay_path'] = pred.overlay_path
            if visualization is not None:
                result['overlay'] = visualization[i]
            results.append(result)
        return results
