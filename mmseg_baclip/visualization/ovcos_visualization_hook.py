"""Pictures of OVCOS predictions (predicted vs true class) during validation and testing."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import cv2
import numpy as np
from mmengine.runner import Runner
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from ..datasets.transforms.load_ovcamo_image import to_bgr_uint8
from .overlay import draw_ovcos_overlay, save_rgb


@HOOKS.register_module()
class OVCOSVisualizationHook(SegVisualizationHook):
    """Draw OVCOS overlays for the first ``max_images`` images of each val epoch / test run.

    A drop-in replacement for mmseg's ``SegVisualizationHook`` (same arguments, same ``draw``
    switch that ``tools/test.py --show-dir`` turns on): instead of mmseg's semantic-map
    picture, each picture is :func:`~mmseg_baclip.visualization.draw_ovcos_overlay` of the
    image with the predicted region, the predicted class and its score, the GT class (label box
    green when it matches, red when not) and the GT outline. Pictures go through the runner's
    visualizer (``LocalVisBackend`` writes ``<save_dir>/vis_data/vis_image/<mode>_<name>_<step>
    .png``, the step being the training iteration in validation and 0 in testing, so that
    testing needs no train split; ``save_dir`` is the run's log folder unless
    ``visualizer.save_dir`` is set) or, with ``out_dir``, straight into
    ``<out_dir>/<mode>/<name>.png`` (relative to the work dir).

    Use it with ``default_hooks = dict(visualization=dict(type='OVCOSVisualizationHook',
    draw=True, max_images=16))``.

    Args:
        draw (bool): Draw at all. Defaults to False (as mmseg's hook).
        interval (int): Draw the images of every ``interval``-th batch. Defaults to 1.
        max_images (int): Pictures per val epoch and per test run. Defaults to 16.
        show (bool): Show the pictures in a window instead of storing them.
        wait_time (float): Seconds each shown picture stays.
        out_dir (str, optional): Write plain image files here instead of using the visualizer.
        alpha (float): Tint opacity of the predicted region. Defaults to 0.45.
        backend_args (dict, optional): mmengine file backend arguments for reading images.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 1,
                 max_images: int = 16,
                 show: bool = False,
                 wait_time: float = 0.,
                 out_dir: Optional[str] = None,
                 alpha: float = 0.45,
                 backend_args: Optional[dict] = None):
        super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time,
                         backend_args=backend_args)
        if max_images < 0:
            raise ValueError(f'max_images must be >= 0, got {max_images}')
        self.max_images = max_images
        self.out_dir = out_dir
        self.alpha = alpha
        self._count = 0

    def before_val_epoch(self, runner: Runner) -> None:
        """Start a new count of pictures."""
        self._count = 0

    def before_test_epoch(self, runner: Runner) -> None:
        """Start a new count of pictures."""
        self._count = 0

    @staticmethod
    def _step(runner: Runner, mode: str) -> int:
        """The step of a picture: the training iteration in validation, 0 in testing.

        In testing, ``runner.iter`` would build the train loop and with it the train dataset,
        so ``tools/test.py --show-dir`` would need the train split on disk.
        """
        return runner.iter if mode == 'val' else 0

    def _read_image(self, img_path: str) -> np.ndarray:
        """The image as RGB uint8 (H, W, 3), whatever its stored format."""
        img = mmcv.imfrombytes(fileio.get(img_path, backend_args=self.backend_args),
                               flag='unchanged')
        if img is None:
            raise ValueError(f'OVCOSVisualizationHook cannot decode {img_path}')
        return to_bgr_uint8(img)[..., ::-1]

    def draw_sample(self, sample: SegDataSample) -> np.ndarray:
        """The overlay of one predicted data sample.

        Args:
            sample (SegDataSample): Model output with ``img_path``, ``pred_sem_seg``
                (1 x H x W) and the metainfo ``pred_class``; optionally ``pred_class_scores``
                (N), ``pred_class_index``, ``class_name`` and ``gt_sem_seg`` (1 x H x W).

        Returns:
            np.ndarray: RGB uint8 (H, W, 3).
        """
        image = self._read_image(sample.img_path)
        pred = sample.pred_sem_seg.data[0].cpu().numpy() > 0  # H x W
        if image.shape[:2] != pred.shape:  # e.g. size_mismatch='resize_image': mask size wins
            image = cv2.resize(image, pred.shape[::-1], interpolation=cv2.INTER_LINEAR)
        gt = sample.gt_sem_seg.data[0].cpu().numpy() > 0 if 'gt_sem_seg' in sample else None
        score = None
        if 'pred_class_scores' in sample and 'pred_class_index' in sample:
            score = float(sample.pred_class_scores[sample.pred_class_index])
        return draw_ovcos_overlay(image, pred, sample.pred_class, score, gt_mask=gt,
                                  gt_label=sample.get('class_name'), alpha=self.alpha)

    def _after_iter(self,
                    runner: Runner,
                    batch_idx: int,
                    data_batch: dict,
                    outputs: Sequence[SegDataSample],
                    mode: str = 'val') -> None:
        """Draw the samples of this batch while fewer than ``max_images`` were drawn.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the loop.
            data_batch (dict): The batch (unused).
            outputs (Sequence[SegDataSample]): Model outputs.
            mode (str): ``'val'`` or ``'test'`` (nothing is drawn in ``'train'``).
        """
        if not self.draw or mode == 'train' or self._count >= self.max_images:
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        for sample in outputs:
            if self._count >= self.max_images:
                break
            overlay = self.draw_sample(sample)
            stem = osp.splitext(osp.basename(sample.img_path))[0]
            if self.out_dir is not None:
                folder = osp.join(runner.work_dir, self.out_dir, mode)
                save_rgb(osp.join(folder, f'{stem}.png'), overlay)
            elif self.show:
                self._visualizer.show(overlay, win_name=f'{mode}_{stem}',
                                      wait_time=self.wait_time)
            else:
                self._visualizer.add_image(f'{mode}_{stem}', overlay, step=self._step(runner, mode))
            self._count += 1
