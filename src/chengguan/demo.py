"""The demo city: Hangzhou's command centre and 13 district brigades, users for every role, and several
hundred cases over the past 30 days produced by running the real transitions with past timestamps.

Nothing here writes a state directly: every case goes through ``cases.service`` exactly as the console
would, so the history, SLA clocks, outbox and notifications are real. Randomness is seeded: the same
seed gives the same city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.cases import service as cases
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.cases.states import Action, CaseState
from chengguan.catalog import service as catalog
from chengguan.geo import names as geo_names
from chengguan.geo import rules as geo_rules
from chengguan.geo import service as geo
from chengguan.geo.models import District, UnitGrid
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.passwords import hash_password
from chengguan.identity.roles import Role
from chengguan.shared.clock import BUREAU_TZ, utcnow
from chengguan.shared.errors import ValidationFailed

DEMO_PASSWORD = "chengguan2026"  # noqa: S105 - published demo credential, printed by `serve`
CITY_CODE = "hz"

# (admin code, name, case-number prefix)
HANGZHOU_DISTRICTS = [
    ("330102", "上城区", "SC"),
    ("330105", "拱墅区", "GS"),
    ("330106", "西湖区", "XH"),
    ("330108", "滨江区", "BJ"),
    ("330109", "萧山区", "XS"),
    ("330110", "余杭区", "YH"),
    ("330111", "富阳区", "FY"),
    ("330112", "临安区", "LA"),
    ("330113", "临平区", "LP"),
    ("330114", "钱塘区", "QT"),
    ("330122", "桐庐县", "TL"),
    ("330127", "淳安县", "CA"),
    ("330182", "建德市", "JD"),
]
# The four core districts get fine generated grids (and the demo's cases); the outer districts and counties
# coarse ones, so that a report anywhere in Hangzhou finds its street, community and grid.
URBAN = ("330102", "330105", "330106", "330108")
OUTER_GRID_FACTOR = 4

# Squads (中队) of brigades and partner departments: (code, name, kind, brigade admin code or None for the city)
DEMO_UNITS: list[tuple[str, str, str, str | None]] = [
    ("xh-1", "西湖区大队一中队", "squad", "330106"),
    ("xh-2", "西湖区大队二中队", "squad", "330106"),
    ("sc-1", "上城区大队一中队", "squad", "330102"),
    ("szyh", "市政养护中心", "department", None),
    ("ylzx", "园林绿化管理中心", "department", None),
]
# username, display name, roles, brigade admin code (None: the city centre), unit code
DEMO_USERS: list[tuple[str, str, list[Role], str | None, str | None]] = [
    ("admin", "系统管理员", [Role.ADMIN], None, None),
    ("dispatcher", "王芳", [Role.DISPATCHER], None, None),
    ("shift_leader", "陈建国", [Role.SHIFT_LEADER], None, None),
    ("legal1", "周法审", [Role.LEGAL_REVIEWER], None, None),
    ("liaison1", "吴联络（市政养护中心）", [Role.DEPARTMENT_LIAISON], None, "szyh"),
    ("liaison2", "林绿（园林绿化管理中心）", [Role.DEPARTMENT_LIAISON], None, "ylzx"),
    ("auditor1", "郑审计", [Role.AUDITOR], None, None),
    ("citizen1", "孙丽", [Role.CITIZEN], None, None),
    ("officer1", "李明", [Role.OFFICER], "330106", "xh-1"),
    ("officer2", "张伟", [Role.OFFICER], "330102", "sc-1"),
    ("officer3", "刘洋", [Role.OFFICER], "330105", None),
    ("officer4", "黄磊", [Role.OFFICER], "330108", None),
    ("officer5", "杨帆", [Role.OFFICER], "330106", "xh-2"),
    ("officer6", "何静", [Role.OFFICER], "330102", "sc-1"),
    ("squad1", "刘强", [Role.SQUAD_LEADER], "330106", "xh-1"),
    ("squad2", "马超", [Role.SQUAD_LEADER], "330106", "xh-2"),
    ("grid1", "赵敏", [Role.GRID_WORKER], "330106", None),
    ("grid2", "钱进", [Role.GRID_WORKER], "330102", None),
]
DEMO_LOGINS = [(u, name, [r.label for r in roles]) for u, name, roles, _, _ in DEMO_USERS]

# 小类 codes and weights (street order problems dominate a real 城管 day)
CATEGORY_WEIGHTS = {
    "0501": 14,  # 占道经营
    "0502": 8,  # 店外经营
    "0503": 6,  # 游摊小贩
    "0504": 6,  # 乱堆物料
    "0505": 3,  # 沿街晾晒
    "0506": 7,  # 机动车乱停放
    "0507": 8,  # 非机动车乱停放
    "0101": 8,  # 暴露垃圾
    "0102": 4,  # 积存垃圾渣土
    "0103": 5,  # 道路不洁
    "0201": 3,  # 违规户外广告
    "0202": 7,  # 非法小广告
    "0203": 3,  # 乱涂乱画
    "0301": 3,  # 施工扰民
    "0302": 2,  # 工地扬尘
    "0401": 1,  # 路面塌陷
    "0402": 1,  # 道路积水
}
# (steps before the case stalls, fate) for the most recent cases, latest first: each open state and each
# early ending appears in the demo whatever the time of day it is seeded (the e2e tests rely on that).
COVERAGE: list[tuple[int | None, float]] = [
    (0, 0.5),  # 待受理
    (None, 0.01),  # 作废
    (1, 0.5),  # 待立案
    (None, 0.05),  # 不予立案
    (2, 0.5),  # 待派遣
    (None, 0.08),  # 挂账
    (3, 0.5),  # 待签收
    (4, 0.5),  # 处置中
    (5, 0.5),  # 待核查
    (6, 0.5),  # 待结案
]
CALLERS = ["王先生", "李女士", "张先生", "刘女士", "陈先生", "杨女士", "市民（未留姓名）"]
STREET_NAMES = ["文三路", "莫干山路", "解放路", "江南大道", "延安路", "天目山路", "庆春路", "滨盛路"]
CHANNEL_WEIGHTS = {
    Channel.GRID_WORKER: 40,
    Channel.HOTLINE_12345: 25,
    Channel.CITIZEN: 20,
    Channel.OFFICER_PATROL: 15,
}
DESCRIPTIONS = {
    "0501": ["人行道上有流动摊贩摆摊卖水果，占用盲道", "早餐摊占用人行道经营，行人需绕行至机动车道"],
    "0502": ["沿街餐馆在店门外摆放桌椅经营", "五金店将货物摆出店外经营，占用人行道约3米"],
    "0503": ["路口有三轮车游商兜售小商品", "学校门口有无证流动摊贩"],
    "0504": ["小区门口堆放建筑材料未清理", "人行道上堆放废旧纸箱"],
    "0505": ["沿街住户在行道树上拉绳晾晒衣物"],
    "0506": ["机动车停放在人行道上，阻碍通行", "消防通道被私家车占用"],
    "0507": ["共享单车大量堆积在地铁口", "非机动车乱停放堵塞人行道"],
    "0101": ["路边垃圾桶满溢，垃圾散落地面", "绿化带内有暴露垃圾"],
    "0102": ["空地上积存建筑渣土未清运"],
    "0103": ["路面有大片油污未清洗", "道路落叶和垃圾未清扫"],
    "0201": ["楼顶违规设置大型户外广告牌"],
    "0202": ["电线杆和墙面张贴大量小广告", "公交站台贴满办证小广告"],
    "0203": ["桥墩上有乱涂乱画"],
    "0301": ["夜间施工噪声扰民，已超过22点"],
    "0302": ["工地未覆盖裸土，扬尘严重"],
    "0401": ["路面出现塌陷坑，直径约1米"],
    "0402": ["下穿通道积水约20厘米"],
}


@dataclass
class DemoSummary:
    bureaus: int = 0
    districts: int = 0
    grids: int = 0
    users: int = 0
    cases: int = 0
    states: dict[str, int] = field(default_factory=dict)
    clients: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, API key) of system clients


# System clients of the demo city: (code, name, channel). Their keys are derived from the code by
# ``demo_api_key`` (public, like the demo password) and printed by ``chengguan seed-demo``.
DEMO_CLIENTS: list[tuple[str, str, Channel]] = [
    ("hz-12345", "杭州 12345 政务服务热线", Channel.HOTLINE_12345),
    ("hz-social", "网络舆情监测平台", Channel.SOCIAL_MEDIA),
    ("hz-iot", "城市物联感知网关", Channel.IOT_SENSOR),
    ("hz-video", "城管视频智能分析平台", Channel.CAMERA),
    ("hz-open311", "随手拍 Open311 应用（示例）", Channel.OPEN311),
]
# (code, kind, type, client, lon, lat, address, settings) — WGS84, in 西湖区 and 上城区
DEMO_DEVICES: list[tuple[str, str, str | None, str, float, float, str, dict[str, object]]] = [
    ("XH-BIN-001", "sensor", "bin_fill", "hz-iot", 120.1300, 30.2750, "西湖区文三路 259 号垃圾桶",
     {"fill_pct": {"above": 90, "category": "0108"}}),
    ("XH-NOISE-001", "sensor", "noise", "hz-iot", 120.1420, 30.2790, "西湖区教工路工地东侧",
     {"noise_db": {"above": 70, "category": "0301", "label": "施工噪声"}}),
    ("SC-DUST-001", "sensor", "dust", "hz-iot", 120.2130, 30.2450, "上城区钱江新城工地",
     {"pm10": {"above": 150, "category": "0302"}}),
    ("SC-BIN-002", "sensor", "bin_fill", "hz-iot", 120.2090, 30.2480, "上城区富春路垃圾桶",
     {"fill_pct": {"above": 90, "category": "0108"}}),
    ("XH-CAM-001", "camera", None, "hz-video", 120.1350, 30.2770, "西湖区文三路与学院路口", {"min_confidence": 0.6}),
    ("SC-CAM-001", "camera", None, "hz-video", 120.2100, 30.2470, "上城区钱江新城市民中心", {}),
]  # fmt: skip


def demo_api_key(code: str) -> str:
    """The demo city's published key of system client ``code`` (derived, so the demo prints what it made)."""
    from hashlib import sha256

    return "cgk_demo_" + sha256(f"{DEMO_PASSWORD}:{code}".encode()).hexdigest()[:32]


