"""Named places of the demo city, so tests read like the bureau's day (people: the ``people`` fixture)."""

XIHU_POINT = (120.1300, 30.2750)  # 文三路一带, 西湖区 (330106)
SHANGCHENG_POINT = (120.2130, 30.2450)  # 钱江新城, 上城区 (330102)
XIAOSHAN_POINT = (120.27, 30.18)  # 萧山区 (330109), outside the core: coarse generated grids
JIANDE_POINT = (119.28, 29.48)  # 建德市 (330182), a county
SHANGHAI_POINT = (121.4737, 31.2304)  # outside Hangzhou
