"""zh-CN message templates, one per event, with named variables (pure data and rendering, no I/O).

SMS providers send only templates approved in advance, with variables filled in: Aliyun names them
(``${no}`` in the approved text, ``TemplateParam={"no": "…"}``), Tencent numbers them (``{1}``,
``TemplateParamSet=["…"]`` in the order of ``params``). The text here is what the in-app inbox, the staff robot
and e-mail show, and the wording to have approved at the provider; which provider template code stands for
which key is configuration (``CHENGGUAN_NOTIFY_SMS_TEMPLATES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chengguan.shared.text import find_forbidden

# Aliyun limits a template variable to 35 characters (Tencent to 12 for some kinds); ours are case numbers.
MAX_PARAM_CHARS = 35


@dataclass(frozen=True)
class Template:
    key: str
    subject: str
    text: str
    params: tuple[str, ...]

    def render(self, values: Mapping[str, str]) -> tuple[str, str]:
        """(subject, body) with ``values`` filled in; refuses missing, extra or unsafe values."""
        if set(values) != set(self.params):
            raise ValueError(f"template {self.key} takes {self.params}, got {tuple(sorted(values))}")
        for name, value in values.items():
            if not value or len(value) > MAX_PARAM_CHARS or find_forbidden(value) is not None or "\n" in value:
                raise ValueError(f"template {self.key}: unusable value for {name!r}")
        return self.subject.format(**values), self.text.format(**values)

    def ordered(self, values: Mapping[str, str]) -> list[str]:
        """The values in the template's order (Tencent's positional ``{1}``, ``{2}``, …)."""
        return [values[name] for name in self.params]


def _t(key: str, subject: str, text: str, *params: str) -> Template:
    return Template(key=key, subject=subject, text=text, params=params or ("no",))


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        # to everyone who reported the problem
        _t("case.reported", "案件 {no} 进展", "您反映的问题已收到，案件编号 {no}，我们将尽快处理。"),
        _t("case.merged", "案件 {no} 进展", "您反映的问题与其他反映相同，已并入案件 {no} 一并办理。"),
        _t("case.accepted", "案件 {no} 进展", "您反映的问题（{no}）已受理。"),
        _t("case.rejected", "案件 {no} 进展", "您反映的问题（{no}）经审核不予立案。"),
        _t("case.voided", "案件 {no} 进展", "您反映的问题（{no}）已作废处理。"),
        _t("case.closed", "案件 {no} 进展", "您反映的问题（{no}）已处理完毕并结案，感谢您的参与。"),
        # to the officer who holds the task
        _t("task.dispatched", "案件 {no} 任务", "新任务：案件 {no} 已派遣给您，请及时签收处置。"),
        _t("task.rework", "案件 {no} 任务", "返工：案件 {no} 核查未通过，请重新处置。"),
        # to whoever asked for an extension
        _t(
            "extension.lapsed",
            "案件 {no} 延期申请",
            "案件 {no} 的延期申请已因案件流转自动撤销，如仍需延期请重新申请。",
        ),
    )
}


def get(key: str) -> Template:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise ValueError(f"unknown notification template {key!r}") from None
