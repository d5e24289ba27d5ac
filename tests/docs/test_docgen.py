"""The step reference is generated from the code: every registered step and every config field
appears with its default and a meaning (the ``#:`` comment on the field)."""

from __future__ import annotations

import dataclasses

from potpyri.framework.docgen import config_fields
from potpyri.framework.step import STEPS
from potpyri.reference import steps_rst


def test_every_config_field_of_every_step_is_documented():
    undocumented = [
        f"{f.name} (steps/{name}.py, class {cls.Config.__name__})"
        for name, cls in sorted(STEPS.items())
        for f in config_fields(cls.Config, prefix=f"{name}.")
        if not f.doc.strip()
    ]
    assert not undocumented, (
        "config fields without a meaning; add a trailing `#: meaning` comment to "
        "the field (it becomes the docs' step reference):\n  " + "\n  ".join(undocumented)
    )


def test_generated_reference_lists_every_step_and_field_with_its_default():
    text = steps_rst()
    for name, cls in STEPS.items():
        assert f".. _step-{name}:" in text, name
        for f in dataclasses.fields(cls.Config):
            assert f"``{name}.{f.name}" in text, f"{name}.{f.name}"
    sigma = STEPS["stack"].Config().sigma  # the default as the dataclass has it, not copied here
    assert f"   * - ``stack.sigma``\n     - ``float``\n     - ``{sigma}``" in text
