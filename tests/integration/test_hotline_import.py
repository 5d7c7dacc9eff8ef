"""The 12345 importer on a real database: CSV/JSON/XLSX exports, column mappings, per-row errors while the
rest of the file lands, and re-imports that store nothing twice."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.intake import clients, imports
from chengguan.intake import service as intake
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.states import ReportStatus
from chengguan.intake.tables import Table, read_table
from chengguan.jobs.models import OutboxMessage
from chengguan.shared.errors import ValidationFailed
from tests.personas import SHANGHAI_POINT, xihu_spot

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
HEADER = "工单编号,来电时间,诉求内容,事发地址,来电人,联系电话,经度,纬度,小类编码"


def hotline(db: Session) -> IntakeClient:
    return clients.get_client(db, code="hz-12345")


def good_rows(n: int, prefix: str = "GD") -> list[str]:
    rows = []
    for i in range(n):
        lon, lat = xihu_spot()
        rows.append(
            f"{prefix}2026{i:05d},2026-11-23 09:{i % 60:02d}:00,文三路人行道有流动摊贩 {i},"
            f"西湖区文三路,王先生,137 0000 {i:04d},{lon},{lat},0501"
        )
    return rows


def csv_bytes(rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


def stored(db: Session, client: IntakeClient) -> int:
    return db.scalar(select(func.count()).select_from(Report).where(Report.client_id == client.id)) or 0


def test_a_csv_export_lands_with_its_processing_queued_and_a_reimport_stores_nothing(city_db: Session) -> None:
    client = hotline(city_db)
    data = csv_bytes(good_rows(30))
    before = city_db.scalar(select(func.count()).select_from(OutboxMessage)) or 0
    result = imports.import_orders(city_db, client=client, data=data, filename="工单.csv", at=AT)
    assert (result.fmt, result.rows, result.stored, result.replayed, result.errors) == ("csv", 30, 30, 0, [])
    assert result.columns["order_no"] == "工单编号"
    queued = list(city_db.scalars(select(OutboxMessage).order_by(OutboxMessage.id).offset(before)))
    # the processing of every stored report is queued in the same transaction: one message for the chunk
    assert [(m.topic, m.payload["count"], m.bureau_id) for m in queued] == [("intake.import", 30, client.bureau_id)]

    report = city_db.scalar(select(Report).where(Report.external_id == "GD202600007"))
    assert report is not None and report.channel == "hotline_12345" and report.status == ReportStatus.RECEIVED
    assert report.reporter_name == "王先生" and report.reporter_phone == "13700000007"
    assert report.bureau_id is not None and report.location_source == "gps" and report.claimed_category == "0501"
    assert report.occurred_at == datetime(2026, 11, 23, 1, 7, tzinfo=UTC)  # 09:07 Beijing time

    again = imports.import_orders(city_db, client=client, data=data, at=AT)
    assert (again.stored, again.replayed) == (0, 30)
    assert stored(city_db, client) == 30
    done = intake.process(city_db, report_id=report.id)
    assert done is not None and done.status in (ReportStatus.ACCEPTED, ReportStatus.MERGED)


def test_bad_rows_get_a_message_each_and_the_rest_of_the_file_still_lands(city_db: Session) -> None:
    client = hotline(city_db)
    rows = good_rows(5)
    lon, lat = xihu_spot()
    rows += [
        f"BAD001,昨天下午,摊贩占道,西湖区文三路,,,{lon},{lat},",  # row 7: a time nobody can read
        f"BAD002,2026-11-23 10:00:00,,西湖区文三路,,,{lon},{lat},",  # row 8: no content
        f"BAD003,2026-11-23 10:00:00,上海的问题,,,,{SHANGHAI_POINT[0]},{SHANGHAI_POINT[1]},",  # row 9: outside
        f"BAD004,2026-11-23 10:00:00,小类不存在,,,,{lon},{lat},9999",  # row 10: unknown 小类
        f"BAD005,2026-11-23 10:00:00,只有经度,,,,{lon},,",  # row 11: half a coordinate
        rows[0],  # row 12: the same order number twice in one file
        f"BAD006,2099-01-01 10:00:00,未来的工单,西湖区文三路,,,{lon},{lat},",  # row 13: in the future
        f"BAD007,2026-11-23 10:00:00,电话不对,西湖区文三路,,abc,{lon},{lat},",  # row 14
    ]
    result = imports.import_orders(city_db, client=client, data=csv_bytes(rows), at=AT)
    assert (result.rows, result.stored, result.invalid_rows) == (13, 5, 8)
    by_row = {e.row: (e.column, e.message) for e in result.errors}
    assert by_row[7] == ("来电时间", "来电时间：无法识别的时间，应如 2026-03-01 08:30:00")
    assert by_row[8] == ("诉求内容", "诉求内容：必填，不能为空")
    assert by_row[9][0] == "经度" and "不在本平台服务的辖区内" in by_row[9][1]
    assert by_row[10] == ("小类编码", "小类编码：目录中没有小类 9999")
    assert by_row[11] == ("纬度", "纬度：经度和纬度必须同时填写")
    assert by_row[12] == ("工单编号", "工单编号：与第 2 行重复")
    assert by_row[13] == ("来电时间", "来电时间：时间不能晚于当前时间")
    assert by_row[14][0] == "联系电话" and "格式不正确" in by_row[14][1]
    assert result.errors[0].location() == "row[7].来电时间"
    assert stored(city_db, client) == 5  # nothing of a bad row is stored
    assert city_db.scalar(select(Report.id).where(Report.external_id.like("BAD%"))) is None


def test_strict_refuses_the_whole_file_and_stores_nothing(city_db: Session) -> None:
    client = hotline(city_db)
    rows = [*good_rows(3), "BAD1,2026-11-23 10:00:00,,西湖区文三路,,,,,"]
    with pytest.raises(imports.ImportRefused) as refused:
        imports.import_orders(city_db, client=client, data=csv_bytes(rows), strict=True, at=AT)
    assert "整个文件未导入" in refused.value.detail and "row[5].诉求内容" in refused.value.detail
    assert stored(city_db, client) == 0


def test_a_command_line_mapping_json_and_a_time_zone_of_its_own(city_db: Session) -> None:
    client = hotline(city_db)
    lon, lat = xihu_spot()
    doc = {
        "records": [
            {"ticket": "B-1", "opened": "11/22/2026 08:15:00 PM", "what": "Graffiti Removal", "y": lat, "x": lon},
            {"ticket": "B-2", "opened": "2026-11-22T20:15:00-05:00", "what": "Needle Pickup", "y": lat, "x": lon},
        ]
    }
    mapping = imports.parse_map(
        "ticket=external_id,opened=called_at,what=content,x=lon,y=lat", timezone="America/New_York"
    )
    result = imports.import_orders(city_db, client=client, data=json.dumps(doc).encode(), mapping=mapping, at=AT)
    assert (result.fmt, result.stored, result.errors) == ("json", 2, [])
    rows = city_db.execute(select(Report.external_id, Report.occurred_at).where(Report.client_id == client.id))
    times = dict(list(rows))
    assert times["B-1"] == times["B-2"] == datetime(2026, 11, 23, 1, 15, tzinfo=UTC)  # 8:15 pm in Boston

    with pytest.raises(ValidationFailed, match="字段 'case_id' 不存在"):
        imports.parse_map("ticket=case_id")
    with pytest.raises(ValidationFailed, match="应写成 原列名=字段名"):
        imports.parse_map("ticket")
    with pytest.raises(ValidationFailed, match="未知的时区"):
        imports.parse_map("ticket=external_id", timezone="Mars/Olympus")
    with pytest.raises(ValidationFailed, match="缺少必需的列：诉求内容"):
        imports.import_orders(
            city_db,
            client=client,
            data=json.dumps(doc).encode(),
            mapping=imports.parse_map("ticket=external_id,opened=called_at,x=lon,y=lat"),
            at=AT,
        )


def test_xlsx_with_a_mapping_file_and_gbk_csv(city_db: Session) -> None:
    client = hotline(city_db)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "工单明细"
    sheet.append(["受理单号", "反映时间", "反映内容", "X", "Y"])
    for i in range(4):
        lon, lat = xihu_spot()
        sheet.append([f"X{i}", datetime(2026, 11, 23, 8, i), f"店外经营 {i}", lon, lat])
    sheet.append([f"X{9}", "not a time", "店外经营", *xihu_spot()])
    buffer = io.BytesIO()
    book.save(buffer)
    mapping = imports.load_mapping(
        "columns: {受理单号: order_no, 反映时间: called_at, 反映内容: content, X: lon, Y: lat}\nsheet: 工单明细\n"
    )
    result = imports.import_orders(city_db, client=client, data=buffer.getvalue(), mapping=mapping, at=AT)
    assert (result.fmt, result.stored, result.invalid_rows) == ("xlsx", 4, 1)
    assert result.errors[0].row == 6 and result.errors[0].column == "反映时间"

    gbk = csv_bytes(good_rows(2, prefix="GBK"), encoding="gbk")
    result = imports.import_orders(city_db, client=client, data=gbk, at=AT)
    assert (result.encoding, result.stored) == ("gb18030", 2)
    report = city_db.scalar(select(Report).where(Report.external_id == "GBK202600001"))
    assert report is not None and report.text == "文三路人行道有流动摊贩 1"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "文件是空的"),
        (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "不支持旧版 Excel"),
        (b"PK\x03\x04broken", "不是有效的 XLSX"),
        (b"[1, 2]", "JSON 第 1 项不是对象"),
        ("工单编号,来电时间\n1,2026-11-23 09:00\n".encode(), "缺少必需的列：诉求内容"),
        ("工单编号,来电时间,诉求内容\n1,2026-11-23 09:00,x\n".encode(), "既没有事发地址列，也没有经纬度列"),
        (HEADER.encode() + b"\n", "没有工单"),
    ],
)
def test_files_that_cannot_be_read_are_refused_with_the_reason(city_db: Session, data: bytes, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        imports.import_orders(city_db, client=hotline(city_db), data=data, at=AT)
    assert says in refused.value.detail


def test_only_a_hotline_client_imports_work_orders(city_db: Session) -> None:
    social = clients.get_client(city_db, code="hz-social")
    with pytest.raises(ValidationFailed, match="不是 12345 热线渠道"):
        imports.import_orders(city_db, client=social, data=csv_bytes(good_rows(1)), at=AT)


def test_a_file_in_many_chunks_gives_the_same_answer(city_db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks are validated, located and stored in a pipeline (a second thread on PostgreSQL): the errors,
    duplicates across chunks and counts are those of the whole file."""
    monkeypatch.setattr(imports, "CHUNK", 7)
    client = hotline(city_db)
    rows = good_rows(30)
    rows[12] = rows[3]  # row 14 repeats row 5's order number, in another chunk
    rows[20] = "BAD1,不是时间,内容,西湖区文三路,,,,,"  # row 22
    result = imports.import_orders(city_db, client=client, data=csv_bytes(rows), at=AT)
    assert (result.rows, result.stored, result.invalid_rows) == (30, 28, 2)
    assert [(e.row, e.column) for e in result.errors] == [(14, "工单编号"), (22, "来电时间")]
    assert "与第 5 行重复" in result.errors[0].message
    again = imports.import_orders(city_db, client=client, data=csv_bytes(rows), at=AT)
    assert (again.stored, again.replayed, again.invalid_rows) == (0, 28, 2)
    assert stored(city_db, client) == 28


