"""`panel serve dashboards/quality.py`: the quality dashboard (its view: nexus_lab.dashboards.quality).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import quality

quality.page().servable()
