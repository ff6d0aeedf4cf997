"""Internal utilities (nothing public yet)."""

__all__ = []
