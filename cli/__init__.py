"""The command line (``flask --app wsgi ...``): each group calls the same services as the views."""

from cli.audit import audit_cli
from cli.demo import demo
from cli.enterprises import enterprises_cli
from cli.followup import actions_cli
from cli.history import history_cli
from cli.lists import lists_cli
from cli.plans import plans_cli
from cli.reports import reports_cli, targets_cli
from cli.samples import samples_cli
from cli.tasks import tasks_cli
from cli.users import users_cli
from jobs.scheduler import scheduler_command

COMMANDS = (users_cli, enterprises_cli, demo, reports_cli, targets_cli, samples_cli, plans_cli, actions_cli,
            history_cli, lists_cli, scheduler_command, audit_cli, tasks_cli)
