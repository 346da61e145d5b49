"""Beancount plugins shipped with pkgbooks (enabled by the generated `main.beancount`)."""
