"""``chengguan doctor``: what an operator should know before the bureau's day starts.

Each check answers OK, WARN or FAIL with a zh-CN line: the database is reachable and migrated to the
newest revision, PostGIS is there on PostgreSQL, official holidays are on record for the coming 60 days
(else deadlines in working days are provisional), the secret key is not the development one, and the
console's front-end libraries are installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.config import DEV_SECRET, Settings
from chengguan.db import make_engine
from chengguan.identity.models import Bureau
from chengguan.migrate import alembic_config, current_revision
from chengguan.shared.clock import to_local, utcnow


class Level(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str


def run_checks(settings: Settings) -> list[Finding]:
    out: list[Finding] = []
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return [Finding("数据库", Level.FAIL, f"数据库文件 {url.database} 不存在：请运行 chengguan migrate")]
    engine = make_engine(settings.effective_database_url)
    try:
        try:
            current = current_revision(engine)
        except SQLAlchemyError as exc:
            return [Finding("数据库", Level.FAIL, f"无法连接数据库：{type(exc).__name__}")]
        heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
        if current is None:
            out.append(Finding("数据库", Level.FAIL, "数据库尚未初始化，请运行 chengguan migrate"))
            return out
        if current not in heads:
            out.append(
                Finding(
                    "数据库",
                    Level.FAIL,
                    f"数据库版本 {current} 不是最新（{'、'.join(sorted(heads))}），请运行 chengguan migrate",
                )
            )
        else:
            out.append(Finding("数据库", Level.OK, f"已连接，版本 {current}"))
        with Session(engine) as session:
            if engine.dialect.name == "postgresql":
                postgis = session.scalar(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'"))
                out.append(
                    Finding("PostGIS", Level.OK, f"PostGIS {postgis}")
                    if postgis
                    else Finding("PostGIS", Level.FAIL, "数据库未启用 PostGIS")
                )
            out.extend(_holidays(session))
    finally:
        engine.dispose()
    if settings.secret_key == DEV_SECRET:
        level = Level.WARN if settings.env == "dev" else Level.FAIL
        out.append(Finding("密钥", level, "正在使用开发用密钥：生产环境请设置 CHENGGUAN_SECRET_KEY"))
    else:
        out.append(Finding("密钥", Level.OK, "已设置"))
    missing = [
        n
        for n in ("leaflet/dist/leaflet.js", "echarts/dist/echarts.min.js", "htmx.org/dist/htmx.min.js")
        if not (settings.node_modules_dir / n).exists()
    ]
    out.append(
        Finding("前端资源", Level.WARN, f"缺少 {'、'.join(missing)}：请运行 npm ci")
        if missing
        else Finding("前端资源", Level.OK, "地图、图表与 HTMX 均已安装")
    )
    return out


def _holidays(session: Session) -> list[Finding]:
    today = to_local(utcnow()).date()
    roots = session.scalars(select(Bureau).where(Bureau.parent_id.is_(None)).order_by(Bureau.id)).all()
    if not roots:
        return [Finding("法定节假日", Level.WARN, "还没有单位数据（chengguan seed-demo 或导入单位）")]
    findings = []
    for bureau in roots:
        coverage = calendars.holiday_coverage(session, bureau_id=bureau.id, today=today)
        level = Level.OK if coverage.ok else Level.WARN
        findings.append(Finding("法定节假日", level, f"{bureau.name}：{coverage.message}"))
    return findings
