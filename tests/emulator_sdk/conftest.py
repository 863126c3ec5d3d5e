# Why: pytest fixtures of the emulator proof suite. One emulator subprocess (fast timings) serves
# the whole session and is reset before every test; `sig` runs a test with the SDK's default V3
# signature and with signature_algorithm='v2'; `creds` runs it with the plain access key and
# with STS keys from the emulator's own STS and ECS metadata service. Modules that need other
# flags start their own emulator with `start_emulator`.
from __future__ import annotations

from typing import Callable

import pytest

from harness import BINARY, CREATE_DELAY_MS, CREDENTIALS, SIGNATURES, Emulator


@pytest.fixture(scope="session")
def start_emulator(tmp_path_factory) -> Callable[..., Emulator]:
    """Starts an emulator with extra flags; every one started is stopped at the session's end."""
    if not BINARY.exists():
        pytest.exit(f"{BINARY} is missing: run tests/emulator_sdk/run.sh (it builds it)", 2)
    started: list[Emulator] = []
    logs = tmp_path_factory.mktemp("emulator-logs")

    def start(*flags: str) -> Emulator:
        emulator = Emulator(list(flags), logs / f"emulator-{len(started)}.log")
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture(scope="session")
def session_emulator(start_emulator) -> Emulator:
    return start_emulator("--create-delay-ms", str(CREATE_DELAY_MS))


@pytest.fixture
def emulator(session_emulator) -> Emulator:
    """The session emulator, back to its seeded state."""
    session_emulator.reset()
    return session_emulator


@pytest.fixture(params=list(SIGNATURES))
def sig(request) -> str:
    return request.param


@pytest.fixture(params=CREDENTIALS)
def creds(request) -> str:
    return request.param


@pytest.fixture
def client(emulator, sig, creds):
    """An official SDK client: every signature × every kind of key."""
    return emulator.client(sig, creds)


@pytest.fixture
def ak_client(emulator, sig):
    """An official SDK client with the plain access key, for every signature."""
    return emulator.client(sig, "ak")