def seed_channels(session: Session, *, city: Bureau) -> list[tuple[str, str, str]]:
    """The 12345 platform, a social-media monitor, a sensor gateway with sensors and a video platform with
    cameras, as system clients of the city centre. Returns (code, name, key) of each client."""
    from chengguan.intake import clients, devices

    made = {}
    for code, name, channel in DEMO_CLIENTS:
        made[code] = clients.create_client(
            session, code=code, name=name, channel=channel, bureau=city, key=demo_api_key(code)
        ).client
    for code, kind, sensor_type, client, lon, lat, address, settings in DEMO_DEVICES:
        devices.register_device(
            session,
            code=code,
            kind=kind,
            sensor_type=sensor_type,
            client=made[client],
            lon=lon,
            lat=lat,
            address=address,
            settings=settings,
        )
    return [(code, name, demo_api_key(code)) for code, name, _ in DEMO_CLIENTS]


def has_demo(session: Session) -> bool:
    return session.scalar(select(Bureau.id).where(Bureau.code == CITY_CODE)) is not None


def seed_city(session: Session, *, grid_size_m: float = 500.0) -> DemoSummary:
    """Bureaus, boundaries, catalog, calendar and users. Idempotence is the caller's (``has_demo``)."""
    summary = DemoSummary()
    city = identity.create_bureau(
        session,
        code=CITY_CODE,
        name="杭州市城市管理指挥中心",
        kind="city",
        admin_code="330100",
        case_prefix="HZ",
    )
    for admin_code, name, prefix in HANGZHOU_DISTRICTS:
        identity.create_bureau(
            session,
            code=f"hz-{prefix.lower()}",
            name=f"{name}城管执法大队",
            kind="district",
            admin_code=admin_code,
            case_prefix=prefix,
            parent=city,
        )
    summary.bureaus = 1 + len(HANGZHOU_DISTRICTS)
    districts = geo.load_builtin_districts(session, city=city)
    summary.districts = len(districts)
    for district in districts:
        size = grid_size_m if district.code in URBAN else grid_size_m * OUTER_GRID_FACTOR
        # real 街道 (codes, names) and 社区 names over generated shapes, see geo.names
        summary.grids += geo_names.seed_named_subdivisions(session, district=district, grid_size_m=size).grids
    catalog.seed_default_catalog(session, bureau=city)
    now_year = utcnow().astimezone(BUREAU_TZ).year
    for year in (now_year - 1, now_year, now_year + 1):
        try:
            with session.begin_nested():
                calendars.seed_official_holidays(session, bureau=city, years=[year])
        except ValidationFailed:  # the holiday data does not cover that year yet
            continue
    brigades = {b.admin_code: b for b in session.scalars(select(Bureau).where(Bureau.parent_id == city.id))}
    units = {
        code: identity.create_unit(
            session, bureau=brigades[brigade] if brigade else city, code=code, name=name, kind=kind
        )
        for code, name, kind, brigade in DEMO_UNITS
    }
    shared_hash = hash_password(DEMO_PASSWORD)  # one Argon2 hash for the one published demo password
    for username, display, roles, brigade, unit in DEMO_USERS:
        identity.create_user(
            session,
            bureau=brigades[brigade] if brigade else city,
            username=username,
            password=DEMO_PASSWORD,
            display_name=display,
            roles=roles,
            phone=f"1380571{len(username):02d}{sum(map(ord, username)) % 100:02d}",
            unit=units[unit] if unit else None,
            password_hash=shared_hash,
        )
    summary.users = len(DEMO_USERS)
    summary.clients = seed_channels(session, city=city)
    session.flush()
    return summary


