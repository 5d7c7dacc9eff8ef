"""Reports without a category, through the API: the classifier forwards what it is sure belongs to another
department, sends what it is unsure about to the desk's triage queue with its guesses, and only the desk of
the report's bureau decides there."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from chengguan.intake import classify
from tests.personas import xihu_spot

WAGES = "单位拖欠我三个月工资，社保也没交"  # 劳动和社会保障, confidently
VAGUE = "这里有个问题，请派人来看一下"  # nothing says which problem


def _report(citizen: TestClient, text: str) -> dict[str, object]:
    lon, lat = xihu_spot()
    r = citizen.post("/api/v1/my/reports", json={"description": text, "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    mine = citizen.get(f"/api/v1/my/reports/{r.json()['tracking_code']}")  # processed after the commit
    assert mine.status_code == 200, mine.text
    body: dict[str, object] = mine.json()
    return body


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A threshold no answer reaches: every uncategorised report waits for a person."""
    monkeypatch.setenv("CHENGGUAN_CLASSIFY_MIN_CONFIDENCE", "0.999")
    classify.get_settings.cache_clear()
    yield
    classify.get_settings.cache_clear()


def test_another_departments_work_is_forwarded_with_its_name(login: Callable[[str], TestClient]) -> None:
    done = _report(login("citizen1"), WAGES)
    assert done["status"] == "forwarded" and done["case_no"] is None
    assert "人力资源和社会保障部门" in str(done["status_note"])


def test_an_unsure_forward_waits_for_the_desk_instead(login: Callable[[str], TestClient], strict: None) -> None:
    done = _report(login("citizen1"), WAGES)
    assert done["status"] == "triage", done
    queue = login("dispatcher").get("/api/v1/intake/triage", params={"limit": 200}).json()
    item = next(i for i in queue if i["tracking_code"] == done["tracking_code"])
    guess = item["classification"]
    assert guess["city_management"] is False and guess["department"] == "劳动和社会保障"
    assert guess["confident"] is False and guess["threshold"] == 0.999


def test_the_desk_sees_the_guesses_and_decides(login: Callable[[str], TestClient]) -> None:
    citizen, desk = login("citizen1"), login("dispatcher")
    done = _report(citizen, VAGUE)
    assert done["status"] == "triage" and "置信度不足" in str(done["status_note"])
    code = str(done["tracking_code"])
    queue = desk.get("/api/v1/intake/triage", params={"limit": 200})
    assert queue.status_code == 200, queue.text
    item = next(i for i in queue.json() if i["tracking_code"] == code)
    assert item["description"] == VAGUE and item["channel"] == "citizen" and item["lon"] is not None
    guess = item["classification"]
    assert len(guess["categories"]) == classify.TOP and guess["confidence"] < guess["threshold"]
    assert guess["model"] == classify.MODEL_NAME

    # the console's page shows the same guesses by name, to the desk only
    page = desk.get(f"/console/triage/{code}")
    assert page.status_code == 200 and VAGUE in page.text
    top = next(iter(guess["categories"]))
    assert f'data-pick-category="{top}"' in page.text and classify.category_names()[top] in page.text
    assert code in desk.get("/console/triage").text
    for role in ("officer1", "grid1", "citizen1"):
        assert login(role).get("/api/v1/intake/triage").status_code == 403
        assert login(role).get(f"/console/triage/{code}").status_code == 403

    refused = desk.post(f"/api/v1/intake/triage/{code}", json={"status": "forwarded"})
    assert refused.status_code == 422 and "理由" in refused.json()["detail"]
    decided = desk.post(
        f"/api/v1/intake/triage/{code}",
        json={"status": "accepted", "category_code": "0504"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "accepted" and decided.json()["case_no"]
    assert all(i["tracking_code"] != code for i in desk.get("/api/v1/intake/triage").json())
    again = desk.post(f"/api/v1/intake/triage/{code}", json={"status": "rejected", "note": "重复"})
    assert again.status_code == 409
