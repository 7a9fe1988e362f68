"""Jobs: submit, list, cancel; the worker side: claim with a lease, heartbeat, takeover, finish."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.store import Job, JobState, LeaseLostError, Store, User, crud, utcnow


def _submit(store: Store, owner: User, n: int = 1) -> list[Job]:
    with store.session(write=True) as session:
        return [
            crud.create_job(session=session, owner_id=owner.id, spec={"dataset": f"d{i}"}) for i in range(n)
        ]


def test_submit_list_filter_paginate(store: Store, alice: User, bob: User) -> None:
    jobs = _submit(store, alice, 5)
    _submit(store, bob, 2)
    with store.session(write=True) as session:
        crud.request_cancel(session=session, owner_id=alice.id, job_id=jobs[0].id)
        page, count = crud.list_jobs(session=session, owner_id=alice.id, limit=2, offset=0)
        assert count == 5 and [j.id for j in page] == [jobs[4].id, jobs[3].id]  # newest first
        page, _ = crud.list_jobs(session=session, owner_id=alice.id, limit=2, offset=4)
        assert [j.id for j in page] == [jobs[0].id]
        queued, count = crud.list_jobs(session=session, owner_id=alice.id, state=JobState.QUEUED)
        assert count == 4 and jobs[0].id not in {j.id for j in queued}
        _, count = crud.list_jobs(session=session, owner_id=None)
        assert count == 7
        with pytest.raises(ConfigError, match="limit must be between"):
            crud.list_jobs(session=session, owner_id=alice.id, limit=0)
        with pytest.raises(ConfigError, match="offset must be >= 0"):
            crud.list_jobs(session=session, owner_id=alice.id, offset=-1)
        job = crud.get_job(session=session, owner_id=alice.id, job_id=jobs[1].id)
        assert job.spec == {"dataset": "d1"} and job.state == JobState.QUEUED and job.progress == 0.0
        events = crud.list_events(session=session, owner_id=alice.id, job_id=jobs[1].id)
        assert [e.message for e in events] == ["job submitted"]


def test_claim_takes_the_oldest_queued_job_and_leases_it(store: Store, alice: User) -> None:
    first, second = _submit(store, alice, 2)
    with store.session(write=True) as session:
        now = utcnow()
        job = crud.claim_job(session=session, worker="w1", lease=timedelta(seconds=30), now=now)
        assert job.id == first.id and job.state == JobState.RUNNING
        assert job.lease_owner == "w1" and job.lease_expires_at == now + timedelta(seconds=30)
        assert job.attempts == 1 and job.started_at == now
        assert crud.claim_job(session=session, worker="w2", now=now).id == second.id
        assert crud.claim_job(session=session, worker="w3", now=now) is None


def test_expired_lease_is_taken_over_and_the_old_worker_is_fenced_off(store: Store, alice: User) -> None:
    (submitted,) = _submit(store, alice)
    with store.session(write=True) as session:
        t0 = utcnow()
        crud.claim_job(session=session, worker="w1", lease=timedelta(seconds=10), now=t0)
        renewed = crud.renew_lease(
            session=session,
            job_id=submitted.id,
            worker="w1",
            lease=timedelta(seconds=10),
            now=t0 + timedelta(seconds=5),
        )
        assert renewed.lease_expires_at == t0 + timedelta(seconds=15)
        assert crud.claim_job(session=session, worker="w2", now=t0 + timedelta(seconds=14)) is None
        crud.set_progress(
            session=session,
            job_id=submitted.id,
            worker="w1",
            phase="supernet",
            step=3,
            total=10,
            progress=0.1,
        )

        taken = crud.claim_job(session=session, worker="w2", now=t0 + timedelta(seconds=16))
        assert taken.id == submitted.id and taken.lease_owner == "w2" and taken.attempts == 2
        assert taken.started_at == t0 and taken.phase == "supernet" and taken.step == 3  # resumes from there
        with pytest.raises(LeaseLostError, match="no longer holds the lease"):
            crud.renew_lease(session=session, job_id=submitted.id, worker="w1")
        with pytest.raises(LeaseLostError):
            crud.set_progress(session=session, job_id=submitted.id, worker="w1", step=4)
        with pytest.raises(LeaseLostError):
            crud.finish_job(session=session, job_id=submitted.id, worker="w1", state=JobState.SUCCEEDED)
        done = crud.finish_job(
            session=session, job_id=submitted.id, worker="w2", state=JobState.SUCCEEDED, result={"best": 1}
        )
        assert done.state == JobState.SUCCEEDED and done.progress == 1.0 and done.lease_owner is None
        assert done.finished_at is not None and done.result == {"best": 1}
        messages = [
            e.message for e in crud.list_events(session=session, owner_id=alice.id, job_id=submitted.id)
        ]
        assert messages == [
            "job submitted",
            "started by worker w1",
            "resumed (attempt 2, previous lease expired) by worker w2",
            "job succeeded",
        ]


def test_progress_and_finish_validate(store: Store, alice: User) -> None:
    (submitted,) = _submit(store, alice)
    with store.session(write=True) as session:
        crud.claim_job(session=session, worker="w1")
        with pytest.raises(ConfigError, match="progress must be between 0 and 1"):
            crud.set_progress(session=session, job_id=submitted.id, worker="w1", progress=1.5)
        with pytest.raises(ConfigError, match="final state"):
            crud.finish_job(session=session, job_id=submitted.id, worker="w1", state=JobState.RUNNING)
        failed = crud.finish_job(
            session=session, job_id=submitted.id, worker="w1", state=JobState.FAILED, error="boom"
        )
        assert failed.error == "boom"
        events = crud.list_events(session=session, owner_id=alice.id, job_id=submitted.id)
        assert events[-1].level == "error" and events[-1].message == "job failed: boom"


def test_release_puts_the_job_back_in_the_queue(store: Store, alice: User) -> None:
    (submitted,) = _submit(store, alice)
    with store.session(write=True) as session:
        crud.claim_job(session=session, worker="w1")
        assert crud.release_job(session=session, job_id=submitted.id, worker="w1").state == JobState.QUEUED
        again = crud.claim_job(session=session, worker="w2")
        assert again.id == submitted.id and again.attempts == 2


def test_cancel(store: Store, alice: User, bob: User) -> None:
    queued, running, done = _submit(store, alice, 3)
    with store.session(write=True) as session:
        assert crud.claim_job(session=session, worker="w1").id == queued.id
        crud.release_job(session=session, job_id=queued.id, worker="w1")
        crud.claim_job(session=session, worker="w1")  # takes `queued` again (oldest)
        crud.claim_job(session=session, worker="w2")  # `running`
        crud.claim_job(session=session, worker="w3")  # `done`
        crud.finish_job(session=session, job_id=done.id, worker="w3", state=JobState.SUCCEEDED)
        crud.release_job(session=session, job_id=queued.id, worker="w1")

        with pytest.raises(NotFoundError, match=f"job {queued.id} not found"):
            crud.request_cancel(session=session, owner_id=bob.id, job_id=queued.id)
        cancelled = crud.request_cancel(session=session, owner_id=alice.id, job_id=queued.id)
        assert cancelled.state == JobState.CANCELLED and cancelled.finished_at is not None
        assert (
            crud.request_cancel(session=session, owner_id=alice.id, job_id=queued.id).state
            == JobState.CANCELLED
        )

        flagged = crud.request_cancel(session=session, owner_id=alice.id, job_id=running.id)
        assert flagged.state == JobState.RUNNING and flagged.cancel_requested
        assert crud.renew_lease(session=session, job_id=running.id, worker="w2").cancel_requested
        stopped = crud.finish_job(session=session, job_id=running.id, worker="w2", state=JobState.CANCELLED)
        assert stopped.state == JobState.CANCELLED

        with pytest.raises(ConflictError, match="already succeeded"):
            crud.request_cancel(session=session, owner_id=alice.id, job_id=done.id)
        assert crud.claim_job(session=session, worker="w4") is None  # cancelled jobs are not claimable
        counts = crud.job_counts_by_state(session=session)
        assert counts == {
            JobState.QUEUED: 0,
            JobState.RUNNING: 0,
            JobState.SUCCEEDED: 1,
            JobState.FAILED: 0,
            JobState.CANCELLED: 2,
        }


def test_concurrent_claims_never_hand_out_the_same_job(store: Store, alice: User) -> None:
    jobs = _submit(store, alice, 24)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(worker: str) -> None:
        mine = claimed.setdefault(worker, [])
        try:
            start.wait()
            while True:
                with store.session(write=True) as session:
                    job = crud.claim_job(session=session, worker=worker)
                if job is None:
                    return
                mine.append(job.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [job_id for ids in claimed.values() for job_id in ids]
    assert sorted(everything) == sorted(j.id for j in jobs)  # each job exactly once
    with store.session() as session:
        for worker, ids in claimed.items():
            for job_id in ids:
                assert session.get(Job, job_id).lease_owner == worker


def test_worker_heartbeats(store: Store, alice: User) -> None:
    (job,) = _submit(store, alice)
    with store.session(write=True) as session:
        crud.worker_heartbeat(session=session, worker_id="host:1", hostname="host", pid=1)
        beat = crud.worker_heartbeat(session=session, worker_id="host:1", job_id=job.id)
        assert beat.job_id == job.id and beat.hostname == "host"
        assert [w.id for w in crud.list_workers(session=session)] == ["host:1"]
        assert crud.forget_workers(session=session, silent_since=utcnow() + timedelta(seconds=1)) == 1
        assert crud.list_workers(session=session) == []
