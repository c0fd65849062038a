"""Prompt template sets for class-name embeddings.

``camoprompts`` are OVCamo's six camouflage templates (the OVCoser default); ``imagenet`` are the
80 CLIP ImageNet templates, taken from open_clip; ``vild`` are 14 ViLD-style scene templates;
``plain`` is the bare class name.
"""
from typing import Sequence, Tuple, Union

from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

CAMO_TEMPLATES = (
    'A photo of the camouflaged {}.',
    'A photo of the concealed {}.',
    'A photo of the {} camouflaged in the background.',
    'A photo of the {} concealed in the background.',
    'A photo of the {} camouflaged to blend in with its surroundings.',
    'A photo of the {} concealed to blend in with its surroundings.',
)

VILD_TEMPLATES = (
    'a photo of a {}.',
    'This is a photo of a {}.',
    'There is a {} in the scene.',
    'There is the {} in the scene.',
    'a photo of a {} in the scene.',
    'a photo of a small {}.',
    'a photo of a medium {}.',
    'a photo of a large {}.',
    'This is a photo of a small {}.',
    'This is a photo of a medium {}.',
    'This is a photo of a large {}.',
    'There is a small {} in the scene.',
    'There is a medium {} in the scene.',
    'There is a large {} in the scene.',
)

PLAIN_TEMPLATES = ('{}', )

TEMPLATE_SETS = {
    'camoprompts': CAMO_TEMPLATES,
    'imagenet': tuple(t('{}') for t in OPENAI_IMAGENET_TEMPLATES),
    'vild': VILD_TEMPLATES,
    'plain': PLAIN_TEMPLATES,
}


def get_templates(templates: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """Resolve a template set name (or an explicit list of ``'{}'`` templates).

    Args:
        templates (str | Sequence[str]): ``'camoprompts'``, ``'imagenet'``, ``'vild'``,
            ``'plain'``, or templates each containing one ``{}``.

    Returns:
        tuple[str]: The templates.
    """
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise KeyError(f'Unknown template set {templates!r}; choose one of '
                           f'{sorted(TEMPLATE_SETS)} or pass a list of templates with "{{}}".')
        return TEMPLATE_SETS[templates]
    templates = tuple(templates)
    if not templates or any('{}' not in t for t in templates):
        raise ValueError(f'Each template must contain "{{}}" and the list must not be empty; got '
                         f'{templates!r}.')
    return templates
