"""The replay engine (docs/model.md sections 1-6 and 8): ``prepare`` (replay order,
``classify``, ``frames``), the state pass (``state``), the projection (``projection``),
the remote rules (``sync``, ``deferred/``), orchestrated by ``replay``."""
