"""`panel serve dashboards/overview.py`: the overview dashboard (its view: nexus_lab.dashboards.overview).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import overview

overview.page().servable()
