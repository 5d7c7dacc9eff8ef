"""The ``chengguan`` command: serve, migrate, seed-demo, worker, users, catalog, calendar and boundaries.

Thin: parse arguments, open one transaction, call services, print a readable result. Errors from the
domain are printed as ``错误：<title>：<detail>`` with exit code 2, never as a traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from chengguan.config import get_settings
from chengguan.db import make_engine, make_session_factory, transaction
from chengguan.identity.roles import Role
from chengguan.shared.coords import CRS
from chengguan.shared.errors import DomainError

ROLE_NAMES = [r.value for r in Role]
app = typer.Typer(help="城管执法平台 chengguan 命令行工具", no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    except DomainError as exc:
        err_console.print(f"[red]错误：{exc.title}：{exc.detail}[/red]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """创建或升级数据库结构到最新版本（Alembic），并说明做了什么。"""
    from chengguan.migrate import migrate as run_migrations

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        result = run_migrations(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string()
    head = "、".join(result.after)
    if result.created:
        console.print(f"已创建数据库结构：版本 {head}，共 {result.tables} 张表（{where}）")
    elif result.applied:
        console.print(
            f"已升级数据库结构：{'、'.join(result.before)} → {head}，"
            f"应用了 {len(result.applied)} 个版本（{'、'.join(result.applied)}）（{where}）"
        )
    else:
        console.print(f"数据库已是最新版本：{head}，无需升级（{where}）")


@app.command("seed-demo")
def seed_demo(
    cases: Annotated[int, typer.Option(help="生成的演示案件数")] = 400,
    days: Annotated[int, typer.Option(help="案件分布在过去多少天")] = 30,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="已有演示数据时跳过")] = False,
    grid_size: Annotated[float, typer.Option(help="生成单元网格的边长（米）")] = 500.0,
) -> None:
    """载入演示城市（杭州）：单位、边界、网格、案件类别、工作日历、各角色用户和演示案件。"""
    from chengguan import demo
    from chengguan.jobs import outbox
    from chengguan.notify import wiring as notify_wiring

    started = time.perf_counter()
    with unit_of_work() as session:
        if demo.has_demo(session):
            if if_empty:
                console.print("已有演示数据，跳过。")
                return
            err_console.print("[red]错误：演示数据已存在（使用 --if-empty 跳过）[/red]")
            raise typer.Exit(2)
        summary = demo.seed_city(session, grid_size_m=grid_size)
        made = demo.seed_cases(session, count=cases, days=days)
        states = demo.state_summary(session)
        # the month of history is announced now (notifications, deliveries to the local outbox), so that the
        # first live request does not find a backlog of thousands of messages in front of it
        _load_handlers()
        notify_wiring.configure(get_settings())
        outbox.drain_in(session)
    console.print(
        f"演示城市已载入：{summary.bureaus} 个单位，{summary.districts} 个区县，{summary.grids} 个单元网格（生成），"
        f"{summary.users} 个用户，{made} 个案件，用时 {time.perf_counter() - started:.1f} 秒"
    )
    console.print("案件状态：" + "，".join(f"{k} {v}" for k, v in sorted(states.items())))
    for code, name, key in summary.clients:
        console.print(f"系统客户端 {code}（{name}）演示 API Key：{key}", markup=False, highlight=False)


@app.command("create-user")
def create_user(
    username: str,
    display_name: Annotated[str, typer.Option("--name", help="姓名")],
    role: Annotated[list[str], typer.Option("--role", help="角色，可多次指定：" + "、".join(ROLE_NAMES))],
    bureau: Annotated[str, typer.Option(help="所属单位编码，如 hz 或 hz-xh")] = "hz",
    phone: Annotated[str | None, typer.Option(help="手机号")] = None,
    password: Annotated[str | None, typer.Option(help="密码（不给则交互输入）")] = None,
) -> None:
    """创建用户。"""
    from chengguan.identity import service as identity

    try:
        roles = [Role(r) for r in role]
    except ValueError as exc:
        err_console.print(f"[red]错误：未知角色：{exc}[/red]")
        raise typer.Exit(2) from exc
    secret = password or typer.prompt("密码", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as session:
        b = identity.get_bureau(session, code=bureau)
        user = identity.create_user(
            session,
            bureau=b,
            username=username,
            password=secret,
            display_name=display_name,
            roles=roles,
            phone=phone,
        )
        console.print(
            f"已创建用户 {user.username}（{display_name}），单位：{b.name}，角色：{'、'.join(r.label for r in roles)}"
        )


@app.command("unlock-user")
def unlock_user(username: str) -> None:
    """解除账号因连续登录失败造成的锁定。"""
    from sqlalchemy import select

    from chengguan.identity import throttle
    from chengguan.identity.models import User

    policy = throttle.ThrottlePolicy.from_settings(get_settings())
    with unit_of_work() as session:
        if session.scalar(select(User.id).where(User.username == username.strip())) is None:
            err_console.print(f"[red]错误：用户不存在：{username}[/red]")
            raise typer.Exit(2)
        if throttle.clear_account(session, policy=policy, username=username):
            console.print(f"已解除 {username} 的登录锁定")
        else:
            console.print(f"{username} 当前未被锁定（登录失败计数已清零）")


@app.command("import-catalog")
def import_catalog(
    path: Path,
    bureau: Annotated[str, typer.Option(help="单位编码")] = "hz",
    replace: Annotated[bool, typer.Option(help="文件中没有的小类停用")] = False,
) -> None:
    """从 YAML 或 CSV 导入案件类别目录（按编码更新）。"""
    from chengguan.catalog import service as catalog
    from chengguan.identity import service as identity

    fmt: Literal["yaml", "csv"] = "csv" if path.suffix.lower() == ".csv" else "yaml"
    text = _read_text(path)
    with unit_of_work() as session:
        summary = catalog.import_catalog(
            session, bureau=identity.get_bureau(session, code=bureau), text=text, fmt=fmt, replace=replace
        )
        console.print(f"类别目录已导入：{summary}")


@app.command("export-catalog")
def export_catalog(
    bureau: Annotated[str, typer.Option(help="单位编码")] = "hz",
    fmt: Annotated[str, typer.Option("--format", help="yaml 或 csv")] = "yaml",
) -> None:
    """导出案件类别目录到标准输出。"""
    from chengguan.catalog import service as catalog
    from chengguan.identity import service as identity

    if fmt not in ("yaml", "csv"):
        err_console.print("[red]错误：--format 只能是 yaml 或 csv[/red]")
        raise typer.Exit(2)
    with unit_of_work() as session:
        sys.stdout.write(catalog.export_catalog(session, bureau=identity.get_bureau(session, code=bureau), fmt=fmt))  # type: ignore[arg-type]


@app.command("import-boundaries")
def import_boundaries(
    path: Path,
    level: Annotated[str, typer.Option(help="street、community 或 grid")],
    name_field: Annotated[str, typer.Option(help="名称字段")] = "name",
    code_field: Annotated[str, typer.Option(help="编码字段")] = "code",
    parent_code_field: Annotated[str | None, typer.Option(help="上级编码字段（不给则按空间包含判断）")] = None,
    crs: Annotated[CRS, typer.Option(help="输入坐标系")] = CRS.WGS84,
    bureau: Annotated[str, typer.Option(help="单位编码")] = "hz",
) -> None:
    """导入真实的街道、社区或单元网格边界（GeoJSON 或 Shapefile），替换该区县的生成数据。"""
    from chengguan.geo import service as geo
    from chengguan.identity import access
    from chengguan.identity import service as identity

    if level not in ("street", "community", "grid"):
        err_console.print("[red]错误：--level 只能是 street、community 或 grid[/red]")
        raise typer.Exit(2)
    if not path.exists():
        err_console.print(f"[red]错误：文件不存在：{path}[/red]")
        raise typer.Exit(2)
    with unit_of_work() as session:
        summary = geo.import_boundaries(
            session,
            bureau=identity.get_bureau(session, code=bureau),
            level=level,  # type: ignore[arg-type]
            path=path,
            name_field=name_field,
            code_field=code_field,
            parent_code_field=parent_code_field,
            crs=crs,
        )
        console.print(f"边界已导入：{summary}")
        from chengguan.cases import placement

        scope = access.bureau_scope_ids(session, bureau_id=identity.get_bureau(session, code=bureau).id)
        console.print(f"已按新边界重新定位 {placement.relocate(session, bureau_ids=scope)} 个案件")


@app.command("import-calendar")
def import_calendar(path: Path, bureau: Annotated[str, typer.Option(help="单位编码")] = "hz") -> None:
    """导入工作日历（工作日、工作时段、节假日与调休）YAML；在办案件的工作日时限随之重算。"""
    from chengguan.calendar import service as calendars
    from chengguan.cases import service as cases
    from chengguan.identity import access
    from chengguan.identity import service as identity

    text = _read_text(path)
    with unit_of_work() as session:
        target = identity.get_bureau(session, code=bureau)
        result = calendars.import_calendar_yaml(session, bureau=target, text=text)
        moved = cases.recompute_deadlines(session, bureau_ids=access.bureau_scope_ids(session, bureau_id=target.id))
        console.print(f"工作日历已导入：{result}")
        console.print(f"已按新日历重算 {moved} 个在办案件的时限")


@app.command()
def doctor(
    strict: Annotated[bool, typer.Option("--strict", help="有警告也以非零状态退出（用于监控）")] = False,
) -> None:
    """检查运行环境：数据库、PostGIS、未来 60 天的法定节假日数据、密钥、前端资源。"""
    from chengguan.doctor import Level, run_checks

    findings = run_checks(get_settings())
    colours = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}
    for f in findings:
        console.print(f"[{colours[f.level]}]{f.level.value:<4}[/] {f.check}：{f.message}")
    worst = {f.level for f in findings}
    if Level.FAIL in worst or (strict and Level.WARN in worst):
        raise typer.Exit(1)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="处理一批后退出")] = False,
    interval: Annotated[float, typer.Option(help="空闲时轮询间隔（秒）")] = 1.0,
) -> None:
    """运行后台任务（发件箱：通知、上报处理的分发等），多个 worker 可并行（PostgreSQL 上用 SKIP LOCKED 认领）。"""
    from chengguan.jobs import broker, outbox
    from chengguan.notify import wiring as notify_wiring

    _load_handlers()
    settings = get_settings()
    broker.configure(settings)
    notify_wiring.configure(settings)
    factory = make_session_factory(make_engine(settings.effective_database_url))
    while True:
        done = outbox.run_pending(factory, limit=200)
        if once:
            console.print(f"已处理 {done} 条任务")
            return
        if done == 0:
            time.sleep(interval)


@app.command()
def consume(
    subject: Annotated[str, typer.Argument(help="主题，如 intake.report（上报处理）")],
    durable: Annotated[str, typer.Option(help="持久消费者名称（同名的多个进程分担同一队列）")] = "workers",
    seconds: Annotated[float, typer.Option(help="运行多少秒后退出（0 为一直运行）")] = 0.0,
) -> None:
    """从 NATS JetStream 拉取并处理任务（CHENGGUAN_BROKER_URL=nats://…）：处理并提交后才确认，重复投递不会重复处理。"""
    import signal
    import threading

    from chengguan.jobs import broker, jetstream

    settings = get_settings()
    if not settings.broker_url.startswith("nats://"):
        err_console.print("[red]错误：未配置消息代理：请设置 CHENGGUAN_BROKER_URL=nats://主机:4222[/red]")
        raise typer.Exit(2)
    _load_handlers()
    try:
        handle = broker.consumer_for(subject)
    except LookupError as exc:
        err_console.print(f"[red]错误：没有处理主题 {subject} 的消费者[/red]")
        raise typer.Exit(2) from exc
    factory = make_session_factory(make_engine(settings.effective_database_url))
    client = jetstream.shared_client(settings.broker_url, prefix=settings.broker_prefix)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if seconds > 0:
        threading.Timer(seconds, stop.set).start()

    def run_one(payload: dict[str, object]) -> None:
        with transaction(factory) as session:
            handle(session, payload)

    console.print(f"正在处理 {settings.broker_prefix}.{subject}（消费者 {durable}）……")
    try:
        done = client.consume(subject, run_one, durable=durable, stop=stop)
    except KeyboardInterrupt:
        done = 0
    console.print(f"已处理 {done} 条")


