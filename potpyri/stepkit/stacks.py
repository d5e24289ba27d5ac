"""Stack items, as the photometry and zero-point steps see them: which items are stacks, and the
stem their standalone products are named after."""

from __future__ import annotations

from potpyri.framework.step import Item

__all__ = ["select_stacks", "stack_stem"]


def select_stacks(items: list[Item]) -> list[Item]:
    """Target items with a ``stack`` product that no step has set aside."""
    return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]


def stack_stem(name: str) -> str:
    """``obj.filt.date.amp.bin`` of ``obj.filt.date.amp.bin.stk.fits``."""
    return name.removesuffix(".fits").removesuffix(".stk")
