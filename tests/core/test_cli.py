"""`flask seed-demo`, which `make run` calls on every start."""

from app.core.auth.models import User
from app.extensions import db


def test_seed_demo_prints_the_admin_password_once_and_can_run_again(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    password = first.output.split("password '")[1].split("'")[0]
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and password not in again.output and "already present" in again.output
    admins = db.session.query(User).filter_by(username="admin").all()
    assert len(admins) == 1 and admins[0].role == "admin"