@app.command()
def notifications(
    last: Annotated[int, typer.Option("--last", min=1, max=1000, help="显示最近多少条")] = 20,
    state: Annotated[Literal["queued", "sent", "failed"] | None, typer.Option(help="只看某一投递状态")] = None,
) -> None:
    """最近的通知及其投递状态；本地发件箱模式下附上各通道将要发出的完整请求（方法、URL、请求头、正文）。"""
    from chengguan.notify import service as notify
    from chengguan.shared.clock import fmt_local

    with unit_of_work() as session:
        notes = notify.recent(session, bureau_ids=None, limit=last, state=state)
        records = notify.records_of(session, notification_ids=[n.id for n in notes])
        if not notes:
            console.print("没有通知")
        for n in reversed(notes):
            who = n.email or (f"用户 {n.user_id}" if n.user_id else n.phone) or "—"
            console.print(
                f"[bold]#{n.id}[/bold] {fmt_local(n.created_at)} {n.channel} → {who}  "
                f"[{'green' if n.state == 'sent' else 'red' if n.state == 'failed' else 'yellow'}]{n.state}[/]"
                f"（{n.provider or '—'}{'，' + n.provider_message_id if n.provider_message_id else ''}，"
                f"尝试 {n.attempts} 次）",
                markup=True,
                highlight=False,
            )
            console.print(f"  {n.subject}：{n.body}", markup=False, highlight=False)
            if n.last_error:
                console.print(f"  错误：{n.last_error}", markup=False, highlight=False)
            for r in records.get(n.id, []):
                console.print(f"  [{r.provider}] {r.method} {r.url}", markup=False, highlight=False)
                for name, value in r.headers.items():
                    console.print(f"    {name}: {value}", markup=False, highlight=False)
                console.print("    " + r.body.replace("\n", "\n    "), markup=False, highlight=False)


