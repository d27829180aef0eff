"""xpfotrace.costing"""
