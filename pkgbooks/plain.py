"""Dataclasses and named tuples as plain tuples, and back, by their fields' declared types.

The checkpoint (pkgbooks/checkpoint.py) stores the engine's state: some
hundred thousand dataclass and named-tuple objects holding a few million
strings, amounts and dates. Pickled as they are, each object costs a call of
Python code (a named tuple's `__getnewargs__`, a reducer), a Decimal or a
date is written with its class's name, and a slotted dataclass as a dict of
its field names: saving the state of 100k events took seconds. Here each
class gets, once, an encoder and a decoder written for its fields (Python
source made from the type hints, compiled): an object becomes a tuple of its
field values, a `Decimal` its text, a `date` its day number, a set a sorted
list (the same state gives the same bytes in any process), a member of a
union of classes a (tag, tuple) pair; what needs no change (strings, ints,
None, `Literal`s, containers of those) is passed as it is. What is left is
builtins only, which pickle writes and reads back in C.

Decoding makes the same classes again through their constructors; equal
amounts and dates come back as one shared object each (both are immutable).
A value whose type the hints do not describe (`Any`, a class that is neither
a dataclass nor a named tuple) is passed through for pickle to handle as it
would anyway, so nothing is lost, only not sped up.
"""

from __future__ import annotations

import dataclasses
import datetime
import operator
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Encoder = Callable[[Any], Any]


class _Decimals(dict[str, Decimal]):
    """Text -> the one Decimal made of it in a decoding (equal texts, equal digits)."""

    def __missing__(self, text: str) -> Decimal:
        value = self[text] = Decimal(text)
        return value


class _Days(dict[int, datetime.date]):
    """Day number -> the one date made of it in a decoding."""

    def __missing__(self, day: int) -> datetime.date:
        value = self[day] = datetime.date.fromordinal(day)
        return value


def _is_class(tp: Any) -> bool:
    """A dataclass or a named tuple: stored as a tuple of its fields."""
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_named_tuple(tp))


def _is_named_tuple(tp: type) -> bool:
    return issubclass(tp, tuple) and hasattr(tp, "_fields")


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    if _is_named_tuple(cls):
        return [(name, hints.get(name, Any)) for name in cls._fields]  # type: ignore[attr-defined]
    return [(f.name, hints.get(f.name, Any)) for f in dataclasses.fields(cls)]


