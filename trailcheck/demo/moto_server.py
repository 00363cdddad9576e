"""A faithful moto server in a child process (tests and benchmarks).

`start_moto_server(environment)` spawns a process that sets `environment` before importing moto
(moto reads settings such as `INITIAL_NO_AUTH_ACTION_COUNT` — IAM authorization enforced after
that many requests — when it is imported), applies `faithful_moto()` and serves on a free
loopback port until `close()`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

# The moto releases whose IAM action names this module maps to AWS's, each proven by
# tests/test_least_privilege.py; the value holds the whole actions that release names
# differently from AWS (beyond the shared routing fixes in `aws_iam_action`). A moto release
# not listed here is refused by `proven_moto_renames()` with one message, rather than turning
# a dozen least-privilege findings into ERROR far from the cause.
MOTO_ACTION_RENAMES: dict[str, dict[str, str]] = {
    "5.2.5": {},
    # 5.2.6 authorizes S3 by operation name, not by IAM action
    "5.2.6": {
        "s3:ListBuckets": "s3:ListAllMyBuckets",
        "s3:ListObjects": "s3:ListBucket",
        "s3:ListObjectsV2": "s3:ListBucket",
        "s3:ListObjectVersions": "s3:ListBucketVersions",
        "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
        "s3:GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
        "s3:GetBucketNotificationConfiguration": "s3:GetBucketNotification",
        "s3:GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
        "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    },
}

# S3 bucket sub-resources moto 5.2.5 authorizes as s3:ListBucket, and the action AWS evaluates
# (GET).
_S3_GET_SUBRESOURCE = {
    "publicAccessBlock": "GetBucketPublicAccessBlock",
    "object-lock": "GetBucketObjectLockConfiguration",
    "encryption": "GetEncryptionConfiguration",
}


class UnprovenMotoError(RuntimeError):
    """The installed moto is not a release this module's IAM action mapping was proven with."""


def proven_moto_renames(version: str | None = None) -> dict[str, str]:
    """The action renames for `version` (default: the installed moto); refuses other releases."""
    version = version or metadata.version("moto")
    try:
        return MOTO_ACTION_RENAMES[version]
    except KeyError:
        proven = ", ".join(MOTO_ACTION_RENAMES)
        raise UnprovenMotoError(
            f"moto {version} is installed, but trailcheck's moto IAM action mapping "
            f"(trailcheck/demo/moto_server.py, MOTO_ACTION_RENAMES) was proven with {proven} "
            "only: install one of those (make install pins it), or probe the new release "
            "and add its renames"
        ) from None


def aws_iam_action(
    action: str, method: str, path: str, renames: Mapping[str, str] | None = None
) -> str:
    """The IAM action AWS evaluates for what moto's access control names `action`.

    moto names the action after the signing name and its own routing, which differs
    from AWS's Service Authorization Reference for some calls trailcheck makes: CloudWatch
    signs as `monitoring` but its actions are `cloudwatch:*` (and its rpc-v2-cbor requests
    carry the operation in the path); S3 Control's account Public Access Block is
    `s3:GetAccountPublicAccessBlock`; GetPublicAccessBlock, GetObjectLockConfiguration and
    GetBucketEncryption on a bucket are not `s3:ListBucket`. `renames` holds the whole-action
    differences of one moto release (`MOTO_ACTION_RENAMES`); default: the installed one's.
    """
    if renames is None:
        renames = proven_moto_renames()
    service, _, name = action.partition(":")
    if "/operation/" in path:
        name = path.split("?", 1)[0].rsplit("/operation/", 1)[1]
    if service == "monitoring":
        service = "cloudwatch"
    if service == "s3" and "/configuration/publicAccessBlock" in path and method == "GET":
        return "s3:GetAccountPublicAccessBlock"
    if service == "s3" and name == "ListBucket" and method == "GET" and "?" in path:
        query = path.split("?", 1)[1].split("&")[0].split("=")[0]
        name = _S3_GET_SUBRESOURCE.get(query, name)
    full = f"{service}:{name}"
    return renames.get(full, full)


@contextmanager
def faithful_iam() -> Iterator[None]:
    """moto's IAM access control, evaluating the action names AWS evaluates."""
    from moto.iam.access_control import IAMRequestBase

    renames = proven_moto_renames()
    original = IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        moto_action = self._action
        self._action = aws_iam_action(self._action, self._method, self._path, renames)
        if os.environ.get("TRAILCHECK_MOTO_IAM_DEBUG"):
            print("moto-iam", moto_action, "->", self._action, self._path, flush=True)

    with mock.patch.object(IAMRequestBase, "__init__", init):
        yield


def _serve(port: int, environment: dict[str, str], ready: Any, stop: Any) -> None:
    os.environ.update(environment)
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    from trailcheck.demo.moto_fidelity import faithful_moto

    with faithful_moto(), faithful_iam():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        ready.set()
        stop.wait()
        server.stop()


def free_port() -> int:
    """A loopback TCP port nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MotoProcess:
    port: int
    process: Any
    stop: Any

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.stop.set()
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


def start_moto_server(environment: Mapping[str, str] | None = None) -> MotoProcess:
    """Start the server; raises RuntimeError if it is not up within 60 s.

    Raises UnprovenMotoError at once when the installed moto is not a proven release.
    """
    proven_moto_renames()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    port = free_port()
    process = ctx.Process(
        target=_serve, args=(port, dict(environment or {}), ready, stop), daemon=True
    )
    process.start()
    if not ready.wait(60):
        process.terminate()
        raise RuntimeError("moto server did not start")
    return MotoProcess(port, process, stop)
