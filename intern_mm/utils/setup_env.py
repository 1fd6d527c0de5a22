"""Environment helpers: registry scope set-up."""
import datetime
import warnings

from mmengine import DefaultScope

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every intern_mm module so that all registries are filled.

    Args:
        init_default_scope (bool): Whether to set ``intern_mm`` as the current default
            scope (``DefaultScope``). If another scope is current, a new uniquely named
            ``intern_mm`` instance is created and made current. Defaults to True.

    Example:
        >>> from intern_mm.utils import register_all_modules
        >>> register_all_modules()
    """
    import intern_mm.datasets  # noqa: F401,F403
    import intern_mm.engine  # noqa: F401,F403
    import intern_mm.evaluation  # noqa: F401,F403
    import intern_mm.models  # noqa: F401,F403

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    never_created = current is None or not DefaultScope.check_instance_created('intern_mm')
    if never_created:
        DefaultScope.get_instance('intern_mm', scope_name='intern_mm')
        return
    if current.scope_name != 'intern_mm':
        warnings.warn('The current default scope '
                      f'"{current.scope_name}" is not "intern_mm", '
                      '`register_all_modules` will force the current '
                      'default scope to be "intern_mm".')
        new_instance_name = f'intern_mm-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='intern_mm')
