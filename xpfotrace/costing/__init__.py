"""Costing (docs/model.md section 7): hardware profiles (``hardware``, TOML files in
``profiles/``), the cost formula in three parts (``cost``), and what is built on them:
``compare`` (strategies on profiles) and ``sweep`` (bound x ceiling, Pareto frontier)."""
