from .atomic import atomic_open, atomic_torch_save, atomic_write_text

__all__ = ['atomic_open', 'atomic_torch_save', 'atomic_write_text']
