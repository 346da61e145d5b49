"""Summary journals for the general ledger: Xero, QuickBooks Online, QuickBooks Desktop (SPEC 6).

`journals` turns the ledger's movements (read with Beancount) into one
balanced journal per period and location, in GL accounts; each target is one
module (`xero`, `qbo`, `iif`) behind the small `base.Exporter` interface, and
writes its files through Jinja2 templates under `templates/`. `settings` holds
the typed `[export.*]` tables of `pkgbooks.toml`; `run` puts it all together
for the `pkgbooks export` command.
"""

# What `pkgbooks export` offers, named here so that the command line lists them without
# importing the exporters (Beancount, Jinja2) and a build's configuration check without
# them either: each target is a module of this package with its `Exporter` (`run.EXPORTERS`).
TARGETS = ("xero", "qbo", "iif")
GROUPS = ("month", "day")  # one journal per location and month, or per day
