"""Stack items, as the photometry and zero-point steps see them: which items are stacks, and the
stem their standalone products are named after."""

from __future__ import annotations

from pathlib import Path

from astropy.io import fits

from potpyri.framework.step import Item, Output, Product

__all__ = ["republished", "select_stacks", "stack_stem"]


def select_stacks(items: list[Item]) -> list[Item]:
    """Target items with a ``stack`` product that no step has set aside."""
    return [i for i in items if i.ok and i.kind == "target" and "stack" in i.files]


def stack_stem(name: str) -> str:
    """``obj.filt.date.amp.bin`` of ``obj.filt.date.amp.bin.stk.fits``."""
    return name.removesuffix(".fits").removesuffix(".stk")


def republished(item: Item, hdus: fits.HDUList) -> Output:
    """The stack item again, ``hdus`` as its stack and its other products as they are (for a step
    that changes the stack's header alone)."""
    products = {"stack": Product(Path(item.files["stack"]).name, hdus, ".")}
    for role, path in item.files.items():
        if role != "stack":
            products[role] = Product(Path(path).name, Path(path).read_bytes(), ".")
    return Output(item.id, "target", dict(item.meta), products)
