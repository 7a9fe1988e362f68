"""``nasrec.ray_runtime``: the one place Ray is started; a block stops only the runtime it started."""

from __future__ import annotations

import pytest

from nasrec.ray_runtime import ensure_ray, running_ray, shutdown_ray

pytestmark = pytest.mark.slow


def test_a_block_uses_the_running_runtime_and_stops_only_what_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    monkeypatch.delenv("NASREC_RAY_ADDRESS", raising=False)
    shutdown_ray()
    assert not ray.is_initialized()
    with running_ray(num_cpus=1):
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 1
        assert ensure_ray(num_cpus=2) is False  # already running: joined, not restarted
        with running_ray():  # an inner user (an actor pool, a Ray Train run) keeps the runtime
            pass
        assert ray.is_initialized()
    assert not ray.is_initialized()
    shutdown_ray()  # nothing left to stop: a no-op


def test_the_embedded_runtime_starts_quietly() -> None:
    """A user who configured no Ray sees no Ray notices (token authentication stays on)."""
    import os
    import subprocess
    import sys

    code = "from nasrec.ray_runtime import ensure_ray, shutdown_ray\nensure_ray(num_cpus=1)\nshutdown_ray()\n"
    env = {k: v for k, v in os.environ.items() if k not in ("NASREC_RAY_ADDRESS", "RAY_AUTH_MODE")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Token authentication" not in done.stderr + done.stdout
