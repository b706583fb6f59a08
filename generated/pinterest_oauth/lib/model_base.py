"""`SpecModel`: the base class of every object model generated from openapi.yaml.

`owned/model_generic.mustache` renders each object schema as a subclass that declares only its
fields (from the spec), their wire names and the spec's defaults; the behaviour is here.

Serializers keep every value, so nothing is lost when a response is stored: `to_dict()`,
`to_json()`, `model_dump()` and `model_dump_json()` write secret fields (`format: password`,
held as pydantic `SecretStr`) in clear, and `from_dict(to_dict(m)) == m`,
`from_json(to_json(m)) == m`. Displays hide them: `repr()`, `str()` and `to_str()` show
`SecretStr('**********')`. Treat the output of a serializer as you would the token itself.
"""

from __future__ import annotations

import json
import pprint
from typing import Any, ClassVar, Dict, Optional

from pydantic import BaseModel, ConfigDict, SecretStr, SerializationInfo, SerializerFunctionWrapHandler, model_serializer
from typing_extensions import Self

_EXTRA = "additional_properties"


class SpecModel(BaseModel):
    """A model generated from an object schema; see the module docstring for (de)serialization."""

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        validate_assignment=True,
        protected_namespaces=(),
    )

    #: Attribute name -> JSON property name, in the spec's order (rendered by the template).
    wire_names: ClassVar[Dict[str, str]] = {}
    #: JSON property name -> the spec's `default`, used when the property is absent or null.
    wire_defaults: ClassVar[Dict[str, Any]] = {}
    #: The JSON names as a set, and whether the schema keeps unknown properties (set per subclass).
    _known_wire: ClassVar[frozenset[str]] = frozenset()
    _keeps_extra: ClassVar[bool] = False

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._known_wire = frozenset(cls.wire_names.values())
        cls._keeps_extra = _EXTRA in cls.model_fields

    @model_serializer(mode="wrap")
    def _serialize_secrets_in_clear(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name, field in type(self).model_fields.items():
                value = self.__dict__.get(name)
                if isinstance(value, SecretStr):
                    key = field.alias if info.by_alias and field.alias else name
                    if key in data:
                        data[key] = value.get_secret_value()
        return data

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object this model was parsed from: properties set (None left out), unknown
        properties at the top level, secrets in clear."""
        data: Dict[str, Any] = self.model_dump(by_alias=True, exclude={_EXTRA}, exclude_none=True)
        extra = self.__dict__.get(_EXTRA)
        if extra:
            data.update(extra)
        return data

    def to_json(self) -> str:
        """`to_dict()` as a JSON string (secrets in clear)."""
        return json.dumps(self.to_dict())

    def to_str(self) -> str:
        """A readable display of the fields, secrets masked as in `repr()`."""
        return pprint.pformat(dict(self.__repr_args__()))

    @classmethod
    def from_dict(cls, obj: Optional[Dict[str, Any]]) -> Optional[Self]:
        """Parse a JSON object: absent properties become None (or the spec's default), unknown
        ones go to `additional_properties` when the schema allows them."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            return cls.model_validate(obj)
        values: Dict[str, Any] = {}
        for name, wire in cls.wire_names.items():
            value = obj.get(wire)
            values[name] = cls.wire_defaults.get(wire) if value is None else value
        if cls._keeps_extra:
            known = cls._known_wire
            values[_EXTRA] = {key: value for key, value in obj.items() if key not in known}
        return cls.model_validate(values)

    @classmethod
    def from_json(cls, json_str: str) -> Optional[Self]:
        """Parse `to_json()` output (or the server's body)."""
        return cls.from_dict(json.loads(json_str))
