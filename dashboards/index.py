"""`panel serve dashboards/index.py`: the landing page (the dashboards a user may open).

Serve every dashboard behind the login with `nexus-lab dashboards serve`.
"""

from nexus_lab.dashboards import landing

landing.page().servable()
