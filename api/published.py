"""What the API publishes of a domain view: a response model made from the view's own fields
(their types, and the docstrings under them as descriptions), less the fields named as not
published, so that a case is described once, in ``domain``."""

import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Iterable
from typing import Any, Self, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model


class Published(BaseModel):
    """A response model made by ``published``."""

    # Every answer carries every field, defaults included: the schema says so.
    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    @classmethod
    def of(cls, view: Any, **more: Any) -> Self:
        """The view as this model publishes it, with what the model adds to it (a family, say)."""
        return cls.model_validate(
            {name: more[name] if name in more else getattr(view, name) for name in cls.model_fields}
        )


def published(
    view: type,
    *,
    name: str,
    doc: str,
    withheld: set[str],
    properties: Iterable[str] = (),
) -> type[Published]:
    """A model of every field of the dataclass ``view`` but the ``withheld`` ones (internal to
    the workflow), and of its ``properties``; every field required: an answer carries them all."""
    fields = {f.name for f in dataclasses.fields(view)}
    if unknown := withheld - fields:
        raise TypeError(f"{view.__name__} has no field {', '.join(sorted(unknown))}")
    hints, docs = get_type_hints(view), field_docs(view)
    columns: dict[str, Any] = {
        field.name: (hints[field.name], Field(description=docs.get(field.name)))
        for field in dataclasses.fields(view)
        if field.name not in withheld
    }
    for prop in properties:
        getter = getattr(view, prop).fget
        columns[prop] = (get_type_hints(getter)["return"], Field(description=getter.__doc__))
    return create_model(name, __base__=Published, __doc__=doc, __module__=__name__, **columns)


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a class (and of its bases), by field."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        [definition] = ast.parse(textwrap.dedent(inspect.getsource(klass))).body
        body = definition.body  # type: ignore[attr-defined]
        for field, under in zip(body, body[1:], strict=False):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(under, ast.Expr)
                and isinstance(under.value, ast.Constant)
                and isinstance(under.value.value, str)
            ):
                docs[field.target.id] = inspect.cleandoc(under.value.value)
    return docs
