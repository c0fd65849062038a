"""Build-time guard for components that work only inside BaCLIP.

``MREM`` (BaCLIP's ``align_neck``) and the mask heads (BaCLIP's ``decode_head``) take BaCLIP's
class-name embeddings, ``forward(feats, text)`` / ``forward(visual, text)``, and the heads are
not mmseg ``BaseDecodeHead`` s. Put in a stock mmseg segmentor (``EncoderDecoder``...) they
would fail late and obscurely (``missing 1 required positional argument: 'text'`` at the
first forward, ``unexpected keyword argument 'num_classes'``). So their ``__init__`` calls
:func:`check_baclip_only`, which makes them fail while the segmentor is built, with one message
that says what they need, where they work and which components work in a stock config.

Mechanism: the enclosing segmentor is found on the call stack (the nearest frame whose
``self`` is an mmseg ``BaseSegmentor``: ``MODELS.build`` of a segmentor builds its parts from
its own ``__init__``). A segmentor that supplies BaCLIP's inputs is accepted: ``BaCLIP`` and
its subclasses, and any segmentor whose class sets :data:`HOSTS_BACLIP_COMPONENTS_ATTR` to
True. Any other segmentor is a stock one and the build raises ``TypeError``. Without an
enclosing segmentor (a component built on its own, as unit tests do) nothing is checked, except
that a head built with mmseg ``BaseDecodeHead`` arguments (``num_classes``, ``channels``...:
what a stock ``decode_head`` config carries) gets the same message instead of an
unexpected-keyword error.
"""
import inspect
import sys
from typing import Mapping, Optional

#: Class attribute by which a segmentor other than ``BaCLIP`` declares that it supplies BaCLIP's
#: inputs (calls ``align_neck(feats, text)``, ``decode_head(visual, text)`` and
#: ``decode_head.loss_by_feat``), so BaCLIP-only components may be built inside it.
HOSTS_BACLIP_COMPONENTS_ATTR = 'hosts_baclip_components'

#: What does work in a stock mmseg config (see configs/reuse/ and the README).
STOCK_COMPONENTS_HINT = (
    'In a stock mmseg segmentor, BaCLIP\'s CLIP backbones (OpenCLIPConvNeXt, OpenCLIPViT), '
    'its CCE / MFMSA necks, OVCamoDataset with LoadOVCamoImage / LoadOVCamoAnnotations and '
    'mmseg\'s IoUMetric work (OVCOSMetric needs the class name BaCLIP predicts): see '
    'configs/reuse/ and the README, "Reusing the components".')


def _decode_head_arg_names() -> frozenset:
    """The keyword arguments of mmseg's ``BaseDecodeHead``."""
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    params = inspect.signature(BaseDecodeHead.__init__).parameters
    return frozenset(name for name in params if name != 'self')


def _hosts_baclip_components(segmentor) -> bool:
    if getattr(type(segmentor), HOSTS_BACLIP_COMPONENTS_ATTR, False):
        return True
    # Imported here: segmentors/baclip.py imports the models package, which imports this file.
    from ..segmentors.baclip import BaCLIP
    return isinstance(segmentor, BaCLIP)


def enclosing_segmentor(frame=None):
    """The nearest mmseg segmentor on the call stack (the one being built), or None.

    Args:
        frame (frame, optional): Where to start. Default: the caller's frame.

    Returns:
        BaseSegmentor | None: The ``self`` of the nearest frame that has one.
    """
    from mmseg.models.segmentors.base import BaseSegmentor
    frame = sys._getframe(1) if frame is None else frame
    while frame is not None:
        code = frame.f_code
        if code.co_argcount and code.co_varnames[0] == 'self':
            obj = frame.f_locals.get('self')
            if isinstance(obj, BaseSegmentor):
                return obj
        frame = frame.f_back
    return None


def baclip_only_message(name: str, role: str, reason: str, context: str) -> str:
    """The error message of a BaCLIP-only component used elsewhere.

    Args:
        name (str): The component's class name, e.g. ``'MREM'``.
        role (str): Its argument of ``BaCLIP``: ``'align_neck'`` or ``'decode_head'``.
        reason (str): What it needs, e.g. ``"it needs BaCLIP's text input ..."``.
        context (str): What went wrong, e.g. ``'It was built inside EncoderDecoder ...'``.
    """
    return (f'{name} works only inside BaCLIP, as its `{role}`: {reason}. {context}. Use it as '
            f"model=dict(type='BaCLIP', backbone=..., text_encoder=..., "
            f"{role}=dict(type='{name}', ...), ...). {STOCK_COMPONENTS_HINT}")


def check_baclip_only(component, role: str, reason: str,
                      extra_kwargs: Optional[Mapping] = None) -> None:
    """Raise ``TypeError`` if ``component`` is being built where it cannot work.

    Call it first thing in the component's ``__init__``.

    Args:
        component (nn.Module): The component being built (``self``).
        role (str): Its argument of ``BaCLIP``: ``'align_neck'`` or ``'decode_head'``.
        reason (str): What it needs that a stock segmentor does not give (part of the message).
        extra_kwargs (Mapping, optional): Keyword arguments ``__init__`` did not take (it
            collects them with ``**kwargs``). mmseg ``BaseDecodeHead`` arguments among them give
            the BaCLIP-only message; any others the usual unexpected-keyword ``TypeError``.

    Raises:
        TypeError: Inside a stock mmseg segmentor, or with ``extra_kwargs``.
    """
    name = type(component).__name__
    segmentor = enclosing_segmentor(sys._getframe(1))
    if segmentor is not None and not _hosts_baclip_components(segmentor):
        raise TypeError(baclip_only_message(
            name, role, reason, f'It was built inside {type(segmentor).__name__}, a segmentor '
            'that does not supply BaCLIP\'s inputs'))
    extra_kwargs = dict(extra_kwargs or {})
    head_args = sorted(set(extra_kwargs) & _decode_head_arg_names())
    if head_args:
        raise TypeError(baclip_only_message(
            name, role, reason, f'It got mmseg BaseDecodeHead arguments ({", ".join(head_args)}),'
            ' as a stock decode_head config has; drop them'))
    if extra_kwargs:
        raise TypeError(f'{name}.__init__() got unexpected keyword argument(s): ' +
                        ', '.join(sorted(extra_kwargs)))
