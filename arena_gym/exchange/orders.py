"""The one internal order type, and the flags the validator reports.

Every action mode decodes into :class:`Orders`: RL target exposures, discrete levels and the
contest's JSON decisions alike. An order is a *target*: "after the next fill, hold this signed
size", together with the leverage and exit plan (stop-loss, take-profit) to attach.

Arrays are (n_accounts, n_assets) float64. Conventions per field:

``size``
    Target signed position in coins after the fill. ``NaN`` leaves the position untouched
    (hold). ``0`` closes it.
``leverage``
    Integer leverage for a position that is opened, resized or flipped; it sets the margin the
    position needs (``notional / leverage``). ``NaN`` keeps the current leverage (or the
    account's default for a new position). Clamped to ``[1, max_leverage]`` and floored to an
    integer by the validator.
``stop_loss``, ``take_profit``
    Trigger prices. ``NaN`` keeps what is attached (nothing, for a new position), ``0`` removes
    it, a positive price attaches it. A level on the wrong side of the fill reference price
    (a long's stop above it, a long's target below it, mirrored for shorts) is dropped and
    flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np


class OrderFlag(IntFlag):
    """Per-(account, asset) validation outcomes; several may be set at once."""

    NONE = 0
    LEVERAGE_CLAMPED = 1        # leverage outside [1, max_leverage] or not an integer: clamped/floored
    BELOW_MIN_NOTIONAL = 2      # the change was smaller than the minimum order value: dropped
    SCALED_BY_MARGIN = 4        # not enough free margin: the increase was scaled down
    REFUSED_BY_MARGIN = 8       # not enough free margin for even the minimum order: refused
    STOP_INVALID = 16           # stop-loss on the wrong side of the price: dropped
    TARGET_INVALID = 32         # take-profit on the wrong side of the price: dropped
    HOUSE_RULE = 64             # refused by a house rule (e.g. no pyramiding while a position is open)
    NON_FINITE = 128            # size or leverage was +-inf: the order was dropped
    SIZE_ROUNDED_TO_ZERO = 256  # rounding to the size step left no change: dropped
    ACCOUNT_CLOSED = 512        # the account was liquidated or bankrupt: nothing executes


#: Flag names in bit order, for counting into ``info`` as ``orders_<name>``.
FLAG_NAMES = tuple(f.name.lower() for f in OrderFlag if f is not OrderFlag.NONE)


@dataclass
class Orders:
    """A batch of target orders, shaped (n_accounts, n_assets). See the module docstring."""

    size: np.ndarray
    leverage: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray

    @classmethod
    def hold(cls, n_accounts: int, n_assets: int) -> "Orders":
        """Orders that change nothing."""
        nan = np.full((n_accounts, n_assets), np.nan)
        return cls(nan, nan.copy(), nan.copy(), nan.copy())

    @property
    def shape(self) -> tuple[int, int]:
        return self.size.shape

    def check_shape(self, n_accounts: int, n_assets: int) -> None:
        for name in ("size", "leverage", "stop_loss", "take_profit"):
            arr = getattr(self, name)
            if np.shape(arr) != (n_accounts, n_assets):
                raise ValueError(f"Orders.{name} has shape {np.shape(arr)}, expected {(n_accounts, n_assets)}")


def count_flags(flags: np.ndarray) -> dict[str, np.ndarray]:
    """Counts per account of each flag in a (N, A) flag array: ``{name: (N,) int}``.

    Flags that occur nowhere share one zero array (treat the result as read-only).
    """
    zeros = np.zeros(flags.shape[0], np.int64)
    present = int(np.bitwise_or.reduce(flags, axis=None)) if flags.any() else 0
    return {name: ((flags & (1 << i)) != 0).sum(axis=1) if present & (1 << i) else zeros
            for i, name in enumerate(FLAG_NAMES)}
