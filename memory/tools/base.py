"""Tool plumbing: the context tools run with, schemas from signatures and
docstrings, lenient argument parsing and validation, and result packaging.

Model mistakes (bad JSON, a wrong argument, an edit that does not fit) raise
`ToolError`; its message goes back to the model verbatim as a failed tool
result, so every message here says exactly what was wrong and how to fix it.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import docstring_parser

from memory.prompts import tool_result_envelope
from memory.types import Block


class ToolError(Exception):
    """A mistake the model made; the message is shown to it as the tool's failed result."""


class MemoryBackend(Protocol):
    """Archival and recall storage (implemented against Postgres by the store).

    Search results are dicts. Archival: {"id", "content", "tags": list[str],
    "timestamp": datetime, "relevance"?: float}. Recall: {"id", "role",
    "content", "timestamp": datetime, "relevance"?: float}, best match first
    (newest first without a query);
    like Letta, recall search leaves out tool results and the agent's own
    conversation_search calls unless `roles` asks for "tool". Datetime bounds
    are timezone-aware and inclusive."""

    def archival_insert(self, agent_id: str, text: str, tags: list[str]) -> str: ...

    def archival_search(
        self,
        agent_id: str,
        query: str,
        *,
        tags: list[str] | None,
        tag_match_mode: Literal["any", "all"],
        top_k: int,
        start: datetime | None,
        end: datetime | None,
    ) -> list[dict[str, Any]]: ...

    def conversation_search(
        self,
        agent_id: str,
        query: str | None,
        *,
        roles: list[str] | None,
        limit: int,
        start: datetime | None,
        end: datetime | None,
    ) -> list[dict[str, Any]]: ...


@dataclass
class ToolContext:
    """What a tool may touch while it runs. The loop persists what changed."""

    agent_id: str
    blocks: dict[str, Block]  # label → block; tools edit these in place
    backend: MemoryBackend
    timezone: str
    enforce_block_limits: bool = True
    # (label, old value, new value) → why the new value cannot fit the model's
    # context window, or None; the engine's, so tools stay plain.
    block_too_big: Callable[[str, str, str], str | None] | None = None
    changed_blocks: set[str] = field(default_factory=set)  # labels edited or created
    archival_changed: bool = False  # archival counts/tags in the prompt are stale
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


# Injected by the engine, never shown to the model.
RESERVED_PARAMS = frozenset({"ctx", "self", "agent_state"})
REQUEST_HEARTBEAT = "request_heartbeat"
INNER_THOUGHTS = "thinking"

# --- schema from a live function ----------------------------------------------------

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type_schema(tp: Any, where: str) -> dict[str, Any]:
    """A Python annotation → JSON schema."""
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is list:
        return {"type": "array", "items": {}}
    if tp is dict:
        return {"type": "object"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], where) if args else {}}
    if origin is dict:
        if len(args) == 2:
            return {"type": "object", "additionalProperties": _type_schema(args[1], where)}
        return {"type": "object"}
    if origin is Literal:
        return _literal_schema(list(args), where)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _type_schema(options[0], where)
        return {"anyOf": [_type_schema(a, where) for a in options]}
    raise ValueError(f"{where}: unsupported type annotation {tp!r}")


def _literal_schema(values: list[Any], where: str) -> dict[str, Any]:
    kinds = {_SCALARS.get(type(v)) for v in values}
    if len(kinds) != 1 or None in kinds:
        raise ValueError(
            f"{where}: Literal values must all be strings, or all numbers, or all booleans"
        )
    return {"type": kinds.pop(), "enum": values}


_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s")


def _unwrap(text: str) -> str:
    """Join a docstring's hard-wrapped lines; keep paragraphs and list items.

    Source is wrapped at ~80 columns for humans; the model reads better prose
    without those arbitrary breaks."""
    out: list[str] = []
    for line in text.strip().split("\n"):
        line = line.strip()
        if out and line and out[-1] and not _LIST_ITEM.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)