@dataclass
class _Cast:
    dispatcher: User
    shift_leader: User
    grid_workers: dict[int, User]  # bureau id -> grid worker (fallback: dispatcher verifies)
    officers: dict[int, list[User]]  # bureau id -> officers
    citizen: User
    reporters: dict[Channel, User]


def _cast(session: Session) -> _Cast:
    users = {u.username: u for u in session.scalars(select(User))}
    officers: dict[int, list[User]] = {}
    grid_workers: dict[int, User] = {}
    for u in users.values():
        if Role.OFFICER in u.roles:
            officers.setdefault(u.bureau_id, []).append(u)
        if Role.GRID_WORKER in u.roles:
            grid_workers.setdefault(u.bureau_id, u)
    return _Cast(
        dispatcher=users["dispatcher"],
        shift_leader=users["shift_leader"],
        grid_workers=grid_workers,
        officers=officers,
        citizen=users["citizen1"],
        reporters={
            Channel.GRID_WORKER: users["grid1"],
            Channel.HOTLINE_12345: users["dispatcher"],
            Channel.CITIZEN: users["citizen1"],
            Channel.OFFICER_PATROL: users["officer1"],
        },
    )


def seed_cases(session: Session, *, count: int, days: int = 30, seed: int = 2026, now: datetime | None = None) -> int:
    """Run ``count`` cases through the real workflow with past timestamps. Returns how many were made."""
    rng = random.Random(seed)
    now = now or utcnow()
    cast = _cast(session)
    grids = list(
        session.execute(
            select(UnitGrid.geom, District.code)
            .join(District, UnitGrid.district_id == District.id)
            .where(District.code.in_(URBAN))
        )
    )
    if not grids:
        raise RuntimeError("demo city has no generated grids; run seed_city first")
    codes = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    channels = list(CHANNEL_WEIGHTS)
    channel_weights = list(CHANNEL_WEIGHTS.values())
    made = 0
    for i in range(count):
        geom, _district = grids[rng.randrange(len(grids))]
        point = geo_rules.random_points_in(geom, 1, rng)[0]
        lon, lat = point.x, point.y
        code = rng.choices(codes, weights)[0]
        channel = rng.choices(channels, channel_weights)[0]
        natural = now - timedelta(days=days * (1 - (i + rng.random()) / count))
        reported_at = _working_moment(natural, rng)
        if reported_at >= now:
            reported_at = natural
        reporter = cast.reporters[channel]
        case = cases.report_case(
            session,
            actor=reporter,
            report=cases.NewReport(
                category_code=code,
                description=rng.choice(DESCRIPTIONS[code]),
                lon=lon,
                lat=lat,
                address=f"{rng.choice(STREET_NAMES)}{rng.randint(1, 600)}号附近",
                reporter_name=rng.choice(CALLERS) if channel is Channel.HOTLINE_12345 else None,
                reporter_phone=f"139{rng.randint(10000000, 99999999)}" if channel is Channel.HOTLINE_12345 else None,
            ),
            at=reported_at,
        )
        from_latest = count - 1 - i
        if from_latest < len(COVERAGE):  # the most recent cases show every state, whatever the clock says
            stall_after, fate = COVERAGE[from_latest]
            _walk(session, case, cast, rng, now, stall_after, fate=fate, steady=True)
        else:  # recent cases are more often still in progress; a few old ones stall and run overdue
            recency = i / max(count - 1, 1)
            stall_after = rng.randint(0, 7) if rng.random() < 0.08 + 0.5 * recency**2 else None
            _walk(session, case, cast, rng, now, stall_after, fate=rng.random())
        made += 1
        if made % 50 == 0:
            session.flush()
    return made