SYSTEM_CHANNEL_NAMES = ["hotline_12345", "social_media", "iot_sensor", "camera", "open311"]


@app.command("create-client")
def create_client(
    code: str,
    name: Annotated[str, typer.Option("--name", help="名称，如 杭州 12345 政务服务热线")],
    channel: Annotated[str, typer.Option(help="渠道：" + "、".join(SYSTEM_CHANNEL_NAMES))],
    bureau: Annotated[str, typer.Option(help="所属单位编码（客户端只能上报本单位及下级辖区内的问题）")] = "hz",
) -> None:
    """创建系统客户端（12345 平台、舆情监测、物联网关、视频平台、Open311 应用），生成 API Key（只显示这一次）。"""
    from chengguan.cases.channels import Channel
    from chengguan.identity import service as identity
    from chengguan.intake import clients

    if channel not in SYSTEM_CHANNEL_NAMES:
        err_console.print(f"[red]错误：--channel 只能是 {'、'.join(SYSTEM_CHANNEL_NAMES)}[/red]")
        raise typer.Exit(2)
    with unit_of_work() as session:
        b = identity.get_bureau(session, code=bureau)
        issued = clients.create_client(session, code=code, name=name, channel=Channel(channel), bureau=b)
        where = b.name
    console.print(f"已创建系统客户端 {code}（{Channel(channel).label}，{where}）。API Key（只显示这一次）：")
    console.print(issued.key, markup=False, highlight=False)


