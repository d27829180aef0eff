"""Binary traces: trace.dat (``tracedat/``) and perf.data (``perfdata/``), over the
ftrace event formats (``eventformat``), ring-buffer pages (``ringbuffer``), record fields
(``rawevents``) and the compiled loops (``_cbin``, with numpy fallbacks)."""