def _queued(db: Session, topic: str) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)))


def test_a_chunk_message_queues_each_received_report_once_a_few_at_a_time(
    city_db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "FAN_OUT", 7)
    client = hotline(city_db)
    reports_before = len(_queued(city_db, "intake.report"))
    result = imports.import_orders(city_db, client=client, data=csv_bytes(good_rows(16)), at=AT)
    assert result.stored == 16
    (chunk,) = _queued(city_db, "intake.import")
    ids = list(city_db.scalars(select(Report.id).where(Report.client_id == client.id).order_by(Report.id)))
    assert (chunk.payload["first"], chunk.payload["last"]) == (ids[0], ids[-1])
    first = city_db.get_one(Report, ids[0])
    intake.process(city_db, report_id=first.id)  # processed already (by a push, a desk): not queued again
    assert first.status != ReportStatus.RECEIVED

    payload = chunk.payload
    fanned: list[int] = []
    for _ in range(5):  # what the outbox runner does: each message in its own transaction
        imports.queue_chunk(city_db, payload)
        city_db.commit()  # queued rows are written with the commit (a SAVEPOINT release in this fixture)
        reports = _queued(city_db, "intake.report")[reports_before:]
        fanned = [m.payload["report_id"] for m in reports]
        rest = [m for m in _queued(city_db, "intake.import") if m.payload != chunk.payload and m.done_at is None]
        if not rest:
            break
        rest[-1].done_at = AT
        payload = rest[-1].payload
    assert fanned == ids[1:]  # 7 + 7 + 1: every report still received, each once, in order
    assert all(m.bureau_id == first.bureau_id for m in _queued(city_db, "intake.report")[reports_before:])


