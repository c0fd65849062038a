from .openclip_text_encoder import OpenCLIPTextEncoder, check_vocabulary
from .prompt_templates import TEMPLATE_SETS, get_templates

__all__ = ['OpenCLIPTextEncoder', 'TEMPLATE_SETS', 'check_vocabulary', 'get_templates']
