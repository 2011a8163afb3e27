"""FutureList: the futures of one job's calls, made when they are asked for.

A 1,000,000-call ``.map()`` returns at once: no future exists until the caller takes it
(index, slice, iteration); until then the watcher keeps each call's outcome in one slot
of a list. A future taken while its call runs is held here until the watcher settles it
(so its callbacks run); one taken afterwards is made already done. While a caller holds
a future, taking the same index again gives the same object.

Thread safety: the watcher thread settles calls while callers take futures and wait. One
lock orders both: a call's outcome is recorded, and the future taken for it found, under
it; the future itself is completed outside it (its callbacks may take more futures).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import InvalidStateError
from concurrent.futures._base import FINISHED
from typing import TYPE_CHECKING, Any, overload

from .future import ClusterFuture

if TYPE_CHECKING:
    from .job import Job
    from .target import Target


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<pending>"


class _Cancelled:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<cancelled>"


class _Raised:
    """A call's exception, told apart from a call that returned an exception object."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


PENDING = _Pending()
CANCELLED = _Cancelled()
#: a repr shows at most this many futures (a list's repr up to there; a million would not be read)
REPR_FUTURES = 100


class FutureList(Sequence[ClusterFuture]):
    """The futures of a job's calls, in call order: a read-only list of :class:`ClusterFuture`.

    ``len``, indexing, slicing (a list), iteration, ``in``, ``==`` with a list, ``+``, and
    ``concurrent.futures.wait``/``as_completed``/:func:`clustrix.wait` all work as on the
    list ``.map()`` used to return; passed as an argument to another call, it travels as
    the list of its futures (a pipeline: each call takes the values of those futures).
    """

    def __init__(self, job: Job, target: Target) -> None:
        self.job = job
        self.target = target
        self._lock = threading.Lock()
        self._outcomes: list[Any] = [PENDING] * job.n_calls
        self._pending = job.n_calls
        #: futures taken while their call was pending: held until settled (a cancelled one for good)
        self._waiting: dict[int, ClusterFuture] = {}
        #: every future taken and still held somewhere: the same object for the same index
        self._taken: weakref.WeakValueDictionary[int, ClusterFuture] = weakref.WeakValueDictionary()

    # --- the list a caller sees ------------------------------------------------------

    def __len__(self) -> int:
        return len(self._outcomes)

    @overload
    def __getitem__(self, index: int) -> ClusterFuture: ...

    @overload
    def __getitem__(self, index: slice) -> list[ClusterFuture]: ...

    def __getitem__(self, index: int | slice) -> ClusterFuture | list[ClusterFuture]:
        if isinstance(index, slice):
            return [self._future(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index.__index__()
        if not -n <= i < n:
            raise IndexError("FutureList index out of range")
        return self._future(i % n)

    def __iter__(self) -> Iterator[ClusterFuture]:
        for i in range(len(self)):
            yield self._future(i)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, ClusterFuture) or value.job is not self.job:
            return False
        return self._taken.get(value.index) is value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FutureList):
            return other is self or list(self) == list(other)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __add__(self, other: Sequence[ClusterFuture]) -> list[ClusterFuture]:
        return [*self, *other]

    def __radd__(self, other: Sequence[ClusterFuture]) -> list[ClusterFuture]:
        return [*other, *self]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the list of its futures (an argument of a dependent call)."""
        return (list, (list(self),))

    def __repr__(self) -> str:
        shown = [repr(self._future(i)) for i in range(min(len(self), REPR_FUTURES))]
        if len(self) > REPR_FUTURES:
            shown.append(f"... {len(self) - REPR_FUTURES:,} more")
        return "[" + ", ".join(shown) + "]"

    def _future(self, index: int) -> ClusterFuture:
        """The future of call ``index``: the one a caller holds, else a new one in its call's state."""
        with self._lock:
            future = self._taken.get(index)
            if future is not None:
                return future
            future = ClusterFuture(self.job, index, self.target, owner=self)
            outcome = self._outcomes[index]
            if outcome is PENDING:
                self._waiting[index] = future
            elif isinstance(outcome, _Raised):  # made done before anyone can wait on it or add a callback
                future._exception, future._state = outcome.error, FINISHED
            elif outcome is not CANCELLED:
                future._result, future._state = outcome, FINISHED
            self._taken[index] = future
        if outcome is CANCELLED:
            future._cancel_locally()
        return future

    # --- what the watcher does ---------------------------------------------------------

    def taken(self, index: int) -> ClusterFuture | None:
        """The future of call ``index`` if a caller has it, without making one."""
        with self._lock:
            return self._taken.get(index)

    def settle(self, index: int, ok: bool, value: Any) -> bool:
        """Record call ``index``'s value (``ok``) or exception and complete its future if one
        was taken; False when the call was settled or cancelled already."""
        with self._lock:
            if self._outcomes[index] is not PENDING:
                return False
            self._outcomes[index] = value if ok else _Raised(value)
            self._pending -= 1
            future = self._waiting.pop(index, None)
        if future is not None:
            try:
                (future.set_result if ok else future.set_exception)(value)
            except InvalidStateError:  # cancelled meanwhile through the future itself
                return False
        return True

    def fail_pending(self, error: BaseException) -> None:
        """Every call not settled yet raises ``error``."""
        for index in self.pending():
            self.settle(index, False, error)

    def cancel(self, index: int, future: ClusterFuture | None = None) -> bool:
        """Cancel call ``index`` (and ``future``, a future of it); False if it was settled already."""
        with self._lock:
            if self._outcomes[index] is not PENDING:
                return False
            self._outcomes[index] = CANCELLED
            self._pending -= 1
            waiting = self._waiting.get(index)
            if future is not None:
                self._waiting[index] = future  # a future cancelled stays cancelled while the list lives
        for f in {id(f): f for f in (waiting, future) if f is not None}.values():
            f._cancel_locally()
        return True

    def keep_value(self, index: int, value: Any) -> None:
        """A value fetched later (one left on the execution host) replaces what was recorded."""
        with self._lock:
            if not isinstance(self._outcomes[index], (_Pending, _Cancelled, _Raised)):
                self._outcomes[index] = value

    def cancelled(self, index: int) -> bool:
        return self._outcomes[index] is CANCELLED

    def all_done(self) -> bool:
        """Whether every call has its value, its exception, or was cancelled."""
        return self._pending == 0

    def pending(self) -> list[int]:
        """The calls not settled yet."""
        with self._lock:
            return [i for i, outcome in enumerate(self._outcomes) if outcome is PENDING]