def _checked(table: Table, mapping: imports.ColumnMapping, *, quick: bool) -> tuple[list[imports.Order], list[str]]:
    by_index, names = imports.map_columns(table.headers, mapping)
    fmt = table.fmt if quick else "json"  # the quick check is taken for text (CSV) rows only
    orders, errors = imports._validate(
        table.rows,
        table.row_numbers,
        fmt,
        by_index,
        names,
        mapping,
        AT,
        seen={},
        formats=list(imports.TIME_FORMATS),
    )
    return orders, [f"{e.location()} {e.message}" for e in errors]


def test_the_quick_check_of_a_row_accepts_exactly_what_the_full_check_accepts(city_db: Session) -> None:
    """Rows of a CSV pass a quick check first; one it does not pass whole goes through ``validate_row``. The
    orders and errors are the same with the quick check switched off."""
    lon, lat = xihu_spot()
    header = "工单编号,来电时间,诉求内容,工单标题,事发地址,来电人,联系电话,经度,纬度,坐标系,小类编码"
    rows = [
        f"Q1,2026-11-23 09:00:00,摊贩,标题,西湖区文三路,王先生,13700000001,{lon},{lat},wgs84,0501",
        f"Q2,2026/11/23 09:00,摊贩,,,,,{lon},{lat},gcj02,",
        "Q3,11/22/2026 08:15:00 PM,摊贩,,西湖区文三路,,137 0000 0003,,,wgs84,",  # an address only; a phone with spaces
        f"Q4,2026-11-23 09:00:00,摊贩,,,,,{lon},{lat},,",  # an empty 坐标系 cell
        f"Q5,2026-11-23 09:00:00,摊贩\x07,,,,,{lon},{lat},wgs84,",  # a control character
        f"Q6,2026-11-23 09:00:00,{'长' * 2001},,,,,{lon},{lat},wgs84,",  # too long
        f"Q7,2026-11-23 09:00:00,摊贩,,,,,{lon},,wgs84,",  # half a point
        f"Q8,2026-11-23 09:00:00,摊贩,,,,,{lon},nan,wgs84,",
        f"Q9,2026-11-23 09:00:00,摊贩,,,,,200,{lat},wgs84,",
        f"-Q10,2026-11-23 09:00:00,摊贩,,,,,{lon},{lat},wgs84,",  # an order number that starts badly
        f"Q11,2099-11-23 09:00:00,摊贩,,,,,{lon},{lat},wgs84,",  # in the future
        f"Q12,1999-11-23 09:00:00,摊贩,,,,,{lon},{lat},wgs84,",
        f"Q13,2026-11-23 09:00:00,摊贩,,,,,{lon},{lat},wgs84,5",  # a 小类 code of one character
        f"Q14,2026-11-23 09:00:00,摊贩,,,,,{lon},{lat},mars,",
        "Q15,2026-11-23 09:00:00,摊贩,,,,,,,wgs84,",  # neither a point nor an address
        f"Q16,2026-03-08 02:30:00,摊贩,,,,,{lon},{lat},wgs84,",  # (New York: a time that does not exist)
        f"Q17,2026-11-01 01:30:00,摊贩,,,,,{lon},{lat},wgs84,",  # (New York: a time that happens twice)
        f"Q18,2026-11-23 09:00,摊贩,,,,,{lon},{lat},bd09,0501",
        "Q19,2026-11-23 09:00:00,摊贩",  # a short line
        f"Q1,2026-11-23 09:00:00,摊贩,,,,,{lon},{lat},wgs84,",  # the same order number again
    ]
    data = ("\n".join([header, *rows]) + "\n").encode()
    table = read_table(data)
    for zone in (None, "America/New_York"):
        mapping = imports.parse_map(
            ",".join(f"{h}={f}" for h, f in zip(header.split(","), imports.FIELDS, strict=True)), timezone=zone
        )
        quick, full = _checked(table, mapping, quick=True), _checked(table, mapping, quick=False)
        assert quick == full
        assert [o.order_no for o in quick[0]] == ["Q1", "Q2", "Q3", "Q16", "Q17", "Q18"]


def test_a_file_found_unreadable_part_way_raises_and_its_transaction_stores_nothing(
    city_db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CSV is read a chunk at a time while earlier chunks are stored; a line found unreadable later refuses
    the whole file, and the caller's transaction, rolled back, holds none of its rows."""
    monkeypatch.setattr(imports, "CHUNK", 7)
    client = hotline(city_db)
    rows = [*good_rows(20, prefix="PART"), 'PART9,2026-11-23 09:00:00,"' + "长" * 140_000 + '",西湖区文三路,,,,,']
    with pytest.raises(ValidationFailed, match="CSV 格式错误（第 22 行）"):
        imports.import_orders(city_db, client=client, data=csv_bytes(rows), at=AT)
    # chunks before it were stored while it was read (on PostgreSQL a chunk not yet started is cancelled)
    assert stored(city_db, client) in (7, 14)
    city_db.rollback()
    assert stored(city_db, client) == 0
