"""`panel serve dashboards/models.py`: the models dashboard (its view: nexus_lab.dashboards.models).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import models

models.page().servable()
