from .conv_mask_head import ConvMaskHead
from .mask_head_base import BinaryMaskHead
from .sam_prompt_head import AdaptiveTextPrompt, SAMPromptHead

__all__ = ['AdaptiveTextPrompt', 'BinaryMaskHead', 'ConvMaskHead', 'SAMPromptHead']
