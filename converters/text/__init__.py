"""Text traces (tracefs, ``trace-cmd report``, ``perf script``): each format's grammar
(``tracefs``, ``tracecmd``, ``perf_script``) over shared machinery (``base``, ``fields``,
``reader``) and the compiled fast path (``fast``, ``_ctext``)."""
