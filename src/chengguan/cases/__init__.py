"""Cases: the GB/T 30428-style workflow (受理 → 立案 → 派遣 → 处置 → 核查 → 结案) under SLA clocks."""