class Codec:
    """Encoders and decoders of classes, made on first use and kept.

    The encoded form depends on the classes' fields: it is only read back by
    the same code (the checkpoint checks a digest of the source).
    """

    def __init__(self) -> None:
        self._names: dict[object, str] = {}  # a class or union -> its functions' suffix
        self._source: list[str] = []
        self._space: dict[str, Any] = {"_Decimal": Decimal, "_new": tuple.__new__,
                                       "_object_new": object.__new__, "_tuple": tuple,
                                       "_set": object.__setattr__}

    def encoder(self, tp: Any) -> Encoder:
        """A function: a value of type `tp` -> its plain form."""
        return self._function(self._enc("v", tp, 0) or "v")

    def decoder(self, tp: Any) -> Callable[[Any], Any]:
        """A function: the plain form of a value of type `tp` -> the value.

        Each function made here keeps its own tables of the amounts and dates
        it made, so that equal ones are one object.
        """
        return self._function(self._dec("v", tp, 0) or "v")

    def _function(self, expr: str) -> Callable[[Any], Any]:
        """Compile the class functions written so far and one taking `v` to `expr`."""
        space = dict(self._space, _decimals=_Decimals(), _days=_Days())
        source = "\n".join([*self._source, "def _top(v):", f"    return {expr}", ""])
        exec(compile(source, "<pkgbooks.plain>", "exec"), space)  # noqa: S102 - made here
        return typing.cast(Callable[[Any], Any], space["_top"])

    def _name(self, key: object, build: Callable[[str], list[str]]) -> str:
        """The suffix of the functions for `key`, writing them on first use."""
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = str(len(self._names))
            self._source.extend(build(name))
        return name

    def _class(self, cls: type) -> str:
        def build(name: str) -> list[str]:
            self._space[f"_C{name}"] = cls
            fields = _fields(cls)
            if not fields:
                raise TypeError(f"{cls.__name__} has no fields to store")
            args = [f"a{i}" for i in range(len(fields))]
            enc = [self._enc(a, tp, 1) or a for a, (_f, tp) in zip(args, fields, strict=True)]
            dec = [self._dec(a, tp, 1) or a for a, (_f, tp) in zip(args, fields, strict=True)]
            unpack = ", ".join(args) + ("," if len(args) == 1 else "")
            # The fields at once: a named tuple is its fields; a dataclass's come from one
            # `attrgetter` call (C), not an attribute lookup each.
            self._space[f"_G{name}"] = operator.attrgetter(*(f for f, _tp in fields))
            whole = "o" if _is_named_tuple(cls) else f"_G{name}(o)"
            if len(fields) == 1:
                whole = f"({whole},)" if not _is_named_tuple(cls) else whole
            if _is_named_tuple(cls):
                make = f"_new(_C{name}, ({', '.join(dec)}{',' if len(dec) == 1 else ''}))"
                body = [f"    {unpack} = t", f"    return {make}"]
            elif all(f.init and not f.kw_only for f in dataclasses.fields(cls)):
                body = [f"    {unpack} = t", f"    return _C{name}({', '.join(dec)})"]
            else:  # a field __init__ does not take: set every field as it was
                body = [f"    {unpack} = t", f"    o = _object_new(_C{name})"]
                body += [f"    _set(o, {f!r}, {d})" for (f, _tp), d in zip(fields, dec,
                                                                         strict=True)]
                body.append("    return o")
            if enc == args:  # nothing to change: the fields as they are
                encode = [f"    return {'_tuple(o)' if whole == 'o' else whole}"]
            else:
                encode = [f"    {unpack} = {whole}", f"    return ({', '.join(enc)},)"]
            return [f"def _E{name}(o):", *encode, f"def _D{name}(t):", *body]
        return self._name(cls, build)

    def _union(self, members: tuple[Any, ...]) -> str:
        def build(name: str) -> list[str]:
            enc = [f"def _E{name}(v):", "    k = type(v)"]
            dec = [f"def _D{name}(t):", "    k, v = t"]
            for tag, tp in enumerate(members):
                self._space[f"_U{name}_{tag}"] = tp
                enc.append(f"    if k is _U{name}_{tag}: return ({tag}, "
                           f"{self._enc('v', tp, 1) or 'v'})")
                dec.append(f"    if k == {tag}: return {self._dec('v', tp, 1) or 'v'}")
            enc.append(f"    raise TypeError(f'not one of the union {name}: {{k}}')")
            dec.append(f"    raise ValueError('not a tag of the union {name}')")
            return enc + dec
        return self._name(members, build)

    # -- expressions -------------------------------------------------------------------------
    # `_enc(expr, tp)`: an expression for the plain form of `expr`, a value of type `tp`, or
    # None where the value is its own plain form; `_dec` the reverse. `depth` names the
    # variables of nested comprehensions apart.

    def _enc(self, expr: str, tp: Any, depth: int) -> str | None:
        if tp is Decimal:
            return f"str({expr})"
        if tp is datetime.date:
            return f"{expr}.toordinal()"
        if _is_class(tp):
            return f"_E{self._class(tp)}({expr})"
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (types.UnionType, typing.Union):
            return self._enc_union(expr, args, depth)
        x, k = f"x{depth}", f"k{depth}"
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            inner = self._enc(x, args[0], depth + 1)
            return None if inner is None else f"tuple([{inner} for {x} in {expr}])"
        if origin is tuple and args and Ellipsis not in args:
            parts = [self._enc(f"{expr}[{i}]", a, depth + 1) for i, a in enumerate(args)]
            if all(p is None for p in parts):
                return None
            return "(" + "".join(f"{p or f'{expr}[{i}]'}, " for i, p in enumerate(parts)) + ")"
        if origin is list and args:
            inner = self._enc(x, args[0], depth + 1)
            return None if inner is None else f"[{inner} for {x} in {expr}]"
        if origin in (set, frozenset) and args:
            inner = self._enc(x, args[0], depth + 1)
            return f"sorted({expr})" if inner is None else f"sorted([{inner} for {x} in {expr}])"
        if origin is dict and len(args) == 2:
            key, value = self._enc(k, args[0], depth + 1), self._enc(x, args[1], depth + 1)
            if key is None and value is None:
                return None
            return f"{{{key or k}: {value or x} for {k}, {x} in {expr}.items()}}"
        return None

    def _dec(self, expr: str, tp: Any, depth: int) -> str | None:
        if tp is Decimal:
            return f"_decimals[{expr}]"
        if tp is datetime.date:
            return f"_days[{expr}]"
        if _is_class(tp):
            return f"_D{self._class(tp)}({expr})"
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (types.UnionType, typing.Union):
            return self._dec_union(expr, args, depth)
        x, k = f"x{depth}", f"k{depth}"
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            inner = self._dec(x, args[0], depth + 1)
            return None if inner is None else f"tuple([{inner} for {x} in {expr}])"
        if origin is tuple and args and Ellipsis not in args:
            parts = [self._dec(f"{expr}[{i}]", a, depth + 1) for i, a in enumerate(args)]
            if all(p is None for p in parts):
                return None
            return "(" + "".join(f"{p or f'{expr}[{i}]'}, " for i, p in enumerate(parts)) + ")"
        if origin is list and args:
            inner = self._dec(x, args[0], depth + 1)
            return None if inner is None else f"[{inner} for {x} in {expr}]"
        if origin in (set, frozenset) and args:
            inner = self._dec(x, args[0], depth + 1)
            kind = "set" if origin is set else "frozenset"
            return f"{kind}({expr})" if inner is None else f"{kind}([{inner} for {x} in {expr}])"
        if origin is dict and len(args) == 2:
            key, value = self._dec(k, args[0], depth + 1), self._dec(x, args[1], depth + 1)
            if key is None and value is None:
                return None
            return f"{{{key or k}: {value or x} for {k}, {x} in {expr}.items()}}"
        return None

    def _enc_union(self, expr: str, args: tuple[Any, ...], depth: int) -> str | None:
        members = tuple(a for a in args if a is not type(None))
        changed = [a for a in members if self._enc("v", a, depth) is not None]
        if not changed:
            return None
        if len(members) == 1:
            inner = self._enc(expr, members[0], depth)
            return f"(None if {expr} is None else {inner})"
        if changed == [Decimal] and not any(_may_be_text(a) for a in members if a is not Decimal):
            # An amount or a count (`Decimal | int`): the text tells the amount apart.
            return f"(str({expr}) if type({expr}) is _Decimal else {expr})"
        tagged = f"_E{self._union(members)}({expr})"
        return f"(None if {expr} is None else {tagged})" if len(members) < len(args) else tagged

    def _dec_union(self, expr: str, args: tuple[Any, ...], depth: int) -> str | None:
        members = tuple(a for a in args if a is not type(None))
        changed = [a for a in members if self._dec("v", a, depth) is not None]
        if not changed:
            return None
        if len(members) == 1:
            inner = self._dec(expr, members[0], depth)
            return f"(None if {expr} is None else {inner})"
        if changed == [Decimal] and not any(_may_be_text(a) for a in members if a is not Decimal):
            return f"(_decimals[{expr}] if type({expr}) is str else {expr})"
        tagged = f"_D{self._union(members)}({expr})"
        return f"(None if {expr} is None else {tagged})" if len(members) < len(args) else tagged


def _may_be_text(tp: Any) -> bool:
    """Whether a value of `tp` may be a `str` (so a Decimal's text cannot be told from it)."""
    if tp is str or tp is Any:
        return True
    if typing.get_origin(tp) is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(tp))
    return not (isinstance(tp, type) and tp in (int, bool, float, bytes))
