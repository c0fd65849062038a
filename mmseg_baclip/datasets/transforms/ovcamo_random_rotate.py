"""Random rotation with a replicated border, as OVCoser's albumentations ``Rotate``."""
from typing import Optional, Sequence, Tuple, Union

import mmcv
from mmseg.datasets.transforms import RandomRotate
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class OVCamoRandomRotate(RandomRotate):
    """mmseg's :class:`~mmseg.datasets.transforms.RandomRotate` with a chosen border mode.

    OVCoser trains with ``albumentations.Rotate(limit=90, p=0.5, interpolation=INTER_LINEAR,
    border_mode=BORDER_REPLICATE)`` as its training augmentation; albumentations applies the
    same border mode to the mask, with nearest interpolation. mmseg's ``RandomRotate`` always
    pads with a constant; this subclass passes ``border_mode`` to :func:`mmcv.imrotate` for the
    image and ``seg_border_mode`` for every map in ``seg_fields``.

    Required keys: ``img``, ``seg_fields``. Modified keys: ``img`` and the maps in
    ``seg_fields`` (same shape).

    Args:
        prob (float): Rotation probability. Defaults to 0.5.
        degree (float | tuple[float, float]): Angle range in degrees; a number ``d`` means
            ``(-d, d)``. Defaults to 90.
        border_mode (str): mmcv border mode of the image (``'replicate'``, ``'constant'``,
            ``'reflect'``, ...). Defaults to ``'replicate'``.
        seg_border_mode (str): Border mode of the segmentation maps. Defaults to
            ``'replicate'``.
        pad_val (float): Image fill value for ``'constant'``. Defaults to 0.
        seg_pad_val (float): Map fill value for ``'constant'``. Defaults to 255 (ignored).
        interpolation (str): Image interpolation. Defaults to ``'bilinear'``.
        center (tuple[float, float], optional): Rotation centre (w, h); image centre if None.
        auto_bound (bool): Enlarge the output to hold the whole rotated image. Defaults to
            False.
    """

    def __init__(self,
                 prob: float = 0.5,
                 degree: Union[float, Tuple[float, float]] = 90,
                 border_mode: str = 'replicate',
                 seg_border_mode: str = 'replicate',
                 pad_val: float = 0,
                 seg_pad_val: float = 255,
                 interpolation: str = 'bilinear',
                 center: Optional[Sequence[float]] = None,
                 auto_bound: bool = False) -> None:
        super().__init__(prob=prob, degree=degree, pad_val=pad_val, seg_pad_val=seg_pad_val,
                         center=tuple(center) if center is not None else None,
                         auto_bound=auto_bound)
        self.border_mode = border_mode
        self.seg_border_mode = seg_border_mode
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Rotate ``img`` and every map in ``seg_fields`` by one random angle.

        Args:
            results (dict): Pipeline dict.

        Returns:
            dict: ``results``, rotated with probability ``prob``.
        """
        rotate, degree = self.generate_degree()
        if not rotate:
            return results
        results['img'] = mmcv.imrotate(
            results['img'], angle=degree, border_value=self.pal_val, center=self.center,
            interpolation=self.interpolation, auto_bound=self.auto_bound,
            border_mode=self.border_mode)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imrotate(
                results[key], angle=degree, border_value=self.seg_pad_val, center=self.center,
                interpolation='nearest', auto_bound=self.auto_bound,
                border_mode=self.seg_border_mode)
        if self.auto_bound:
            results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, degree={self.degree}, '
                f"border_mode='{self.border_mode}', seg_border_mode='{self.seg_border_mode}', "
                f'pad_val={self.pal_val}, seg_pad_val={self.seg_pad_val}, '
                f"interpolation='{self.interpolation}', center={self.center}, "
                f'auto_bound={self.auto_bound})')
