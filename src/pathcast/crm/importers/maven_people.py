"""Maven's people: teams, their managers and the sales agents (``sales_teams.csv``).

Each manager leads one team named "<manager> (<regional office>)" with the office as
region, and is a user with role manager; each agent is a user with role rep in their
manager's team. Nobody gets a password. The name is the external id (source ``maven``)
and the e-mail is ``first.last@maven-crm.example.com``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from sqlalchemy import select

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, Team, User
from pathcast.crm.importers.base import CsvTable, SourceRow
from pathcast.crm.importers.convert import Problem, changed_fields
from pathcast.crm.importers.writer import Importer, Outcome, RowRejected
from pathcast.errors import Conflict

SOURCE = "maven"
EMAIL_DOMAIN = "maven-crm.example.com"

Work = Callable[[dict[str, str], SourceRow], Outcome]


def run_rows(
    importer: Importer,
    table: CsvTable,
    entity: str,
    rows: list[SourceRow],
    work: Work,
    columns: dict[str, str],
    names: Sequence[str],
    label: str | None = None,
) -> None:
    """Run ``work`` on each row (as a dict of the named, stripped cells), with progress."""
    total = len(rows)
    task = f"{table.name} ({label or entity})"
    positions = {name: table.column_index(name) for name in names}
    for done, row in enumerate(rows, start=1):
        cells = {name: row.cells[i].strip() for name, i in positions.items() if i is not None}
        importer.run_row(entity, table.name, row, _bind(work, cells, row), columns)
        if importer.progress is not None:
            importer.progress(task, done, total)


def _bind(work: Work, cells: dict[str, str], row: SourceRow) -> Callable[[], Outcome]:
    return lambda: work(cells, row)


def email_for(name: str) -> str:
    """``Mei-Mei Johns`` -> ``mei-mei.johns@maven-crm.example.com``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = [re.sub(r"[^a-z0-9-]", "", part) for part in ascii_name.lower().split()]
    return ".".join(part for part in parts if part) + "@" + EMAIL_DOMAIN


class MavenPeople:
    """Imports ``sales_teams.csv``: teams first, then their managers, then the agents."""

    def __init__(self, *, importer: Importer) -> None:
        self.importer = importer
        self.session = importer.session
        self.actor = importer.actor
        self.users: dict[str, User] = {}
        self.teams: dict[str, Team] = {}

    def run(self, table: CsvTable) -> None:
        """Import the teams, managers and agents of one sales_teams file."""
        self.users = self.importer.existing("user", SOURCE)
        self.teams = {team.name: team for team in self.session.scalars(select(Team))}
        first_rows: dict[str, SourceRow] = {}
        manager_index = table.column_index("manager")
        assert manager_index is not None
        for row in table.rows:
            manager = row.cells[manager_index].strip()
            if manager and manager not in first_rows:
                first_rows[manager] = row
        names = ("sales_agent", "manager", "regional_office")
        managers = list(first_rows.values())
        run_rows(self.importer, table, "team", managers, self._team, {}, names)
        run_rows(self.importer, table, "user", managers, self._manager, {}, names, "managers")
        run_rows(self.importer, table, "user", table.rows, self._agent, {}, names, "agents")

    def _team_of(self, manager: str) -> Team | None:
        user = self.users.get(manager)
        if user is not None and user.team_id is not None:
            return self.session.get(Team, user.team_id)
        return None

    def _team(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        manager, region = cells["manager"], cells.get("regional_office") or None
        if self._team_of(manager) is not None:
            return "unchanged"
        name = f"{manager} ({region})" if region else manager
        if name in self.teams:
            return "unchanged"
        team = auth_service.create_team(self.session, actor=self.actor, name=name, region=region)
        self.importer.remember(self.teams, name, team)
        return "imported"

    def _manager(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        manager, region = cells["manager"], cells.get("regional_office") or None
        team = self._team_of(manager) or self.teams.get(f"{manager} ({region})" if region else manager)
        if team is None:
            raise RowRejected([Problem("manager", manager, "the manager's team could not be created")])
        outcome = self._user(manager, Role.manager, team.id, "manager")
        if team.manager_id != self.users[manager].id:
            auth_service.set_team_manager(
                self.session, actor=self.actor, team=team, manager_id=self.users[manager].id
            )
        return outcome

    def _agent(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        agent, manager = cells["sales_agent"], cells.get("manager", "")
        if not agent:
            raise RowRejected([Problem("sales_agent", "", "required value is empty")])
        team = self._team_of(manager) if manager else None
        return self._user(agent, Role.rep, team.id if team else None, "sales_agent")

    def _user(self, name: str, role: Role, team_id: int | None, column: str) -> Outcome:
        current: User | None = self.users.get(name)
        if current is None:
            try:
                user = auth_service.create_user(
                    self.session,
                    actor=self.actor,
                    email=email_for(name),
                    name=name,
                    role=role,
                    team_id=team_id,
                    locale="en",
                    external_source=SOURCE,
                    external_id=name,
                )
            except Conflict:
                raise RowRejected(
                    [Problem(column, name, f"e-mail {email_for(name)} belongs to another user")]
                ) from None
            self.importer.remember(self.users, name, user)
            self.importer.remember_user(user)
            return "imported"
        changes = changed_fields(current, {"name": name, "role": role.value, "team_id": team_id})
        if not changes:
            return "unchanged"
        auth_service.update_user(self.session, actor=self.actor, user=current, changes=changes)
        return "updated"