def _walk(
    session: Session,
    case: Case,
    cast: _Cast,
    rng: random.Random,
    now: datetime,
    stall_after: int | None,
    *,
    fate: float,
    steady: bool = False,
) -> None:
    """Advance one case as far as its timeline allows (or until it stalls), with realistic detours.

    ``fate`` picks the detour (作废, 不予立案, 挂账, 回退, 延期, 返工 or none); ``steady`` rules out slow steps.
    """
    at = case.reported_at
    taken = 0

    def step(action: Action, actor: User, minutes: tuple[int, int], **kw: object) -> bool:
        nonlocal at, taken
        if stall_after is not None and taken >= stall_after:
            return False
        # Mostly on time; about one step in eight is slow enough to blow its SLA.
        lo, hi = minutes
        delay = rng.uniform(lo, hi) if steady or rng.random() > 0.12 else rng.uniform(hi, hi * 6)
        candidate = at + timedelta(minutes=delay)
        if candidate >= now:
            return False
        at = candidate
        taken += 1
        cases.transition(session, case=case, action=action, actor=actor, at=at, **kw)  # type: ignore[arg-type]
        return True

    if fate < 0.03:
        step(Action.VOID, cast.dispatcher, (3, 20), note="重复上报，已与既有案件合并")
        return
    if not step(Action.ACCEPT, cast.dispatcher, (2, 15)):
        return
    if fate < 0.07:
        step(Action.REJECT, cast.shift_leader, (5, 30), note="经核实不属于城管执法职责范围，已转交相关部门")
        return
    if not step(Action.FILE, cast.shift_leader, (5, 40)):
        return
    if fate < 0.10:
        step(Action.SUSPEND, cast.shift_leader, (30, 300), note="涉及历史遗留问题，需多部门协调，暂予挂账")
        return
    officers = cast.officers[case.bureau_id]
    officer = rng.choice(officers)
    if not step(Action.DISPATCH, cast.dispatcher, (3, 30), assignee_id=officer.id):
        return
    if fate < 0.14:  # the unit hands it back, the dispatcher re-dispatches
        if not step(Action.RETURN, officer, (10, 60), note="该点位不在本中队责任区，申请改派"):
            return
        officer = rng.choice(officers)
        if not step(Action.DISPATCH, cast.dispatcher, (5, 30), assignee_id=officer.id):
            return
    if not step(Action.START, officer, (5, 45)):
        return
    if 0.14 <= fate < 0.20:
        if not step(
            Action.REQUEST_EXTENSION,
            officer,
            (30, 120),
            extension="1工作日",
            note="当事人外出，需预约现场处置",
        ):
            return
        if not step(Action.APPROVE_EXTENSION, cast.shift_leader, (10, 90)):
            return
    if not step(Action.FEEDBACK, officer, (30, 200), note="已到现场责令当事人改正，现场已恢复整洁"):
        return
    verifier = cast.grid_workers.get(case.bureau_id, cast.dispatcher)
    if 0.20 <= fate < 0.26:
        if not step(Action.VERIFY_FAIL, verifier, (20, 120), note="复核发现问题仍然存在，需返工"):
            return
        if not step(Action.START, officer, (10, 60)):
            return
        if not step(Action.FEEDBACK, officer, (30, 180), note="返工处置完毕，已拍照留证"):
            return
    if not step(Action.VERIFY_PASS, verifier, (20, 120)):
        return
    step(Action.CLOSE, cast.shift_leader, (10, 90))


def _working_moment(t: datetime, rng: random.Random) -> datetime:
    """Most reports arrive in the daytime (07:00–21:00 local)."""
    local = t.astimezone(BUREAU_TZ)
    if 7 <= local.hour < 21 or rng.random() < 0.1:
        return t
    moved = local.replace(hour=rng.randint(7, 20), minute=rng.randint(0, 59))
    return moved.astimezone(t.tzinfo)


def state_summary(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(select(Case.state, func.count()).group_by(Case.state))
    return {CaseState(s).label: n for s, n in rows}
