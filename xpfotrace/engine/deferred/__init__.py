"""Remote pass of ``deferred`` strategies: pending CPUs, their flushes at mm switches,
and exposure windows, on N virtual CPUs (docs/model.md sections 4, 6 and 8).

Where each rule of MODEL section 4 (and 8) lives:

- *an mm switch* (next task with a user address space; the exact kernel-thread list):
  ``engine.classify.mm_switches`` and ``KTHREAD_PREFIXES``;
- *a request marks every other CPU pending; a CPU's own requests do not clear it*:
  the own-CPU rule in ``pairs`` (``Combo.same``) and ``circle.Requests.first_other``;
- *ties in replay order under projection* (a request at a switch's moved time comes
  first when its replica is lower): ``pairs.Combo.right``;
- *one full flush per mm switch, whatever the number of pending requests*:
  ``windows.Windows.totals`` (unbounded) and ``bounded.bounded_pass``;
- *exposure windows and censoring*: ``windows.Windows`` (unbounded),
  ``bounded._segments`` (with a bound);
- *nearest-rank percentiles*: ``quantile.nearest_rank``, found exactly by
  ``quantile.select`` (unbounded) and ``bounded._listed``/``bounded._select``;
- *``bound`` (section 8): a flush forced at a + T unless an mm switch comes first*:
  ``bounded``.
"""

from .bounded import Bounded, bounded_pass, bounded_window_cdf
from .unbounded import DeferredCounters, deferred_pass, log_grid, window_cdf

__all__ = ["Bounded", "DeferredCounters", "bounded_pass", "bounded_window_cdf",
           "deferred_pass", "log_grid", "window_cdf"]
