"""Read-only lists and dicts: the parts of a decision the engine hands out from its caches.

A decision's reasons, counterfactuals, obligations and stages are worked out once for a cell of the
input space and then shared by every decision of that cell. They are a `list` and a `dict` to every
reader (JSON, pydantic, `==`, `isinstance`), but changing one in place raises instead of quietly
changing the decisions of other requests; `copy.deepcopy` (and pickling) gives plain, changeable ones.
"""

from __future__ import annotations

from typing import Any, NoReturn

_SHARED = "this part of a decision is shared with other decisions; change a copy (copy.deepcopy(decision))"


def _refuse(*_: Any, **__: Any) -> NoReturn:
    raise TypeError(_SHARED)


class FrozenList(list[Any]):
    """A list that cannot be changed in place."""

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return list, (list(self),)


class FrozenDict(dict[str, Any]):
    """A dict that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = setdefault = update = pop = popitem = clear = _refuse

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return dict, (dict(self),)


EMPTY: list[Any] = FrozenList()


def frozen(value: Any) -> Any:
    """value (plain JSON: dicts, lists, scalars) with every list and dict in it read-only."""
    if isinstance(value, dict):
        return FrozenDict({key: frozen(child) for key, child in value.items()})
    if isinstance(value, list):
        return FrozenList(frozen(child) for child in value)
    return value
