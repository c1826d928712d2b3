"""`panel serve dashboards/cases.py`: the cases dashboard (its view: nexus_lab.dashboards.cases).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import cases

cases.page().servable()
