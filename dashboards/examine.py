"""`panel serve dashboards/examine.py`: audit analytics (its view: nexus_lab.dashboards.examine).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import examine

examine.page().servable()
