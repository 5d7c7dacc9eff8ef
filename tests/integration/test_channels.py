"""System channels through the real services: API-key clients, sensors whose readings must stay beyond the
limit before they report (and stop at the hysteresis margin), cameras, and trusted reporters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.cases import service as cases
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import CaseState
from chengguan.demo import demo_api_key
from chengguan.identity import service as identity
from chengguan.identity.models import User
from chengguan.intake import clients, devices
from chengguan.intake import service as intake
from chengguan.intake.devices import CameraEvent, DeviceAlert
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.states import ReportStatus
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.errors import Conflict, NotFound, OutsideArea, ValidationFailed
from tests.personas import SHANGHAI_POINT, XIHU_POINT, xihu_spot

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=BUREAU_TZ)
NOISE = {"noise_db": {"above": 70, "for_s": 600, "clear": 5, "category": "0301", "label": "施工噪声"}}


def client_of(db: Session, code: str) -> IntakeClient:
    return clients.get_client(db, code=code)


# ---- clients ------------------------------------------------------------------------------------------------


def test_a_client_key_is_shown_once_stored_hashed_and_revocable(city_db: Session) -> None:
    city = identity.get_bureau(city_db, code="hz")
    issued = clients.create_client(
        city_db, code="xh-weibo", name="西湖区舆情监测", channel=Channel.SOCIAL_MEDIA, bureau=city
    )
    assert issued.key.startswith("cgk_") and len(issued.key) > 40
    stored = city_db.get_one(IntakeClient, issued.client.id)
    assert issued.key not in stored.key_hash and stored.key_hash == clients.key_hash(issued.key)
    assert clients.authenticate(city_db, key=issued.key) is stored
    assert clients.authenticate(city_db, key=issued.key + "x") is None
    assert clients.authenticate(city_db, key="x" * 500) is None

    clients.revoke_client(city_db, code="xh-weibo")
    assert clients.authenticate(city_db, key=issued.key) is None
    again = clients.reissue_key(city_db, code="xh-weibo")
    assert again.key != issued.key
    assert clients.authenticate(city_db, key=again.key) is stored
    assert clients.authenticate(city_db, key=issued.key) is None  # the old key stays dead


def test_a_client_speaks_for_one_system_channel(city_db: Session) -> None:
    city = identity.get_bureau(city_db, code="hz")
    with pytest.raises(ValidationFailed, match="系统客户端的渠道只能是"):
        clients.create_client(city_db, code="fake-citizen", name="冒充市民", channel=Channel.CITIZEN, bureau=city)
    with pytest.raises(ValidationFailed, match="客户端编码"):
        clients.create_client(city_db, code="Bad Code", name="x", channel=Channel.CAMERA, bureau=city)
    with pytest.raises(Conflict):
        clients.create_client(city_db, code="hz-12345", name="再来一个", channel=Channel.HOTLINE_12345, bureau=city)
    with pytest.raises(NotFound):
        clients.revoke_client(city_db, code="no-such-client")
    # the demo's published keys authenticate their clients
    assert clients.authenticate(city_db, key=demo_api_key("hz-iot")) is client_of(city_db, "hz-iot")


# ---- sensors ------------------------------------------------------------------------------------------------


def noise_sensor(db: Session, code: str = "XH-NOISE-T1") -> str:
    devices.register_device(
        db,
        code=code,
        kind="sensor",
        sensor_type="noise",
        client=client_of(db, "hz-iot"),
        lon=XIHU_POINT[0] + 0.002,
        lat=XIHU_POINT[1],
        address="西湖区教工路工地",
        settings=NOISE,
    )
    return code


def read(db: Session, code: str, *values: tuple[int, float]) -> devices.ReadingsOutcome:
    """Readings of noise_db at T0 + minutes."""
    return devices.take_readings(
        db,
        client=client_of(db, "hz-iot"),
        device_code=code,
        readings=[devices.Reading("noise_db", v, T0 + timedelta(minutes=m)) for m, v in values],
    )


def device_reports(db: Session, code: str) -> list[Report]:
    device = db.scalar(select(devices.MonitoringDevice).where(devices.MonitoringDevice.code == code))
    assert device is not None
    return list(db.scalars(select(Report).where(Report.device_id == device.id).order_by(Report.id)))


def test_a_short_breach_is_not_a_report_and_a_sustained_one_is_once(city_db: Session) -> None:
    code = noise_sensor(city_db)
    # a lorry passes: loud for five minutes, then quiet again — the breach was not sustained
    short = read(city_db, code, (0, 78), (5, 80), (7, 60))
    assert (short.pending, short.within_limits, short.raised) == (2, 1, [])
    assert device_reports(city_db, code) == []
    # then a saw runs for more than ten minutes: one report, later readings merged into it
    long = read(city_db, code, (10, 75), (15, 76), (20, 77), (21, 79), (30, 81))
    assert long.pending == 2
    assert [r.outcome for r in long.raised] == ["opened", "merged", "merged"]
    (report,) = device_reports(city_db, code)
    assert report.channel == "iot_sensor" and report.claimed_category == "0301"
    assert report.location_source == "device" and report.trusted
    assert "施工噪声 77dB(A)（阈值：高于 70dB(A)），已持续 10 分钟" in report.text
    assert report.occurred_at == T0 + timedelta(minutes=10)  # when the breach began
    alert = city_db.scalar(select(DeviceAlert).where(DeviceAlert.report_id == report.id))
    assert alert is not None and alert.repeats == 2 and alert.last_value == 81


def test_the_alarm_clears_only_past_the_hysteresis_margin_and_replays_change_nothing(city_db: Session) -> None:
    code = noise_sensor(city_db)
    read(city_db, code, (0, 80), (11, 80))  # sustained: raised
    hovering = read(city_db, code, (12, 68), (13, 72), (14, 67))  # back under 70, but not under 65
    assert hovering.cleared == 0 and [r.outcome for r in hovering.raised] == ["merged"]
    assert hovering.within_limits == 2  # held inside the hysteresis band: no new alarm, no report
    cleared = read(city_db, code, (15, 60))
    assert cleared.cleared == 1
    alert = city_db.scalar(select(DeviceAlert).where(DeviceAlert.metric == "noise_db"))
    assert alert is not None and not alert.raised and alert.breach_since is None
    # the gateway sends the same readings again: nothing is counted twice
    replay = read(city_db, code, (11, 80), (12, 68), (13, 72), (15, 60))
    assert replay.replayed == 4 and replay.raised == []
    assert alert.repeats == 1
    # a new sustained breach while the first report is still open is merged into it, not a second report
    again = read(city_db, code, (20, 90), (31, 90))
    assert [r.outcome for r in again.raised] == ["merged"]
    assert len(device_reports(city_db, code)) == 1


def test_once_the_case_is_finished_the_next_alarm_opens_a_new_report(city_db: Session) -> None:
    code = noise_sensor(city_db)
    read(city_db, code, (0, 80), (11, 80))
    (first,) = device_reports(city_db, code)
    processed = intake.process(city_db, report_id=first.id, at=T0 + timedelta(minutes=12))
    assert processed is not None and processed.status == ReportStatus.ACCEPTED and processed.case_id
    case = city_db.get_one(Case, processed.case_id)
    case.state = CaseState.CLOSED.value  # finished (the workflow itself is tested elsewhere)
    city_db.flush()
    later = read(city_db, code, (20, 85))  # still loud: the alarm never cleared, but the case is over
    assert [r.outcome for r in later.raised] == ["opened"]
    assert len(device_reports(city_db, code)) == 2


def test_devices_are_registered_inside_their_clients_area_with_valid_rules(city_db: Session) -> None:
    iot, video = client_of(city_db, "hz-iot"), client_of(city_db, "hz-video")
    with pytest.raises(OutsideArea):
        devices.register_device(
            city_db, code="SH-1", kind="sensor", sensor_type="noise", client=iot, lon=SHANGHAI_POINT[0],
            lat=SHANGHAI_POINT[1], settings=NOISE,
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="需要 camera 渠道的客户端"):
        devices.register_device(city_db, code="CAM-X", kind="camera", client=iot, lon=XIHU_POINT[0], lat=XIHU_POINT[1])
    with pytest.raises(ValidationFailed, match="for_s"):
        devices.register_device(
            city_db, code="N-2", kind="sensor", sensor_type="noise", client=iot, lon=XIHU_POINT[0],
            lat=XIHU_POINT[1], settings={"noise_db": {"above": 70, "for_s": -1, "category": "0301"}},
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="min_confidence"):
        devices.register_device(
            city_db, code="CAM-Y", kind="camera", client=video, lon=XIHU_POINT[0], lat=XIHU_POINT[1],
            settings={"min_confidence": 2},
        )  # fmt: skip
    with pytest.raises(NotFound):  # another client's device is not found, like one that does not exist
        devices.take_readings(city_db, client=video, device_code="XH-NOISE-001", readings=[])


# ---- cameras ------------------------------------------------------------------------------------------------


def frame(event_id: str, minutes: int, *found: tuple[CameraEvent, float]) -> devices.Frame:
    return devices.Frame(
        event_id=event_id,
        frame_at=T0 + timedelta(minutes=minutes),
        detections=[devices.Detection(event_class=c, score=s, bbox=(0.1, 0.2, 0.4, 0.6)) for c, s in found],
        snapshot_sha256="ab" * 32,
        detector="yolo-street-v3",
    )


def test_a_camera_frame_reports_each_class_once_while_open(city_db: Session) -> None:
    video = client_of(city_db, "hz-video")
    first = devices.camera_event(
        city_db,
        client=video,
        camera_code="XH-CAM-001",
        frame=frame(
            "ev-1",
            0,
            (CameraEvent.STREET_VENDING, 0.91),
            (CameraEvent.STREET_VENDING, 0.7),
            (CameraEvent.BIKE_PARKING, 0.8),
        ),
    )
    assert sorted((r.metric, r.outcome) for r in first) == [("bike_parking", "opened"), ("street_vending", "opened")]
    vending = next(r.report for r in first if r.metric == "street_vending")
    assert vending.channel == "camera" and vending.claimed_category == "0501"
    assert vending.payload["snapshot_sha256"] == "ab" * 32 and len(vending.payload["detections"]) == 2
    assert "置信度 91%，共 2 处" in vending.text
    later = devices.camera_event(
        city_db, client=video, camera_code="XH-CAM-001", frame=frame("ev-2", 5, (CameraEvent.STREET_VENDING, 0.88))
    )
    assert [(r.outcome, r.report.id) for r in later] == [("merged", vending.id)]
    replay = devices.camera_event(
        city_db, client=video, camera_code="XH-CAM-001", frame=frame("ev-2", 5, (CameraEvent.STREET_VENDING, 0.88))
    )
    assert [r.outcome for r in replay] == ["replayed"]
    assert city_db.scalar(select(func.count()).select_from(Report).where(Report.client_id == video.id)) == 2


def test_a_doubtful_detection_waits_for_a_person_and_a_rejected_one_does_not_block_the_next(
    city_db: Session, people: dict[str, User]
) -> None:
    video = client_of(city_db, "hz-video")  # XH-CAM-001 asks for 60 %
    (low,) = devices.camera_event(
        city_db, client=video, camera_code="XH-CAM-001", frame=frame("ev-9", 0, (CameraEvent.GRAFFITI, 0.4))
    )
    assert low.report.status == ReportStatus.TRIAGE and "低于本摄像头的阈值 60%" in (low.report.status_note or "")
    assert intake.process(city_db, report_id=low.report.id) is low.report  # processing leaves it to the desk
    assert low.report.status == ReportStatus.TRIAGE
    intake.decide(
        city_db,
        report=low.report,
        decision=intake.TriageDecision(status=ReportStatus.REJECTED, note="画面中是合法的公益墙绘"),
        actor=people["dispatcher"],
    )
    (next_one,) = devices.camera_event(
        city_db, client=video, camera_code="XH-CAM-001", frame=frame("ev-10", 30, (CameraEvent.GRAFFITI, 0.9))
    )
    assert next_one.outcome == "opened" and next_one.report.id != low.report.id


# ---- people the bureau trusts, and officers on patrol ------------------------------------------------------------


@pytest.mark.parametrize("username", ["grid1", "liaison1"])
def test_grid_workers_and_liaisons_are_accepted_by_the_system_without_verification(
    city_db: Session, people: dict[str, User], username: str
) -> None:
    user = people[username]
    assert cases.channel_of(user) == Channel.GRID_WORKER
    spot = xihu_spot()
    report = intake.submit(
        city_db,
        incoming=intake.Incoming(
            channel=cases.channel_of(user),
            text="人行道上堆满建材",
            lon=spot[0],
            lat=spot[1],
            claimed_category="0504",
            reporter_id=user.id,
            reporter_name=user.display_name,
            trusted=True,
        ),
        at=T0,
    )
    done = intake.process(city_db, report_id=report.id, at=T0)
    assert done is not None and done.status == ReportStatus.ACCEPTED and done.case_id
    case = city_db.get_one(Case, done.case_id)
    assert case.state == CaseState.ACCEPTED
    events = city_db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
    accept = events[-1]
    assert accept.action == "accept" and accept.actor_id is None
    assert accept.note in ("网格员上报，免予核实", "联络员上报，免予核实")
    assert accept.data.get("waived") is True


def test_citizens_and_officers_on_patrol_are_verified_as_usual(city_db: Session, people: dict[str, User]) -> None:
    for username, channel in (("citizen1", Channel.CITIZEN), ("officer1", Channel.OFFICER_PATROL)):
        user = people[username]
        assert cases.channel_of(user) == channel
        spot = xihu_spot()
        report = intake.submit(
            city_db,
            incoming=intake.Incoming(
                channel=channel,
                text="店外经营占道",
                lon=spot[0],
                lat=spot[1],
                claimed_category="0502",
                reporter_id=user.id,
                reporter_name=user.display_name,
                trusted=channel is Channel.OFFICER_PATROL,
            ),
            at=T0,
        )
        done = intake.process(city_db, report_id=report.id, at=T0)
        assert done is not None and done.case_id is not None
        case = city_db.get_one(Case, done.case_id)
        assert case.channel == channel.value and case.state == CaseState.REPORTED


def test_accept_as_system_refuses_a_case_that_is_no_longer_waiting(city_db: Session, people: dict[str, User]) -> None:
    spot = xihu_spot()
    report = intake.submit(
        city_db,
        incoming=intake.Incoming(
            channel=Channel.GRID_WORKER,
            text="暴露垃圾",
            lon=spot[0],
            lat=spot[1],
            claimed_category="0101",
            reporter_id=people["grid1"].id,
            reporter_name="赵敏",
            trusted=True,
        ),
        at=T0,
    )
    done = intake.process(city_db, report_id=report.id, at=T0)
    assert done is not None and done.case_id is not None
    with pytest.raises(Exception, match="受理"):
        cases.accept_as_system(city_db, case=city_db.get_one(Case, done.case_id), reason="再受理一次")
