"""xpfotrace.render"""
