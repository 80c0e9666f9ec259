"""The shared base of tasks and methods: a name, a one-line description, typed parameters.

A plugin is a short class (benchopt's idea): class attributes declare what it is, the
constructor takes resolved parameters, checks them, and each parameter becomes an
attribute. ``constraints`` (see grokbench.params) bound single values; ``validate``
checks relations between them. Both run at plan time: an impossible value is a user
error (exit 2) before anything trains.
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
    constraints: ClassVar[dict[str, _params.Constraint]] = {}

    def __init__(self, **overrides: Any) -> None:
        self.params: dict[str, Any] = _params.resolve(
            self.name, self.defaults, self.choices, overrides
        )
        _params.check_constraints(self.name, self.params, self.all_constraints())
        for key, value in self.params.items():
            setattr(self, key, value)
        self.validate()

    @classmethod
    def all_constraints(cls) -> dict[str, _params.Constraint]:
        """``constraints`` of this class and its bases (a subclass's entry wins)."""
        merged: dict[str, _params.Constraint] = {}
        for klass in reversed(cls.__mro__):
            merged.update(getattr(klass, "constraints", {}) or {})
        return merged

    def validate(self) -> None:
        """Check relations between parameters; raise grokbench.errors.UserError naming them."""

    @classmethod
    def summary(cls) -> str:
        """The first line of the description (or of the docstring)."""
        text = cls.description or (cls.__doc__ or "").strip()
        return text.splitlines()[0] if text else ""
