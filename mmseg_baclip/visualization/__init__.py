"""Pictures of OVCOS predictions: the overlay drawing and the val/test visualisation hook."""
from .overlay import draw_ovcos_overlay, save_rgb
from .ovcos_visualization_hook import OVCOSVisualizationHook

__all__ = ['draw_ovcos_overlay', 'save_rgb', 'OVCOSVisualizationHook']
