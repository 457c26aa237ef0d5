"""Turn parsed YAML into validated models, reporting problems at the key that causes them."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .loading import InputError, Located, Path_, Problem, dotted

M = TypeVar("M", bound=BaseModel)


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] wrappers."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _pick_model(annotation: Any, data: Any) -> Any:
    """For a union, the member the data selects (by its dist/kind tag), else the first model."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(annotation)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if models and isinstance(data, Mapping):
            for tag in ("dist", "kind"):
                for m in models:
                    field = m.model_fields.get(tag)
                    if field is not None and data.get(tag) in typing.get_args(field.annotation):
                        return m
        if models:
            return models[0]
        containers = [m for m in members if typing.get_origin(m) in (dict, list)]
        return containers[0] if containers else members[0]
    return annotation


def _model_at(model: type[BaseModel], data: Any, path: Iterable[str | int]) -> Any:
    """The annotation that describes the value at `path` (used to suggest valid keys)."""
    annotation: Any = model
    for part in path:
        annotation = _pick_model(annotation, data)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                field = next((f for f in annotation.model_fields.values()
                              if f.alias == part), None)
            if field is None:
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return None
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            data = None
    return _pick_model(annotation, data)


def _allowed_keys(model: type[BaseModel], data: Any, parent: Path_) -> list[str]:
    annotation = _model_at(model, data, parent)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _real_path(data: Any, loc: tuple[str | int, ...], kind: str = "") -> Path_:
    """Keep the parts of a pydantic location that are keys of the document (dropping union tags
    such as 'exponential' or 'list[float]'); the final key of a `missing` error is kept."""
    path: list[str | int] = []
    for i, part in enumerate(loc):
        in_document = (isinstance(data, Mapping) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if in_document:
            data = data[part]
            path.append(part)
        elif (kind == "missing" and i == len(loc) - 1 and isinstance(part, str)
              and isinstance(data, Mapping)):
            path.append(part)  # a missing key of this mapping
        # anything else is a union branch label or tag, not a key of the document
    return tuple(path)


def _value_at(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _refine(error: Mapping[str, Any], data: Any, path: Path_) -> Path_:
    """Point a whole-object error at the key it is about: a bad tag at its `dist:`/`kind:` key,
    a cross-field check ("bands_days must strictly increase") at the key it starts with."""
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        key = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
    elif error["type"] == "value_error":
        key = str(error["msg"]).removeprefix("Value error, ").split(" ", 1)[0]
    else:
        return path
    value = _value_at(data, path)
    if not isinstance(value, Mapping):
        return path
    if error["type"] == "union_tag_not_found" or key in value:
        return (*path, key)
    return path


def _near_key(model: type[BaseModel], data: Any, path: Path_) -> str | None:
    """For an unknown key at `path`, the allowed key it is most likely a misspelling of."""
    near = difflib.get_close_matches(str(path[-1]), _allowed_keys(model, data, path[:-1]), n=1)
    return near[0] if near else None


def _superseded(error: Mapping[str, Any], path: Path_, errors: list[tuple[Any, Path_]],
                model: type[BaseModel], data: Any) -> bool:
    """Errors that only repeat another one: a union branch the value plainly is not (the list
    branch failed inside the list, so "should be a number" is noise), or a missing key that is
    there, misspelt (reported as unknown with "did you mean")."""
    kind = error["type"]
    if kind != "missing" and _real_path(data, tuple(error["loc"])[:-1]) == path:
        # the error is about the value at `path` as one branch of a union
        return any(len(other) > len(path) and other[:len(path)] == path
                   for _, other in errors)
    if kind == "missing":
        return any(e["type"] == "extra_forbidden" and other[:-1] == path[:-1]
                   and _near_key(model, data, other) == path[-1] for e, other in errors)
    return False


def _message(error: Mapping[str, Any], model: type[BaseModel], data: Any, path: Path_) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, data, path[:-1])
        near = _near_key(model, data, path)
        hint = f" (did you mean '{near}'?)" if near else (
            f" (allowed: {', '.join(allowed)})" if allowed else "")
        return f"unknown key{hint}"
    if kind in ("missing", "union_tag_not_found"):
        return "required key is missing"
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind in ("literal_error", "enum") and "expected" in error.get("ctx", {}):
        msg = f"must be one of {error['ctx']['expected']}"
    if kind.endswith("_type") or kind.endswith("_parsing") or kind in (
            "greater_than_equal", "greater_than", "less_than_equal", "literal_error",
            "union_tag_invalid", "too_short", "too_long", "finite_number"):
        shown = error.get("input")
        if not isinstance(shown, Mapping | list) or kind in ("too_short", "too_long"):
            msg += f" (got {shown!r})" if not isinstance(shown, Mapping | list) else ""
    if kind == "too_short" and error.get("ctx", {}).get("actual_length") == 0:
        msg = "must not be empty"
    elif kind in ("too_short", "too_long"):
        msg = msg.replace(" after validation", "")
    if kind == "union_tag_invalid":
        msg = f"unknown {error['ctx'].get('discriminator', 'tag').strip(chr(39))} " \
              f"{error['ctx'].get('tag')!r}; expected one of {error['ctx'].get('expected_tags')}"
    return msg


def validate_model(model: type[M], doc: Located, prefix: Path_ = ()) -> M:
    """Validate `doc.data` (whose keys live under `prefix` in the file) as `model`."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems: dict[str, Problem] = {}
        errors = [(e, _real_path(doc.data, tuple(e["loc"]), e["type"])) for e in exc.errors()]
        for error, path in errors:
            if _superseded(error, path, errors, model, doc.data):
                continue
            path = _refine(error, doc.data, path)
            full = (*prefix, *path)
            file, line = doc.where(path)
            problem = Problem(file, line, dotted(full), _message(error, model, doc.data, path))
            problems.setdefault(problem.field, problem)  # first union branch wins
        raise InputError(problems.values()) from None


def collect(problems: list[Problem]) -> None:
    """Raise all problems at once, in file and line order."""
    if problems:
        raise InputError(sorted(problems, key=lambda p: (p.file, p.line or 0, p.field)))
