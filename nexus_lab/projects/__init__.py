"""Project-trading intersections: budgets and milestones against income and expense.

A kernel: frames in, frames out; it imports only base modules, reads no environment
variable and opens no database (a service reads the ``projects``,
``project_milestones`` and ``trading_operations`` tables and hands them over).

:func:`variance` compares each milestone's planned amount with the operations linked
to it, projects each project's cost at completion (earned value, 0/100 rule), and
says which milestones and projects are at risk and why.

Examples
--------
>>> import nexus_lab as nx
>>> projects, milestones, operations = nx.datasets.synth_projects(5, seed=0)
>>> res = nx.projects.variance(milestones, operations, projects=projects)
>>> sorted(res.summary())[:3]
['actual_expense', 'actual_income', 'as_of']
"""

from nexus_lab.projects._variance import NOT_STARTED, RISKS, ProjectVariance, variance

__all__ = ["NOT_STARTED", "RISKS", "ProjectVariance", "variance"]
