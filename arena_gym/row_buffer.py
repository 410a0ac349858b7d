"""Tables that grow by rows in place: what lets a market, its indicators and every table derived
from it take new bars at a cost that does not depend on how many bars came before.

A :class:`RowBuffer` keeps a table's rows in a buffer whose capacity doubles when it is full, so
appending ``n`` rows costs ``O(n)`` amortized; :attr:`RowBuffer.table` is the filled part, a
view (C-contiguous when rows run along axis 0). Callers that compiled code reads keep the same
array type as before growth: ``frozen`` tables are read-only, as the batch-built ones are.

It depends on NumPy alone, so every layer (the exchange's bar table as well as the market's own
tables) can use it without importing the layers above it.
"""

from __future__ import annotations

import numpy as np

#: smallest capacity allocated on the first append, in rows
MIN_CAPACITY = 64


class RowBuffer:
    """Rows along ``axis`` of a table that grows (see the module docstring).

    Args:
        table: the rows so far; used as it is (never written) until the first append.
        axis: the axis rows run along (0, or 1 for field-major tables such as ``(F, T, A)``).
        frozen: whether :attr:`table` and :attr:`buffer` are read-only.
    """

    def __init__(self, table: np.ndarray, axis: int = 0, frozen: bool = True) -> None:
        self.axis = axis
        self.frozen = frozen
        self.n = table.shape[axis]
        self.buffer = table
        self._owned = False

    @property
    def capacity(self) -> int:
        return self.buffer.shape[self.axis]

    @property
    def table(self) -> np.ndarray:
        """The filled rows (a view of :attr:`buffer`)."""
        if not self._owned:
            return self.buffer
        view = self.buffer[: self.n] if self.axis == 0 else self.buffer[:, : self.n]
        if self.frozen:
            view.setflags(write=False)
        return view

    def append(self, rows: np.ndarray) -> np.ndarray:
        """Add ``rows`` (the table's shape but for the row axis); returns the new :attr:`table`."""
        count = rows.shape[self.axis]
        end = self.n + count
        if not self._owned or end > self.capacity:
            shape = list(self.buffer.shape)
            shape[self.axis] = max(end, 2 * self.capacity, MIN_CAPACITY)
            grown = np.zeros(shape, self.buffer.dtype)
            if self.axis == 0:
                grown[: self.n] = self.buffer[: self.n]
            else:
                grown[:, : self.n] = self.buffer[:, : self.n]
            self.buffer, self._owned = grown, True
        self.buffer.setflags(write=True)
        if self.axis == 0:
            self.buffer[self.n:end] = rows
        else:
            self.buffer[:, self.n:end] = rows
        if self.frozen:
            self.buffer.setflags(write=False)
        self.n = end
        return self.table
