"""Mask loading for OVCamo: OVCoser's reading (grayscale, ``> 0``), ambiguous files refused."""
from typing import Optional

import cv2
import mmengine.fileio as fileio
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..ovcamo_masks import read_mask

SIZE_MISMATCH_MODES = ('error', 'resize_image')


@TRANSFORMS.register_module()
class LoadOVCamoAnnotations(LoadAnnotations):
    """Load an OVCamo mask into ``gt_seg_map`` as {0, 1} uint8.

    The mask is read as OVCoser reads it (``read_gray_array(thr=0)``): decoded by OpenCV as
    8-bit grayscale (EXIF orientation applied, as for the image, so both line up; colour and
    palette files by their luma; alpha dropped; 16-bit files by their top 8 bits) and binarised
    with ``> 0``. A file for which that reading is ambiguous (a palette whose index 0 is not
    black, an object drawn only in the alpha channel, 16-bit values below 256, JPEG compression
    noise, a soft map with a noise floor) raises an error naming the file and the reason; the
    rules are in :mod:`~mmseg_baclip.datasets.ovcamo_masks` and docs/data.md, "Mask formats". The
    dataset reports such files when it is built, so they only reach this loader with
    ``verify_files=False``.

    Its size is compared with the *original* image size ``results['ori_shape']``:

    - ``size_mismatch='error'`` (default): raise an error naming both files and sizes.
    - ``size_mismatch='resize_image'``: treat the mask size as the image's original size, as
      OVCoser does in training. If the image has not been resized yet (the transform comes
      right after the image loader, as in the train pipeline), it is resized bilinearly to the
      mask size and ``img_shape``/``ori_shape`` become the mask size. If the image was already
      resized (the test pipeline loads the mask after ``Resize``), only ``ori_shape`` (and
      ``scale_factor``) are updated, so the prediction is restored to the mask size.

    Place it before geometric transforms in training (so they apply to the mask too) and after
    ``Resize`` in testing (so the GT stays at the original size for the metric).

    Required keys: ``seg_map_path``, ``seg_fields``; optional ``ori_shape``, ``label_map``.
    Without ``seg_map_path`` (an image with no ground truth, as mmseg's ``inference_model`` and
    ``MMSegInferencer`` feed the test pipeline: they drop only mmseg's own ``LoadAnnotations``)
    the results pass through unchanged.
    Added keys: ``gt_seg_map`` ``(H, W)`` uint8 in {0, 1}; ``'gt_seg_map'`` in ``seg_fields``.
    Modified keys (``resize_image`` only): ``img``, ``img_shape``, ``ori_shape``,
    ``scale_factor``.

    Args:
        size_mismatch (str): ``'error'`` or ``'resize_image'``. Defaults to ``'error'``.
        imdecode_backend (str): Must be ``'cv2'`` (the default): masks are always decoded by
            OpenCV, as OVCoser decodes them, so that every backend gives the same labels.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 size_mismatch: str = 'error',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if size_mismatch not in SIZE_MISMATCH_MODES:
            raise ValueError(f'size_mismatch must be one of {SIZE_MISMATCH_MODES}, got '
                             f'{size_mismatch!r}')
        if imdecode_backend != 'cv2':
            raise ValueError(f"LoadOVCamoAnnotations decodes masks with OpenCV as OVCoser does; "
                             f"imdecode_backend must be 'cv2', got {imdecode_backend!r}")
        super().__init__(backend_args=backend_args, imdecode_backend=imdecode_backend)
        self.size_mismatch = size_mismatch

    def _load_seg_map(self, results: dict) -> None:
        """Load, binarise and size-check the mask of ``results['seg_map_path']``.

        Args:
            results (dict): The pipeline dict; ``gt_seg_map`` is added to it.
        """
        if results.get('seg_map_path') is None:
            return  # no ground truth: inference on a plain image
        path = results['seg_map_path']
        try:
            content = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'Mask not found: {path}. Check data_root / data_prefix, '
                                    'or remove the sample from sample_info.json.') from e
        try:
            reading = read_mask(content)
        except ValueError as e:
            raise ValueError(f'Cannot decode mask {path} ({e}); the file is corrupt: re-download '
                             'it or remove the sample.') from e
        if reading.problem:
            raise ValueError(f'Mask {path} is ambiguous: {reading.problem}.')
        gt = reading.mask
        if results.get('label_map') is not None:
            gt_orig = gt.copy()
            for old_id, new_id in results['label_map'].items():
                gt[gt_orig == old_id] = new_id
        self._check_size(results, gt.shape[:2])
        results['gt_seg_map'] = gt
        results['seg_fields'].append('gt_seg_map')

    def _check_size(self, results: dict, mask_hw: tuple) -> None:
        """Compare the mask size with the original image size; resize or raise."""
        if 'ori_shape' not in results:
            return
        ori_hw = tuple(results['ori_shape'][:2])
        if ori_hw == tuple(mask_hw):
            return
        if self.size_mismatch == 'error':
            raise ValueError(
                f'Mask {results["seg_map_path"]} is {mask_hw[0]}x{mask_hw[1]} (HxW) but its image '
                f'{results.get("img_path")} is {ori_hw[0]}x{ori_hw[1]}. Fix the files, or use '
                "LoadOVCamoAnnotations(size_mismatch='resize_image') to resize the image to the "
                'mask size as OVCoser does in training.')
        h, w = mask_hw
        already_resized = ('scale_factor' in results
                           or tuple(results.get('img_shape', ori_hw)[:2]) != ori_hw)
        if not already_resized and 'img' in results:
            results['img'] = cv2.resize(results['img'], (w, h), interpolation=cv2.INTER_LINEAR)
            results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        if 'scale_factor' in results and 'img_shape' in results:
            img_h, img_w = results['img_shape'][:2]
            results['scale_factor'] = (img_w / w, img_h / h)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(size_mismatch='{self.size_mismatch}', "
                f"imdecode_backend='{self.imdecode_backend}', backend_args={self.backend_args})")
