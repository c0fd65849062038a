"""An optimizer constructor that leaves frozen parameters out of the optimizer."""
from typing import List

from mmengine.optim import DefaultOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOnlyOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, minus every parameter with ``requires_grad=False``.

    The default constructor puts frozen parameters into param groups too (the optimizer then
    merely skips them); frozen CLIP and SAM prompt-encoder weights should not be there at all.
    ``paramwise_cfg`` works as usual for the trainable ones.
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix == '':  # outermost call: drop frozen parameters and groups left empty
            kept = [g for g in params if g['params'][0].requires_grad]
            params[:] = kept