@app.command("revoke-client")
def revoke_client(code: str) -> None:
    """停用系统客户端的 API Key（立即生效：之后的请求返回 401）。"""
    from chengguan.intake import clients

    with unit_of_work() as session:
        clients.revoke_client(session, code=code)
    console.print(f"已停用系统客户端 {code} 的 API Key")


@app.command("reissue-client-key")
def reissue_client_key(code: str) -> None:
    """为系统客户端换发新的 API Key（旧 Key 立即失效），新 Key 只显示这一次。"""
    from chengguan.intake import clients

    with unit_of_work() as session:
        issued = clients.reissue_key(session, code=code)
    console.print(f"已为系统客户端 {code} 换发 API Key（只显示这一次）：")
    console.print(issued.key, markup=False, highlight=False)


@app.command("list-clients")
def list_clients() -> None:
    """列出系统客户端（不显示 Key）。"""
    from chengguan.intake import clients

    with unit_of_work() as session:
        table = Table("编码", "名称", "渠道", "单位", "状态")
        for c in clients.list_clients(session):
            table.add_row(c.code, c.name, c.channel, str(c.bureau_id), "启用" if c.is_active else "已停用")
        console.print(table)


@app.command("register-device")
def register_device(
    code: str,
    kind: Annotated[Literal["sensor", "camera"], typer.Option(help="sensor（传感器）或 camera（摄像头）")],
    client: Annotated[str, typer.Option(help="接入该设备的系统客户端编码（物联网关或视频平台）")],
    lon: Annotated[float, typer.Option(help="经度")],
    lat: Annotated[float, typer.Option(help="纬度")],
    crs: Annotated[CRS, typer.Option(help="坐标系")] = CRS.WGS84,
    sensor_type: Annotated[str | None, typer.Option("--type", help="传感器子类型：bin_fill、noise、dust …")] = None,
    name: Annotated[str | None, typer.Option(help="名称")] = None,
    address: Annotated[str | None, typer.Option(help="安装地点")] = None,
    settings: Annotated[
        str | None,
        typer.Option(help='传感器阈值 JSON，如 {"noise_db": {"above": 70, "for_s": 600, "category": "0301"}}'),
    ] = None,
) -> None:
    """登记物联传感器或摄像头（位置须在客户端所属单位的辖区内）。"""
    import json

    from chengguan.intake import clients, devices

    try:
        parsed = json.loads(settings) if settings else None
    except ValueError as exc:
        err_console.print(f"[red]错误：--settings 不是合法的 JSON：{exc}[/red]")
        raise typer.Exit(2) from exc
    with unit_of_work() as session:
        device = devices.register_device(
            session,
            code=code,
            kind=kind,
            client=clients.get_client(session, code=client),
            lon=lon,
            lat=lat,
            crs=crs,
            sensor_type=sensor_type,
            name=name,
            address=address,
            settings=parsed,
        )
        console.print(f"已登记设备 {device.code}（{device.name}）", markup=False, highlight=False)


