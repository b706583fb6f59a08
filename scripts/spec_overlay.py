"""OpenAPI Overlay 1.0.0 actions over a small JSONPath subset.

Supported target syntax: ``$``, ``.name``, ``['name']`` / ``["name"]``,
``[0]`` (array index), ``.*`` / ``[*]`` (every child). Nothing else: an
unsupported target is an error, never a silent no-op.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

WILDCARD = object()
Segment = Any  # str (key), int (index) or WILDCARD

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-$]+)     # .name
      | \.\*                             # .*
      | \[\s*(?P<q>['"])(?P<quoted>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\]   # ['name']
      | \[\s*(?P<index>-?\d+)\s*\]       # [0]
      | \[\s*\*\s*\]                     # [*]
    """,
    re.VERBOSE,
)


class OverlayError(ValueError):
    """An overlay document or action that cannot be applied."""


def parse_path(target: str) -> list[Segment]:
    """Split a JSONPath target into key / index / wildcard segments."""
    if not isinstance(target, str) or not target.startswith("$"):
        raise OverlayError(f"target {target!r} must be a JSONPath starting with '$'")
    segments: list[Segment] = []
    pos = 1
    while pos < len(target):
        match = _TOKEN.match(target, pos)
        if not match:
            raise OverlayError(f"unsupported JSONPath syntax in {target!r} at offset {pos}")
        if match.group("name") is not None:
            segments.append(match.group("name"))
        elif match.group("quoted") is not None:
            segments.append(re.sub(r"\\(.)", r"\1", match.group("quoted")))
        elif match.group("index") is not None:
            segments.append(int(match.group("index")))
        else:
            segments.append(WILDCARD)
        pos = match.end()
    return segments


def _children(node: Any, segment: Segment) -> Iterator[tuple[Any, Any]]:
    """Yield (container, key) pairs of ``node`` selected by one segment."""
    if segment is WILDCARD:
        if isinstance(node, dict):
            yield from ((node, key) for key in list(node))
        elif isinstance(node, list):
            yield from ((node, i) for i in range(len(node)))
    elif isinstance(segment, int):
        if isinstance(node, list) and -len(node) <= segment < len(node):
            yield node, segment % len(node)
    elif isinstance(node, dict) and segment in node:
        yield node, segment


def select(document: Any, target: str) -> list[tuple[Any, Any]]:
    """Return the (container, key) pairs a target selects; ``(None, None)`` is the root."""
    selected: list[tuple[Any, Any]] = [(None, None)]
    for segment in parse_path(target):
        nxt: list[tuple[Any, Any]] = []
        for container, key in selected:
            node = document if container is None else container[key]
            nxt.extend(_children(node, segment))
        selected = nxt
    return selected


def deep_merge(base: Any, update: Any) -> Any:
    """Merge ``update`` into ``base``: objects recursively, anything else replaced."""
    if isinstance(base, dict) and isinstance(update, dict):
        for key, value in update.items():
            base[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return base
    return copy.deepcopy(update)


def _apply_update(node: Any, update: Any, target: str) -> Any:
    if isinstance(node, list):
        node.extend(copy.deepcopy(update) if isinstance(update, list) else [copy.deepcopy(update)])
        return node
    if isinstance(node, dict) and isinstance(update, dict):
        return deep_merge(node, update)
    raise OverlayError(f"target {target!r} selects a {type(node).__name__}; update needs an object or array")


def apply_action(document: Any, action: dict[str, Any]) -> Any:
    """Apply one action; fail if its target selects nothing. Return the document."""
    target = str(action.get("target"))
    selected = select(document, target)
    if not selected:
        raise OverlayError(f"overlay target {target} matches nothing ({action.get('description', 'no description')})")
    if action.get("remove") is True:
        for container, key in sorted(selected, key=lambda ck: ck[1] if isinstance(ck[1], int) else 0, reverse=True):
            if container is None:
                raise OverlayError("cannot remove the document root")
            del container[key]
        return document
    if "update" not in action:
        raise OverlayError(f"overlay action on {target} has neither update nor remove: true")
    for container, key in selected:
        if container is None:
            document = _apply_update(document, action["update"], target)
        else:
            container[key] = _apply_update(container[key], action["update"], target)
    return document


def check_overlay(overlay: Any) -> list[dict[str, Any]]:
    """Validate the overlay document's shape and return its actions."""
    if not isinstance(overlay, dict) or not str(overlay.get("overlay", "")).startswith("1.0."):
        raise OverlayError("overlay document must be a mapping with 'overlay: 1.0.x'")
    info = overlay.get("info")
    if not isinstance(info, dict) or not {"title", "version"} <= info.keys():
        raise OverlayError("overlay document needs info.title and info.version")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise OverlayError("overlay document needs a non-empty 'actions' list")
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("target"), str):
            raise OverlayError(f"overlay action #{i + 1} needs a string 'target'")
        if not str(action.get("description", "")).strip():
            raise OverlayError(f"overlay action on {action['target']} needs a 'description' (the reason)")
        parse_path(action["target"])
    return actions


def apply_overlay(document: Any, overlay: Any) -> Any:
    """Apply every action of an Overlay 1.0 document in order; return the document."""
    for action in check_overlay(overlay):
        document = apply_action(document, action)
    return document


def dedupe_enums(node: Any) -> None:
    """Remove repeated values from every ``enum`` array, keeping first occurrences."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                seen: list[Any] = []
                for item in value:
                    if item not in seen:
                        seen.append(item)
                value[:] = seen
            else:
                dedupe_enums(value)
    elif isinstance(node, list):
        for item in node:
            dedupe_enums(item)
