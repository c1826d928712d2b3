"""`panel serve dashboards/fraud.py`: the fraud dashboard (its view: nexus_lab.dashboards.fraud).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import fraud

fraud.page().servable()
