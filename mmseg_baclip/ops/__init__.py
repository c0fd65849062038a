"""Custom ops of BaCLIP: a pure-PyTorch reference and Triton kernels behind one API."""
from .reference import bidirectional_attention_reference, multi_freq_pool_reference

multi_freq_pool = multi_freq_pool_reference
bidirectional_attention = bidirectional_attention_reference

__all__ = [
    'multi_freq_pool', 'bidirectional_attention', 'multi_freq_pool_reference',
    'bidirectional_attention_reference'
]
