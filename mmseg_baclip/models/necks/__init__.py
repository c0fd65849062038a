from .cce import CCE
from .mfmsa import MFCA, MFMSA
from .mrem import MREM, BidirectionalBlock

__all__ = ['CCE', 'MFCA', 'MFMSA', 'MREM', 'BidirectionalBlock']
