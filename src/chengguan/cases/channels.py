"""Intake channels a report can come from (the full multi-channel intake is its own domain later)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    CITIZEN = "citizen"  # 市民上报
    GRID_WORKER = "grid_worker"  # 网格员上报
    HOTLINE_12345 = "hotline_12345"  # 12345 热线
    OFFICER_PATROL = "officer_patrol"  # 队员巡查发现
    CAMERA = "camera"  # 视频智能识别
    SOCIAL_MEDIA = "social_media"  # 网络舆情
    IOT_SENSOR = "iot_sensor"  # 物联感知
    OPEN311 = "open311"  # Open311 接入应用 (GeoReport v2 clients, chengguan.open311)

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.CITIZEN: "市民上报",
    Channel.GRID_WORKER: "网格员上报",
    Channel.HOTLINE_12345: "12345热线",
    Channel.OFFICER_PATROL: "队员巡查",
    Channel.CAMERA: "视频识别",
    Channel.SOCIAL_MEDIA: "网络舆情",
    Channel.IOT_SENSOR: "物联感知",
    Channel.OPEN311: "Open311 应用",
}
