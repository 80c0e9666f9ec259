"""The shared base of tasks and methods: a name, a one-line description, typed parameters.

A plugin is a short class (benchopt's idea): class attributes declare what it is, the
constructor takes resolved parameters, checks them, and each parameter becomes an
attribute. ``required_settings`` names parameters the engine reads, so ``defaults`` must
declare them (an Optimizer's ``lr``); ``constraints`` (see grokbench.params) bound single
values; ``validate`` checks relations between them. All run at plan time: a missing or
impossible value is a user error (exit 2) before anything trains.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import params as _params
from .errors import UserError


class Plugin:
    """Base of Task and Method. Subclasses set ``name``, ``description`` and ``defaults``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple]] = {}
    constraints: ClassVar[dict[str, _params.Constraint]] = {}
    required_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **overrides: Any) -> None:
        missing = self.missing_settings()
        if missing:
            it = "it" if len(missing) == 1 else "them"
            raise UserError(f"{self.name}.defaults must declare {', '.join(map(repr, missing))} "
                            f"(every {self.kind_name()} needs {it}: the engine reads {it})")
        self.params: dict[str, Any] = _params.resolve(
            self.name, self.defaults, self.choices, overrides
        )
        _params.check_constraints(self.name, self.params, self.all_constraints())
        for key, value in self.params.items():
            setattr(self, key, value)
        self.validate()

    @classmethod
    def missing_settings(cls) -> list[str]:
        """The ``required_settings`` that ``defaults`` does not declare (empty: none)."""
        return [key for key in cls.required_settings if key not in cls.defaults]

    @classmethod
    def kind_name(cls) -> str:
        """What the plugin is, in words: its framework base class (Task, Optimizer, Transform)."""
        framework = ("grokbench.task", "grokbench.method", __name__)
        return next(k.__name__ for k in cls.__mro__ if k.__module__ in framework)

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