def _assemble(
    name: str,
    docstring: str | None,
    params: list[tuple[str, dict[str, Any], bool]],
) -> dict[str, Any]:
    """Docstring + (param, schema, required) → an OpenAI function object."""
    if not docstring or not docstring.strip():
        raise ValueError(
            f"function {name!r} has no docstring; the docstring is what the model reads"
        )
    doc = docstring_parser.parse(docstring)
    descriptions = {p.arg_name: _unwrap(p.description or "") for p in doc.params}
    text = "\n\n".join(_unwrap(s) for s in (doc.short_description, doc.long_description) if s)
    if not text:
        raise ValueError(f"function {name!r}: the docstring has no description before its Args")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param, schema, is_required in params:
        if not descriptions.get(param):
            raise ValueError(f"function {name!r}: parameter {param!r} is not described under Args")
        properties[param] = {**schema, "description": descriptions[param]}
        if is_required:
            required.append(param)
    return {
        "name": name,
        "description": text,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def schema_from_function(fn: Callable[..., Any]) -> dict[str, Any]:
    """The OpenAI function schema of `fn`, from its signature and Google-style docstring."""
    name = fn.__name__
    hints = typing.get_type_hints(fn)
    params: list[tuple[str, dict[str, Any], bool]] = []
    for param in inspect.signature(fn).parameters.values():
        if param.name in RESERVED_PARAMS:
            continue
        where = f"function {name!r}, parameter {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ValueError(f"{where}: *args and **kwargs cannot be described to the model")
        if param.name not in hints:
            raise ValueError(f"{where}: needs a type annotation")
        params.append(
            (param.name, _type_schema(hints[param.name], where), param.default is param.empty)
        )
    return _assemble(name, inspect.getdoc(fn), params)


# --- schema from source, without running it --------------------------------------------

_AST_SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_AST_LISTS = {"list", "List", "Sequence", "Iterable"}
_AST_DICTS = {"dict", "Dict", "Mapping"}


def _ast_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional ...
        return node.attr
    return None


def _ast_schema(node: ast.expr, where: str) -> dict[str, Any]:
    """An annotation's AST → JSON schema (the source is never executed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        # A quoted annotation: parse the string as an expression.
        try:
            return _ast_schema(ast.parse(node.value, mode="eval").body, where)
        except SyntaxError:
            raise ValueError(f"{where}: cannot read the annotation {node.value!r}") from None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | None
        return _union_schema([node.left, node.right], where)
    name = _ast_name(node)
    if name in _AST_SCALARS:
        return {"type": _AST_SCALARS[name]}
    if name in _AST_LISTS:
        return {"type": "array", "items": {}}
    if name in _AST_DICTS:
        return {"type": "object"}
    if isinstance(node, ast.Subscript):
        outer = _ast_name(node.value)
        inner = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer in _AST_LISTS:
            return {"type": "array", "items": _ast_schema(inner[0], where)}
        if outer in _AST_DICTS:
            if len(inner) == 2:
                return {"type": "object", "additionalProperties": _ast_schema(inner[1], where)}
            return {"type": "object"}
        if outer == "Optional":
            return _ast_schema(inner[0], where)
        if outer == "Union":
            return _union_schema(inner, where)
        if outer == "Literal":
            if not all(isinstance(v, ast.Constant) for v in inner):
                raise ValueError(f"{where}: Literal values must be constants")
            return _literal_schema([typing.cast(ast.Constant, v).value for v in inner], where)
    raise ValueError(f"{where}: unsupported type annotation {ast.unparse(node)!r}")


def _union_schema(nodes: list[ast.expr], where: str) -> dict[str, Any]:
    flat: list[ast.expr] = []
    for node in nodes:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            flat += [node.left, node.right]
        else:
            flat.append(node)
    options = [n for n in flat if not (isinstance(n, ast.Constant) and n.value is None)]
    if len(options) == 1:
        return _ast_schema(options[0], where)
    return {"anyOf": [_ast_schema(n, where) for n in options]}


def schema_from_source(source: str, name: str | None = None) -> dict[str, Any]:
    """The OpenAI function schema of a function in `source`, read with `ast`.

    Picks the function called `name`, else the last top-level function. The
    code is parsed, never executed: it is a user's custom tool."""
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(
            f"tool source has a syntax error on line {exc.lineno}: {exc.msg}"
        ) from None
    functions = [n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        raise ValueError("tool source defines no top-level function")
    if name is None:
        fn = functions[-1]
    else:
        matches = [f for f in functions if f.name == name]
        if not matches:
            found = ", ".join(f.name for f in functions)
            raise ValueError(f"tool source has no top-level function {name!r} (found: {found})")
        fn = matches[-1]
    args = fn.args
    if args.vararg or args.kwarg:
        raise ValueError(
            f"function {fn.name!r}: *args and **kwargs cannot be described to the model"
        )
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    has_default = [i >= first_default for i in range(len(positional))]
    has_default += [d is not None for d in args.kw_defaults]
    params: list[tuple[str, dict[str, Any], bool]] = []
    for arg, defaulted in zip(positional + args.kwonlyargs, has_default, strict=True):
        if arg.arg in RESERVED_PARAMS:
            continue
        where = f"function {fn.name!r}, parameter {arg.arg!r}"
        if arg.annotation is None:
            raise ValueError(f"{where}: needs a type annotation")
        params.append((arg.arg, _ast_schema(arg.annotation, where), not defaulted))
    return _assemble(fn.name, ast.get_docstring(fn), params)


# --- schema decorations the loop adds ------------------------------------------------------


def with_request_heartbeat(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with the required `request_heartbeat` flag (memgpt-style agents)."""
    out = copy.deepcopy(schema)
    params = out.setdefault("parameters", {"type": "object", "properties": {}, "required": []})
    params.setdefault("properties", {})[REQUEST_HEARTBEAT] = {
        "type": "boolean",
        "description": (
            "true to get another step right after this tool returns, so you can read its result "
            "and keep working; false to end your turn and wait for the user."
        ),
    }
    required = params.setdefault("required", [])
    if REQUEST_HEARTBEAT not in required:
        required.append(REQUEST_HEARTBEAT)
    return out


def with_inner_thoughts(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A copy of `schema` whose first parameter is a private `thinking` note.

    For models without native reasoning: putting it first makes the model
    think before it fills in the real arguments."""
    out = copy.deepcopy(schema)
    params = out.setdefault("parameters", {"type": "object", "properties": {}, "required": []})
    thoughts = {
        "type": "string",
        "description": "Your private reasoning for this step, under 50 words. The user never sees it.",
    }
    params["properties"] = {INNER_THOUGHTS: thoughts, **params.get("properties", {})}
    names = [n for n in params.get("required", []) if n != INNER_THOUGHTS]
    params["required"] = [INNER_THOUGHTS, *names] if required else names
    return out


# --- arguments --------------------------------------------------------------------------


def _snippet(raw: str, pos: int) -> str:
    start = max(pos - 20, 0)
    return raw[start : pos + 20].replace("\n", "\\n")


def parse_arguments(raw: str) -> dict[str, Any]:
    """The model's argument text → a dict, forgiving the common slips.

    Empty text means no arguments; several objects glued together ("}{", a
    model emitting parallel calls) keep the first; a JSON string that itself
    holds JSON is decoded twice. Anything else raises ToolError saying where
    the JSON broke."""
    text = raw.strip()
    if not text:
        return {}
    decoder = json.JSONDecoder()
    try:
        value, end = decoder.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ToolError(
            f"Your tool arguments are not valid JSON: {exc.msg} at character {exc.pos} "
            f"(near '{_snippet(text, exc.pos)}'). Send a single JSON object, "
            'for example {"label": "human", "content": "..."}.'
        ) from None
    rest = text[end:].strip()
    if rest and not (isinstance(value, dict) and rest.startswith("{")):
        raise ToolError(
            f"Your tool arguments have extra text after the JSON object (near '{_snippet(text, end)}'). "
            "Send exactly one JSON object."
        )
    if isinstance(value, str):
        return parse_arguments(value) if value.strip().startswith("{") else _not_object(value)
    if not isinstance(value, dict):
        return _not_object(value)
    return value


def _not_object(value: Any) -> dict[str, Any]:
    kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
    raise ToolError(
        f"Tool arguments must be a JSON object of named parameters, but you sent {kind}."
    )


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _coerce(value: Any, schema: dict[str, Any], where: str) -> Any:
    """Check `value` against a (simple) JSON schema, fixing harmless type slips."""
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                return _coerce(value, option, where)
            except ToolError:
                continue
        raise ToolError(f"{where} has the wrong type.")
    kind = schema.get("type")
    if kind == "string":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ToolError(f"{where} must be a string.")
    elif kind == "integer":
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ToolError(f"{where} must be a whole number.")
    elif kind == "number":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ToolError(f"{where} must be a number.")
    elif kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise ToolError(f"{where} must be true or false.")
    elif kind == "array":
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        if not isinstance(value, list):
            raise ToolError(f"{where} must be a list.")
        items = schema.get("items") or {}
        value = [_coerce(v, items, f"{where}[{i}]") for i, v in enumerate(value)]
    elif kind == "object" and not isinstance(value, dict):
        raise ToolError(f"{where} must be an object.")
    if "enum" in schema and value not in schema["enum"]:
        options = ", ".join(json.dumps(v) for v in schema["enum"])
        raise ToolError(f"{where} must be one of {options}, not {json.dumps(value)}.")
    return value


def validate_arguments(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Arguments checked against the function schema; ToolError names each problem.

    Drops the loop's own flags (request_heartbeat, thinking) and nulls for
    optional parameters, so the function sees only what it declares."""
    params = schema.get("parameters", {})
    properties: dict[str, Any] = params.get("properties", {})
    required: list[str] = params.get("required", [])
    name = schema.get("name", "this tool")
    args = {k: v for k, v in args.items() if k not in (REQUEST_HEARTBEAT, INNER_THOUGHTS)}
    unknown = [k for k in args if k not in properties]
    if unknown:
        accepted = ", ".join(properties) or "no arguments"
        raise ToolError(
            f"{name} does not take {', '.join(map(repr, unknown))}. It accepts: {accepted}."
        )
    clean = {k: v for k, v in args.items() if not (v is None and k not in required)}
    missing = [k for k in required if k not in clean or clean[k] is None]
    if missing:
        raise ToolError(f"{name} is missing required argument(s): {', '.join(missing)}.")
    return {k: _coerce(v, properties[k], f"Argument '{k}'") for k, v in clean.items()}


# --- results ------------------------------------------------------------------------------------

ERROR_CHAR_LIMIT = 1_000


def stringify_result(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def truncate_result(text: str, char_limit: int) -> str:
    if len(text) <= char_limit:
        return text
    return (
        f"{text[:char_limit]}\n[Output truncated: showing the first {char_limit} of {len(text)} characters. "
        "Ask for less (a narrower query or fewer results) to see the rest.]"
    )


def error_message(tool_name: str, exc: BaseException) -> str:
    """What the model reads when a tool raised: a ToolError verbatim, else the exception."""
    if isinstance(exc, ToolError):
        text = str(exc)
    else:
        text = f"Error executing tool {tool_name}: {type(exc).__name__}: {exc}"
    return text[:ERROR_CHAR_LIMIT]


def package_result(
    value: object,
    *,
    success: bool,
    when: datetime,
    timezone: str,
    char_limit: int | None = None,
) -> str:
    """The tool-result envelope the model sees: {"status", "message", "time"}."""
    text = stringify_result(value)
    if char_limit is not None:
        text = truncate_result(text, char_limit)
    return tool_result_envelope("OK" if success else "Failed", text, when, timezone)
