"""The shared base of tasks and methods: a name, a one-line description, typed parameters.

A plugin is a short class (benchopt's idea): class attributes declare what it is, the
constructor takes resolved parameters, and each parameter becomes an attribute.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import params as _params


class Plugin:
    """Base of Task and Method. Subclasses set ``name``, ``description`` and ``defaults``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple]] = {}

    def __init__(self, **overrides: Any) -> None:
        self.params: dict[str, Any] = _params.resolve(
            self.name, self.defaults, self.choices, overrides
        )
        for key, value in self.params.items():
            setattr(self, key, value)

    @classmethod
    def summary(cls) -> str:
        """The first line of the description (or of the docstring)."""
        text = cls.description or (cls.__doc__ or "").strip()
        return text.splitlines()[0] if text else ""