@app.command("import-hotline")
def import_hotline(
    path: Path,
    client: Annotated[str, typer.Option(help="12345 系统客户端编码，如 hz-12345")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="列映射文件（YAML 或 JSON）")] = None,
    column_map: Annotated[
        str | None, typer.Option("--map", help="列映射，如 工单编号=external_id,来电时间=called_at,诉求内容=content")
    ] = None,
    crs: Annotated[str | None, typer.Option(help="坐标系（与 --map 一起用）：wgs84、gcj02、bd09")] = None,
    timezone: Annotated[str | None, typer.Option(help="无时区的时间按哪个时区（与 --map 一起用）")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX 工作表（与 --map 一起用）")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV 编码（默认自动识别 UTF-8/GBK）")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="有任何错误行则整个文件不导入")] = False,
) -> None:
    """导入 12345 工单导出文件（CSV、JSON、XLSX）：错误行逐行报告，其余照常导入；同一工单重复导入不会重复上报。"""
    from chengguan.intake import clients, imports

    if mapping is not None and column_map is not None:
        err_console.print("[red]错误：--mapping 与 --map 只能用一个[/red]")
        raise typer.Exit(2)
    try:
        data = path.read_bytes()
    except OSError as exc:
        err_console.print(f"[red]错误：无法读取文件 {path}：{exc.strerror}[/red]")
        raise typer.Exit(2) from exc
    started = time.perf_counter()
    with unit_of_work() as session:
        if mapping is not None:
            chosen = imports.load_mapping(_read_text(mapping))
        elif column_map is not None:
            chosen = imports.parse_map(column_map, crs=crs, sheet=sheet, timezone=timezone)
        else:
            chosen = None
        result = imports.import_orders(
            session,
            client=clients.get_client(session, code=client),
            data=data,
            filename=path.name,
            mapping=chosen,
            strict=strict,
            encoding=encoding,
        )
    took = time.perf_counter() - started
    console.print(
        f"{path.name}（{result.fmt}{'，' + result.encoding if result.encoding else ''}）：共 {result.rows} 行，"
        f"新导入 {result.stored}，已导入过 {result.replayed}，错误 {result.invalid_rows} 行，用时 {took:.1f} 秒",
        markup=False,
        highlight=False,
    )
    for e in result.errors[:50]:
        console.print(f"  {e.location()}：{e.message}", markup=False, highlight=False)
    if len(result.errors) > 50:
        console.print(f"  ……另有 {len(result.errors) - 50} 处错误", markup=False, highlight=False)


def _load_handlers() -> None:
    """Import the modules that register outbox handlers and broker consumers (a worker knows every topic)."""
    from chengguan.cases import notifications  # noqa: F401
    from chengguan.intake import imports, service  # noqa: F401


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
) -> None:
    """启动 Web 控制台与 API。"""
    import uvicorn

    from chengguan import demo
    from chengguan.web.app import create_app

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    table = Table(title="演示账号（密码均为 " + demo.DEMO_PASSWORD + "）")
    for col in ("用户名", "姓名", "角色"):
        table.add_column(col)
    for username, name, roles in demo.DEMO_LOGINS:
        table.add_row(username, name, "、".join(roles))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    console.print(table)
    console.print(f"控制台：{url}/console    API 文档：{url}/docs    数据库：{settings.effective_database_url}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        err_console.print(f"[red]错误：无法读取文件 {path}：{exc.strerror}[/red]")
        raise typer.Exit(2) from exc
    except UnicodeDecodeError as exc:
        err_console.print(f"[red]错误：文件 {path} 不是 UTF-8 编码[/red]")
        raise typer.Exit(2) from exc


if __name__ == "__main__":
    app()
