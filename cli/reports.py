"""``reports`` and ``targets``: pass-rate reports, the sample-size planner and the target table."""

import json
import sys

import click
from flask.cli import AppGroup

from sampling import stats
from sampling.enums import CATEGORY_GROUPS, PLAN_KINDS, PLAN_LEVELS
from sampling.errors import DomainError
from sampling.text import csv_cell
from services import reports

reports_cli = AppGroup("reports", help="Pass-rate reports and the sample-size planner.")
targets_cli = AppGroup("targets", help="The pass-rate target table (level × category group).")
ACTOR = "cli"


def _comma_list(choices=None):
    def convert(ctx, param, value):
        if value is None:
            return None
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if choices is not None and v not in choices]
        if bad:
            raise click.BadParameter(f"unknown: {', '.join(bad)}; allowed: {', '.join(choices)}")
        return items

    return convert


@reports_cli.command("pass-rates")
@click.option("--period", callback=_comma_list(), help="period(s), e.g. 2026Q4 or 2026Q3,2026Q4")
@click.option("--by", default="category", show_default=True, callback=_comma_list(reports.GROUP_KEYS),
              help=f"grouping keys: {', '.join(reports.GROUP_KEYS)}")
@click.option("--level", callback=_comma_list(PLAN_LEVELS))
@click.option("--kind", callback=_comma_list(PLAN_KINDS))
@click.option("--method", type=click.Choice(stats.METHODS), default=stats.DEFAULT_METHOD, show_default=True)
@click.option("--format", "fmt", type=click.Choice(reports.FORMATS), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="file (default: stdout)")
def pass_rates_command(period, by, level, kind, method, fmt, output):
    """Write the pass-rate report as CSV, XLSX or JSON."""
    if fmt == "xlsx" and not output:
        raise click.UsageError("XLSX needs -o FILE")
    filters = {"period": period, "level": level, "kind": kind}
    try:
        report = reports.pass_rate_table(by, filters, method)
    except DomainError as error:
        raise click.UsageError(error.message) from None
    if fmt == "json":
        body = json.dumps(reports.report_dict(report), ensure_ascii=False, indent=2, default=str).encode()
    else:
        body = reports.report_file(report, fmt, csv_cell)
    if output:
        with open(output, "wb") as handle:
            handle.write(body)
        click.echo(f"{len(report.rows)} rows and the total written to {output}", err=True)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()


@reports_cli.command("sample-size")
@click.option("--target", type=float, required=True)
@click.option("--expected", type=float, required=True)
@click.option("--confidence", type=float, default=stats.DEFAULT_CONFIDENCE, show_default=True)
@click.option("--power", type=float, default=stats.DEFAULT_POWER, show_default=True)
def sample_size_command(target, expected, confidence, power):
    """The planner: samples needed to tell ``expected`` from ``target``."""
    try:
        plan = stats.plan_sample_size(target, expected, confidence, power)
    except DomainError as error:
        raise click.UsageError(error.message) from None
    click.echo(
        f"n = {plan.n}: declare 'below target' when at most {plan.critical_passed} pass "
        f"(power {plan.achieved_power:.3f}, actual alpha {plan.actual_alpha:.4f})"
    )


@targets_cli.command("list")
def list_targets():
    """Print the target table."""
    for cell in reports.target_cells():
        mark = "default" if cell["default"] else "set"
        click.echo(f"{cell['level']:<11} {cell['group']:<11} {cell['rate']:.4f}  {mark}")


@targets_cli.command("set")
@click.option("--level", type=click.Choice(PLAN_LEVELS), required=True)
@click.option("--group", type=click.Choice(CATEGORY_GROUPS), required=True)
@click.argument("rate", required=False)
@click.option("--reset", is_flag=True, help="go back to the level's default")
def set_target_command(level, group, rate, reset):
    """Set one cell, e.g. ``targets set --level municipal --group industrial 0.94``."""
    if reset == (rate is not None):
        raise click.UsageError("give a RATE, or --reset")
    try:
        value = None if reset else float(rate.rstrip("%")) / (100 if rate.endswith("%") else 1)
        cell = reports.set_target(level, group, value, ACTOR)
    except ValueError:
        raise click.UsageError(f"not a rate: {rate!r}") from None
    except DomainError as error:
        raise click.UsageError(error.message) from None
    click.echo(f"{cell['level']} {cell['group']}: {cell['rate']:.4f}{' (default)' if cell['default'] else ''}")
