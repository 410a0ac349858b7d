"""The exchange reproduces its golden episodes (``tests/golden_episodes.py``) to 1e-9 relative."""

from __future__ import annotations

import numpy as np
import pytest

from golden_episodes import FIXTURE, scenarios



@pytest.fixture(scope="module")
def golden():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def by_account(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ledger rows grouped by account, each account's rows in their order of booking.

    Within one step the exchange may book the accounts' events in any interleaving; what is
    fixed is the sequence of events of each account.
    """
    order = np.argsort(arrays["ledger_account"], kind="stable")
    return {k: v[order] if k.startswith("ledger_") else v for k, v in arrays.items()}


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_scenario_reproduces_its_golden_episode(name, golden):
    got = by_account(scenarios()[name]())
    expected = by_account({k.split("/", 1)[1]: v for k, v in golden.items() if k.startswith(name + "/")})
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        have = got[key]
        assert have.shape == want.shape, f"{name}/{key}: shape {have.shape} != {want.shape}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(have, want, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"{name}/{key}")
        else:
            np.testing.assert_array_equal(have, want, err_msg=f"{name}/{key}")


def test_the_golden_episodes_exercise_every_rule(golden):
    """The fixture covers what it claims: liquidations, stops, targets, funding, margin scaling, isolated."""
    kinds = np.concatenate([v for k, v in golden.items() if k.endswith("/ledger_kind")])
    assert {0, 1, 2, 3, 4, 5} <= set(kinds.tolist())     # order, stop, target, liquidation, funding, forfeit
    flags = np.bitwise_or.reduce(np.concatenate([v.ravel() for k, v in golden.items() if k.endswith("report_flags")]))
    assert flags & 4 and flags & 1 and flags & 16                        # scaled by margin, clamped, bad stop
