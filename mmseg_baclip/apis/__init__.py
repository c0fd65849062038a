"""Inference API for users: any images, any class names."""
from ..utils.image_files import IMAGE_EXTENSIONS
from .inference_loader import OVCOSInferenceLoader
from .ovcos_inferencer import OVCOSInferencer
from .vocabulary import (config_vocabulary, load_vocabulary, parse_vocabulary_list,
                         parse_vocabulary_text, read_vocabulary_file)

__all__ = [
    'OVCOSInferencer', 'OVCOSInferenceLoader', 'IMAGE_EXTENSIONS', 'load_vocabulary',
    'read_vocabulary_file', 'parse_vocabulary_list', 'parse_vocabulary_text',
    'config_vocabulary'
]
