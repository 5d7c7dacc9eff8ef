"""Case categories (大类/小类) with filing/closing criteria, responsible units and time limits, per locality."""
