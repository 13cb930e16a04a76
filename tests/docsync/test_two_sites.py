"""Two real Forgeline instances sync documents over their public APIs: bytes and
checksums match on both sides, a second run moves nothing, a worker killed
with SIGKILL mid-job is made good by a replay without duplicates or losses, and
a wrong token is refused with 401 and shown on the site's page."""

import hashlib
import os
import time

import pytest

from tests.docsync.twosites import JOBS, start, wait_done


@pytest.fixture
def sites(sync_sites):
    return sync_sites


def pdf(label: str, size: int = 2000) -> bytes:
    return (b"%PDF-1.7 " + label.encode() + b" " + os.urandom(size))[:size]


def assert_same_documents(a, b, numbers: list[str]) -> None:
    mine, theirs = a.manifest(numbers), b.manifest(numbers)
    assert sorted(mine) == sorted(theirs) == sorted(numbers)
    for number in numbers:
        sha = mine[number]["sha256"]
        assert theirs[number]["sha256"] == sha and theirs[number]["size"] == mine[number]["size"]
        assert theirs[number]["version"] == 1, f"{number} was duplicated at the target"
        assert hashlib.sha256(b.stored(sha)).hexdigest() == sha == hashlib.sha256(a.stored(sha)).hexdigest()


def test_push_a_to_b_then_a_second_run_moves_nothing(sites):
    a, b = sites
    files = {f"P-{n}": pdf(f"push {n}") for n in range(20)}
    a.seed(files)
    job = wait_done(a, start(a, "push", "push-1")["id"])
    # since the checkpoint: these, and whatever an earlier test on the shared pair left unsent
    mine = [i for i in job["items"] if i["number"] in files]
    transferred = [i for i in job["items"] if i["outcome"] == "transferred"]
    assert job["status"] == "finished" and job["sent"] == len(transferred)
    assert job["bytes"] == sum(i["bytes"] for i in transferred)
    assert {i["outcome"] for i in mine} == {"transferred"} and len(mine) == 20
    assert sum(i["bytes"] for i in mine) == sum(map(len, files.values()))
    assert all(i["source_sha256"] == i["target_sha256"] for i in mine)
    assert_same_documents(a, b, list(files))
    sha = mine[0]["source_sha256"]
    assert b.download(sha) == a.download(sha) == files[mine[0]["number"]]

    again = wait_done(a, start(a, "push", "push-2")["id"])  # since the checkpoint: nothing
    assert (again["status"], again["total"], again["sent"], again["bytes"]) == ("finished", 0, 0, 0)
    named = wait_done(a, start(a, "push", "push-3", numbers=list(files))["id"])
    assert (named["present"], named["sent"], named["bytes"]) == (20, 0, 0)
    assert_same_documents(a, b, list(files))


def test_pull_b_to_a(sites):
    a, b = sites
    files = {f"Q-{n}": pdf(f"pull {n}") for n in range(10)}
    b.seed(files, title="Made at plant B")
    job = wait_done(a, start(a, "pull", "pull-1", numbers=list(files))["id"])
    assert job["status"] == "finished" and job["sent"] == 10 and job["bytes"] == sum(map(len, files.values()))
    assert_same_documents(b, a, list(files))
    detail = a.api.ok("GET", "/api/v1/documents?q=Q-1")["documents"][0]
    assert detail["title"] == "Made at plant B" and detail["latest"]["origin"] == "plant-b"
    again = wait_done(a, start(a, "pull", "pull-2", numbers=list(files))["id"])
    assert (again["sent"], again["present"], again["bytes"]) == (0, 10, 0)


def test_worker_killed_mid_job_resumes_by_itself_without_duplicates_or_losses(sites):
    a, b = sites
    files = {f"K-{n:03d}": pdf(f"kill {n}", 20_000) for n in range(100)}
    a.seed(files)
    job_id = start(a, "push", "kill-1", numbers=list(files))["id"]
    deadline = time.monotonic() + 60
    while (job := a.api.ok("GET", f"{JOBS}/{job_id}"))["sent"] < 10:
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.02)
    a.server.kill_worker()
    killed = a.api.ok("GET", f"{JOBS}/{job_id}")
    assert killed["status"] == "running" and 10 <= killed["sent"] < len(files), "the job must be cut off mid-way"

    status, refused = a.api.call("POST", f"{JOBS}/{job_id}/replay")  # its job has not ended on record yet
    assert status == 409, refused
    a.server.start_worker()
    # the new worker's sweep finds the job abandoned (no heartbeat for WORKER_TTL s) and RQ runs it
    # again; the runner goes on with the items still pending
    done = wait_done(a, job_id, timeout=90)
    assert done["status"] == "finished", done
    assert {i["outcome"] for i in done["items"]} <= {"transferred", "present"}
    # the one in flight when it died may have landed at B: then it is present, never sent twice
    assert done["present"] <= 1 and done["sent"] + done["present"] == len(files)
    assert_same_documents(a, b, list(files))


def test_a_wrong_token_gets_401_and_the_site_page_shows_it(sites):
    a, b = sites
    wrong = a.api.ok(
        "POST",
        "/api/v1/doc-sync/sites",
        {"name": "plant-b-wrong", "base_url": b.server.url, "token": "fl_not-a-token-of-plant-b"},
    )
    health = a.api.ok("POST", f"/api/v1/doc-sync/sites/{wrong['id']}/health")
    assert health["status"] == "unauthorized" and "401" in health["status_detail"]
    a.seed({"W-1": pdf("wrong token")})
    job = a.api.ok(
        "POST", JOBS, {"site_id": wrong["id"], "direction": "push", "numbers": ["W-1"], "idempotency_key": "wrong-1"}
    )
    failed = wait_done(a, job["id"])
    assert failed["status"] == "failed" and "401" in failed["error"]
    assert "W-1" not in b.manifest(["W-1"])
    page = a.browser().open(f"{a.server.url}/doc-sync/sites/{wrong['id']}").read().decode()
    assert "unauthorized" in page and "401 from" in page and "fl_not-a-token-of-plant-b" not in page
