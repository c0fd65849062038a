"""An optimizer constructor that leaves frozen parameters out of the optimizer."""
from typing import List

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


class _TrainableView:
    """Exposes only the trainable parameters of a module through ``parameters()``."""

    def __init__(self, module: nn.Module):
        self._params = [p for p in module.parameters() if p.requires_grad]

    def parameters(self):
        return iter(self._params)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOnlyOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, minus every parameter with ``requires_grad=False``.

    The default constructor hands frozen parameters to the optimizer too (which then merely
    skips them); the frozen CLIP and SAM prompt encoder should not be there at all.
    ``paramwise_cfg`` works as usual for the trainable parameters.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        module = model.module if hasattr(model, 'module') else model
        if self.paramwise_cfg:
            return super().__call__(module)  # add_params below drops the frozen ones
        return super().__call__(_TrainableView(module))

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module=None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix == '':  # outermost call: drop the groups of frozen parameters
            params[:] = [g for g in params if g['params'][0].requires_grad]
