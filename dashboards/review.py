"""`panel serve dashboards/review.py`: the review dashboard (its view: nexus_lab.dashboards.review).

Serve every dashboard behind the login with `nexus-lab dashboards serve`; served on its
own, pass the login module too (see dashboards/README.md).
"""

from nexus_lab.dashboards import review

review.page().servable()
