"""`SpecModel` with fields whose JSON names are not Python names (the generator gives them an
alias: a future spec's `token-id` or `class`): parsed and written under their JSON names,
secrets in clear in serializers, assignments validated."""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional

import pytest
from pydantic import Field, SecretStr, StrictInt, StrictStr, ValidationError

from pinterest_oauth.lib.model_base import SpecModel


class Aliased(SpecModel):
    """What owned/model_generic.mustache renders for such a schema."""

    token_id: Optional[SecretStr] = Field(default=None, alias="token-id")
    var_class: Optional[StrictStr] = Field(default=None, alias="class")
    count: Optional[StrictInt] = None
    additional_properties: Dict[str, Any] = {}

    wire_names: ClassVar[Dict[str, str]] = {"token_id": "token-id", "var_class": "class", "count": "count"}
    wire_defaults: ClassVar[Dict[str, Any]] = {"count": 1}


WIRE = {"token-id": "pina_ALIASED", "class": "c", "count": 1, "extra": [5]}


def test_parsed_from_and_written_to_the_json_names() -> None:
    model = Aliased.from_dict({"token-id": "pina_ALIASED", "class": "c", "extra": [5]})
    assert model is not None
    assert model.token_id is not None and model.token_id.get_secret_value() == "pina_ALIASED"
    assert (model.var_class, model.count, model.additional_properties) == ("c", 1, {"extra": [5]})
    assert model.to_dict() == WIRE
    assert Aliased.from_json(model.to_json()) == model
    assert "pina_ALIASED" not in repr(model) and "pina_ALIASED" not in model.to_str()


def test_pydantic_input_by_alias_or_by_name_and_dumps_either_way_in_clear() -> None:
    by_alias = Aliased.model_validate({"token-id": "pina_ALIASED", "class": "c"})
    by_name = Aliased.model_validate({"token_id": "pina_ALIASED", "var_class": "c"})
    assert by_alias == by_name and by_name.var_class == "c"
    assert by_alias.model_dump() == {"token_id": "pina_ALIASED", "var_class": "c", "count": None,
                                     "additional_properties": {}}
    assert by_alias.model_dump(by_alias=True)["token-id"] == "pina_ALIASED"


def test_assignments_are_validated() -> None:
    model = Aliased.from_dict(WIRE)
    assert model is not None
    with pytest.raises(ValidationError):
        model.count = "many"  # type: ignore[assignment]
    model.count = 2
    assert model.to_dict()["count"] == 2
