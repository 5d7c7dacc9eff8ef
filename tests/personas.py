"""Named places of the demo city, so tests read like the bureau's day (people: the ``people`` fixture)."""

XIHU_POINT = (120.1300, 30.2750)  # 文三路一带, 西湖区 (330106)
SHANGCHENG_POINT = (120.2130, 30.2450)  # 钱江新城, 上城区 (330102)
XIAOSHAN_POINT = (120.27, 30.18)  # 萧山区 (330109), outside the core: coarse generated grids
JIANDE_POINT = (119.28, 29.48)  # 建德市 (330182), a county
SHANGHAI_POINT = (121.4737, 31.2304)  # outside Hangzhou

_spots = iter(range(10**9))


def xihu_spot() -> tuple[float, float]:
    """A different place in 西湖区 (文三路 – 西溪一带) on every call, ~350 m apart: reports at distinct spots
    are distinct problems, not duplicates to merge."""
    i = next(_spots) % 36
    return (120.1150 + 0.0040 * (i % 6), 30.2700 + 0.0035 * (i // 6))
