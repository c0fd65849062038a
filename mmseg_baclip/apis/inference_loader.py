"""The first step of the inference pipeline: an image path or an array to a results dict."""
from typing import Sequence, Union

import numpy as np

from ..datasets.transforms.load_ovcamo_image import LoadOVCamoImage, to_bgr_uint8

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]


class OVCOSInferenceLoader:
    """First step of the inference pipeline: an image path or an array to a results dict.

    Paths are read by :class:`~mmseg_baclip.datasets.LoadOVCamoImage` (gray, RGBA, palette and
    16-bit files all give 3-channel uint8 BGR; a missing or undecodable file raises an error
    that names it). Arrays are taken as BGR, OpenCV's order, like mmseg's inferencer, and
    converted the same way.

    Args:
        **loader_kwargs: ``LoadOVCamoImage`` arguments (``imdecode_backend``,
            ``backend_args``) from the config's test pipeline.
    """

    def __init__(self, **loader_kwargs) -> None:
        loader_kwargs.pop('ignore_empty', None)
        self.from_file = LoadOVCamoImage(**loader_kwargs)

    def __call__(self, single_input: InputType) -> dict:
        """Load one input.

        Args:
            single_input (str | np.ndarray): A path, or an image array (H, W), (H, W, 1),
                (H, W, 3) BGR or (H, W, 4) BGRA, uint8, uint16 or float in [0, 1].

        Returns:
            dict: ``img`` (H, W, 3) uint8 BGR, ``img_path``, ``img_shape`` and ``ori_shape``.
        """
        if isinstance(single_input, str):
            return self.from_file(dict(img_path=single_input))
        if isinstance(single_input, np.ndarray):
            if single_input.ndim not in (2, 3) or single_input.size == 0 or (
                    single_input.ndim == 3 and single_input.shape[2] not in (1, 2, 3, 4)):
                raise ValueError(f'an input array must be an image of shape (H, W) or '
                                 f'(H, W, C) with C in 1-4, got {single_input.shape}')
            img = to_bgr_uint8(single_input)
            return dict(img=img, img_path=None, img_shape=img.shape[:2],
                        ori_shape=img.shape[:2])
        raise TypeError(f'inputs must be image paths or numpy arrays, got '
                        f'{type(single_input).__name__}')
