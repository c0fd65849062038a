from .baclip import BaCLIP

__all__ = ['BaCLIP']
