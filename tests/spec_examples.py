"""The catalogs of the SPEC 8 worked examples, shared by the ledger and the report tests."""

P1 = """
[items.visit]
name = "Visit"
category = "service"
price = "25.00"

[packages.P-1]
name = "Package one"
price = "100.00"
items = [ { item = "visit", quantity = 4, price = "100.00" } ]
"""


P3 = """
[items.facial]
name = "Facial"
category = "service"
price = "15.00"

[items.haircut]
name = "Haircut"
category = "service"
price = "85.00"

[packages.P-3]
name = "Facial and haircut"
price = "100.00"
initial_recognition = "5.00"
items = [ { item = "facial", quantity = 1, price = "15.00" },
          { item = "haircut", quantity = 1, price = "85.00" } ]
"""


P4 = """
[items.massage]
name = "Massage"
category = "service"
price = "70.00"

[items.oil]
name = "Massage oil"
category = "product"
price = "40.00"

[items.yoga]
name = "Yoga class"
category = "class"
price = "30.00"

[packages.P-4]
name = "Wellness"
price = "140.00"
items = [ {{ item = "massage", quantity = 1, price = "70.00" }},
          {{ item = "oil", quantity = 1, price = "40.00" }},
          {{ item = "yoga", quantity = 1, price = "30.00" }} ]

[reconciliation]
start = {start}
rates = {{ service = "0.05", product = "0.30", class = "0.20" }}
"""


P5 = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
validity_days = 90
grace_days = 30
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""
