"""A minimal least-recently-used cache built on a doubly linked list.

This mirrors what ``functools.lru_cache`` does internally, but exposes the
cache object so callers can inspect, resize or evict entries explicitly.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Node(Generic[K, V]):
    __slots__ = ("key", "value", "prev", "next")

    def __init__(self, key: K, value: V) -> None:
        self.key = key
        self.value = value
        self.prev: _Node[K, V] | None = None
        self.next: _Node[K, V] | None = None


class LRUCache(Generic[K, V]):
    """Fixed-capacity mapping that evicts the least recently used key.

    >>> c = LRUCache(2)
    >>> c.put("a", 1); c.put("b", 2); c.get("a")
    1
    >>> c.put("c", 3)          # evicts "b", the least recently used
    >>> "b" in c
    False
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._map: dict[K, _Node[K, V]] = {}
        # Sentinel nodes avoid special cases at the ends of the list.
        self._head: _Node = _Node(None, None)  # type: ignore[arg-type]
        self._tail: _Node = _Node(None, None)  # type: ignore[arg-type]
        self._head.next = self._tail
        self._tail.prev = self._head
        self.hits = 0
        self.misses = 0

    # -- linked-list helpers -------------------------------------------------
    def _unlink(self, node: _Node[K, V]) -> None:
        node.prev.next = node.next  # type: ignore[union-attr]
        node.next.prev = node.prev  # type: ignore[union-attr]

    def _push_front(self, node: _Node[K, V]) -> None:
        node.prev = self._head
        node.next = self._head.next
        self._head.next.prev = node  # type: ignore[union-attr]
        self._head.next = node

    # -- public API ----------------------------------------------------------
    def get(self, key: K, default: V | None = None) -> V | None:
        node = self._map.get(key)
        if node is None:
            self.misses += 1
            return default
        self.hits += 1
        self._unlink(node)
        self._push_front(node)
        return node.value

    def put(self, key: K, value: V) -> None:
        node = self._map.get(key)
        if node is not None:
            node.value = value
            self._unlink(node)
            self._push_front(node)
            return
        node = _Node(key, value)
        self._map[key] = node
        self._push_front(node)
        if len(self._map) > self.capacity:
            self.evict()

    def evict(self) -> K | None:
        """Remove and return the least recently used key, if any."""
        lru = self._tail.prev
        if lru is self._head:
            return None
        self._unlink(lru)  # type: ignore[arg-type]
        del self._map[lru.key]  # type: ignore[union-attr]
        return lru.key  # type: ignore[union-attr]

    def resize(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        while len(self._map) > capacity:
            self.evict()

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __len__(self) -> int:
        return len(self._map)

    def __iter__(self) -> Iterator[K]:
        """Iterate keys from most to least recently used."""
        node = self._head.next
        while node is not self._tail:
            yield node.key  # type: ignore[union-attr]
            node = node.next  # type: ignore[union-attr]

    def __repr__(self) -> str:
        items = ", ".join(f"{k!r}: {self._map[k].value!r}" for k in self)
        return f"LRUCache({self.capacity}, {{{items}}})"


def cached(capacity: int = 128):
    """Decorator that memoises a single-argument function with an LRUCache."""

    def wrap(fn):
        cache: LRUCache = LRUCache(capacity)
        sentinel = object()

        def inner(arg):
            value = cache.get(arg, sentinel)
            if value is sentinel:
                value = fn(arg)
                cache.put(arg, value)
            return value

        inner.cache = cache  # type: ignore[attr-defined]
        inner.__name__ = fn.__name__
        inner.__doc__ = fn.__doc__
        return inner

    return wrap


if __name__ == "__main__":
    import doctest

    doctest.testmod()
