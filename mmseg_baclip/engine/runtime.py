"""Settings that mmseg_baclip's tools enforce on every config they run."""
from mmengine.config import Config

# Hooks without which checkpoints would not load safely or would load silently wrong.
REQUIRED_HOOKS = ('WeightsOnlyCheckpointHook', 'StrictCheckpointHook')


def add_required_hooks(cfg: Config) -> Config:
    """Append the :data:`REQUIRED_HOOKS` missing from ``cfg.custom_hooks`` (in place).

    A config that lists one of them (e.g. ``StrictCheckpointHook`` with ``ignore_keys``) keeps
    its own settings.

    Args:
        cfg (Config): The config given to the Runner.

    Returns:
        Config: ``cfg``.
    """
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {h.get('type') if isinstance(h, dict) else type(h).__name__ for h in hooks}
    for name in REQUIRED_HOOKS:
        if name not in present:
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks
    return cfg
