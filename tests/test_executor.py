"""The --executor option without a cluster: parsing, the plain install without Dask, the local
executor's contract, and shard descriptions that hold no client, credential or lock."""

from __future__ import annotations

import pickle
import sys
import threading
from typing import Any

import pytest

from trailcheck.cli import main
from trailcheck.errors import UserError
from trailcheck.scanner.executor import (
    AccountEntry,
    LocalEnv,
    LocalExecutor,
    ShardFailure,
    open_executor,
    parse_executor,
)
from trailcheck.scanner.session import AwsSession, Credentials


@pytest.mark.parametrize("value", ["local", "dask://127.0.0.1:8786", "dask://scheduler.svc:8786"])
def test_valid_executors(value: str) -> None:
    assert parse_executor(value) == value


@pytest.mark.parametrize(
    "value", ["", "dask", "dask://host", "dask://:8786", "ray://h:1", "thread"]
)
def test_invalid_executor_is_one_line_and_exit_2(value: str, capsys: Any) -> None:
    with pytest.raises(UserError, match="--executor"):
        parse_executor(value)
    assert main(["scan", "--executor", value]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("trailcheck: error: --executor:")


def test_dask_asked_for_without_the_extra(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    # A plain install: importing `distributed` fails (None in sys.modules makes import raise).
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "trailcheck.scanner.dask_executor", raising=False)

    with pytest.raises(UserError, match=r"trailcheck\[dask\]"):
        open_executor("dask://127.0.0.1:8786")
    assert main(["scan", "--executor", "dask://127.0.0.1:8786"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "pip install 'trailcheck[dask]'" in line
    assert isinstance(open_executor("local"), LocalExecutor)  # the default still works


def _square(env: Any, shard: int) -> int:
    assert env.access(AccountEntry("111111111111")).account_id == "111111111111"
    return shard * shard


def test_local_executor_keeps_order_and_counts_each_shard(aws: AwsSession) -> None:
    env = LocalEnv(aws, {"111111111111": None})
    done: list[int] = []
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            done.append(1)

    results = LocalExecutor().map(_square, list(range(20)), env, parallel=4, on_done=tick)

    assert results == [n * n for n in range(20)]
    assert len(done) == 20


def test_local_executor_turns_a_crashed_shard_into_a_failure(aws: AwsSession) -> None:
    def crash(env: Any, shard: int) -> int:
        if shard == 2:
            raise RuntimeError(f"shard {shard}\nbroke")
        return shard

    results = LocalExecutor().map(crash, [1, 2, 3], LocalEnv(aws, {}), parallel=2)
    assert results == [1, ShardFailure("RuntimeError: shard 2 broke"), 3]


def test_local_executor_lets_ctrl_c_through(aws: AwsSession) -> None:
    def interrupted(env: Any, shard: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LocalExecutor().map(interrupted, [1], LocalEnv(aws, {}), parallel=1)


def test_a_shard_entry_is_plain_data_and_an_account_access_is_not(aws: AwsSession) -> None:
    entry = AccountEntry("222222222222", "arn:aws:iam::222222222222:role/Audit", "ext-id")
    assert pickle.loads(pickle.dumps(entry)) == entry
    assert "Credentials" not in repr(entry)
    env = LocalEnv(aws, {"222222222222": Credentials("AKIA", "secret", "token")})
    # What a worker would need to be handed if shards carried accesses: refused by pickle.
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        pickle.dumps(env.access(entry))
