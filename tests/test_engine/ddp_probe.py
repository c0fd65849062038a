"""Imported by the 2-process test's config (custom_imports): records, per rank, which
parameters DistributedDataParallel synchronises and the trained weights."""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DDPProbeHook(Hook):

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.info = {}

    def before_train(self, runner):
        ddp = runner.model
        module = ddp.module
        names = {id(p): n for n, p in module.named_parameters()}
        reducer_params, _ = ddp._build_params_for_reducer()  # what DDP gave its Reducer
        logging_data = ddp._get_ddp_logging_data()
        self.info = dict(
            wrapper=type(ddp).__name__,
            world_size=torch.distributed.get_world_size(),
            backend=torch.distributed.get_backend(),
            synced=[names[id(p)] for p in reducer_params],
            trainable=[n for n, p in module.named_parameters() if p.requires_grad],
            frozen=[n for n, p in module.named_parameters() if not p.requires_grad],
            ddp_num_parameter_tensors=logging_data.get('num_parameter_tensors'),
            ddp_parameter_bytes=logging_data.get('total_parameter_size_bytes'),
            trainable_bytes=sum(p.numel() * p.element_size() for p in module.parameters()
                                if p.requires_grad))

    def after_train(self, runner):
        module = runner.model.module
        self.info['frozen_with_grad'] = [n for n, p in module.named_parameters()
                                         if not p.requires_grad and p.grad is not None]
        self.info['weights_sum'] = {n: float(p.detach().double().sum())
                                    for n, p in module.named_parameters() if p.requires_grad}
        with open(osp.join(self.out_dir, f'ddp_probe_rank{get_rank()}.json'), 'w') as f:
            json.dump(self.info, f)
