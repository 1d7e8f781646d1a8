"""The commands in-process (CliRunner) on the in-memory components.

One process keeps the in-memory app between commands, so ``add`` then ``status`` or
``queues`` see the same queues here (and only here: other processes never would).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import anyio
import pytest
from click.testing import Result

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.interfaces.broker import OutgoingMessage
from qtasks_cli import (
    CliError,
    ExitCode,
    echo_json,
    format_age,
    format_time,
    load_app,
    render_table,
)
from qtasks_cli.commands.records import parse_argument

from .conftest import WriteApp

Invoke = Callable[..., Result]


@pytest.fixture
def module(write_app: WriteApp) -> str:
    return write_app()


def app_of(module: str) -> AsyncQueueTasks:
    return load_app(f"{module}:app")


def test_tasks_lists_definitions(module: str, invoke: Invoke) -> None:
    table = invoke("-A", f"{module}:app", "tasks")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "QUEUE",
        "PRIORITY",
        "RETRY",
        "MAX_TIME",
        "KIND",
        "DESCRIPTION",
    ]
    assert lines[1].split()[:6] == ["add", "default", "0", "2", "-", "sync"]
    assert lines[2].split()[:6] == ["nap", "slow", "3", "0", "-", "async"]
    data = json.loads(invoke("-A", f"{module}:app", "tasks", "--json").stdout)
    assert [d["name"] for d in data] == ["add", "nap"]
    assert data[0]["description"] == "Adds two numbers." and data[1]["description"] == "Sleeps."


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ('"2"', "2"),
        ("abc", "abc"),
        ("-1.5", -1.5),
        ('{"a": [1]}', {"a": [1]}),
        ("null", None),
        ("true", True),
        ("", ""),
    ],
)
def test_arguments_are_json_when_they_parse(text: str, value: object) -> None:
    assert parse_argument(text) == value


def test_add_then_status_and_queues(module: str, invoke: Invoke) -> None:
    spec = f"{module}:app"
    added = invoke("-A", spec, "add", "add", "2", "-3", "--priority", "4")
    assert added.exit_code == 0, added.output
    assert "in-memory broker" in added.stderr
    uuid = added.stdout.strip()
    shown = invoke("-A", spec, "status", uuid, "--json")
    record = json.loads(shown.stdout)
    assert (record["task_name"], record["args"], record["priority"]) == ("add", [2, -3], 4)
    assert record["status"] == "new" and record["created_at"].endswith("+00:00")
    table = invoke("-A", spec, "status", uuid).stdout
    assert f"uuid      {uuid}" in table and "args      [2, -3]" in table

    named = invoke(
        "-A", spec, "add", "nap", "--kwargs", '{"seconds": 1}', "--delay", "60", "--json"
    )
    assert json.loads(named.stdout)["kwargs"] == {"seconds": 1}
    invoke("-A", spec, "add", "nap", "--queue", "default")
    rows = invoke("-A", spec, "queues").stdout.splitlines()
    assert rows[0].split() == ["QUEUE", "READY", "BY_PRIORITY", "DELAYED", "IN_FLIGHT", "DEAD"]
    assert rows[1].split() == ["default", "2", "3:1", "4:1", "0", "0", "0"]
    assert rows[2].split() == ["slow", "0", "-", "1", "0", "0"]
    data = json.loads(invoke("-A", spec, "queues", "--json", "-Q", "default").stdout)
    assert data == [
        {
            "queue": "default",
            "ready": 2,
            "ready_by_priority": {"3": 1, "4": 1},
            "delayed": 0,
            "in_flight": 0,
            "dead": 0,
        }
    ]


def test_add_refuses_what_it_cannot_queue(module: str, invoke: Invoke) -> None:
    spec = f"{module}:app"
    unknown = invoke("-A", spec, "add", "sub", "1")
    assert unknown.exit_code == ExitCode.USAGE
    assert "Error: unknown task 'sub'; registered tasks are: add, nap" in unknown.stderr
    bad_json = invoke("-A", spec, "add", "add", "--kwargs", "{a: 1}")
    assert bad_json.exit_code == ExitCode.USAGE and "--kwargs is not valid JSON" in bad_json.stderr
    not_object = invoke("-A", spec, "add", "add", "--kwargs", "[1]")
    assert not_object.exit_code == ExitCode.USAGE and "must be a JSON object" in not_object.stderr


@pytest.mark.parametrize(
    ("args", "option", "hint"),
    [
        (["1", "--priorty", "3"], "--priorty", "(did you mean --priority?)"),
        (["--prio=3", "1"], "--prio", "(did you mean --priority?)"),
        (["1", "--wiat", "2"], "--wiat", "(did you mean --wait?)"),
        (["1", "-x"], "-x", "(options: --delay, --help, --json, --kwargs, --priority, --queue"),
        (["1", "--5"], "--5", "(options: --delay,"),
        (["1", "-Infinity"], "-Infinity", "(options: --delay,"),
    ],
)
def test_an_unknown_option_is_an_error_not_a_task_argument(
    module: str, invoke: Invoke, args: list[str], option: str, hint: str
) -> None:
    spec = f"{module}:app"
    result = invoke("-A", spec, "add", "add", *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: no such option '{option}' for 'qtasks add' {hint}")
    assert line.endswith(
        "to pass it to the task as an argument, put -- before the task's arguments: "
        "qtasks add NAME [OPTIONS] -- ARGS..."
    )
    assert result.stdout == ""
    assert json.loads(invoke("-A", spec, "queues", "--json").stdout)[0]["ready"] == 0


def test_numbers_and_words_after_the_separator_are_arguments(module: str, invoke: Invoke) -> None:
    spec = f"{module}:app"

    def queued(*args: str) -> dict[str, object]:
        result = invoke("-A", spec, "add", "--json", *args)
        assert result.exit_code == 0, result.output
        record: dict[str, object] = json.loads(result.stdout)
        return record

    assert queued("add", "-1", "-2.5e1")["args"] == [-1, -25.0]
    shifted = queued("add", "--priority", "-3", "--queue", "-odd", "1", "2")
    assert (shifted["priority"], shifted["queue"], shifted["args"]) == (-3, "-odd", [1, 2])
    assert queued("add", "--priority=2", "--", "--priorty", "-x")["args"] == ["--priorty", "-x"]
    assert queued("add", "1", "-")["args"] == [1, "-"]


def test_help_comes_before_the_typo(module: str, invoke: Invoke) -> None:
    shown = invoke("-A", f"{module}:app", "add", "--help", "--priorty")
    assert shown.exit_code == 0
    assert "put the options first and -- before any other argument" in " ".join(
        shown.stdout.split()
    )
    # -hello is not -h with unknown letters after it
    typo = invoke("-A", f"{module}:app", "add", "add", "-hello")
    assert typo.exit_code == ExitCode.USAGE and "no such option '-hello'" in typo.stderr


def test_add_wait_times_out_without_a_worker(module: str, invoke: Invoke) -> None:
    result = invoke("-A", f"{module}:app", "add", "add", "1", "2", "--wait", "0.2")
    assert result.exit_code == ExitCode.FAILED
    assert "did not finish within 0.2 s" in result.stderr


@pytest.mark.anyio
async def test_waiting_follows_the_task_to_its_end(module: str) -> None:
    # The command's waiting step, with a worker in the same event loop (in memory, a worker
    # in another process could never see the task: the Redis tests cover the command).
    from qtasks_cli.commands.records import _wait

    app = app_of(module)
    async with app.running(concurrency=2):
        task = await app.add_task("add", 20, 22)
        assert (await _wait(app, task, 5, show=False)).returning == 42
    slow = await app.add_task("nap")
    with pytest.raises(CliError, match="did not finish within 0.1 s"):
        await _wait(app, slow, 0.1, show=False)
    await app.stop()


def test_status_of_an_unknown_uuid(module: str, invoke: Invoke) -> None:
    result = invoke("-A", f"{module}:app", "status", "0000")
    assert result.exit_code == ExitCode.FAILED
    assert f"no task with uuid 0000 in app '{module}'" in result.stderr


def test_purge_asks_first(module: str, invoke: Invoke) -> None:
    spec = f"{module}:app"
    for _ in range(3):
        invoke("-A", spec, "add", "add", "1", "1")
    refused = invoke("-A", spec, "purge")
    assert refused.exit_code == ExitCode.USAGE and "pass --yes" in refused.stderr
    purged = invoke("-A", spec, "purge", "--yes")
    assert purged.exit_code == 0
    assert purged.stdout.splitlines() == ["default: purged 3 task(s)", "slow: purged 0 task(s)"]
    again = json.loads(invoke("-A", spec, "purge", "-y", "--json").stdout)
    assert again == {"purged": {"default": 0, "slow": 0}, "total": 0}


def test_requeue_dead(module: str, invoke: Invoke) -> None:
    app = app_of(module)

    async def bury(count: int) -> None:
        await app.start()
        await app.broker.send(
            [OutgoingMessage(f"u{i}", "default", 0, b"not a task") for i in range(count)]
        )
        for delivery in await app.broker.receive(["default"], count, 1.0):
            await app.broker.dead_letter(delivery, "test")

    anyio.run(bury, 7)
    spec = f"{module}:app"
    assert json.loads(invoke("-A", spec, "queues", "--json").stdout)[0]["dead"] == 7
    limited = invoke("-A", spec, "requeue-dead", "--limit", "2")
    assert limited.stdout == "requeued 2 dead-lettered task(s)\n"
    rest = json.loads(invoke("-A", spec, "requeue-dead", "-Q", "default", "--json").stdout)
    assert rest == {"requeued": 5, "queue": "default"}
    assert json.loads(invoke("-A", spec, "queues", "--json").stdout)[0]["ready"] == 7


def test_inspect_reads_heartbeats_and_leases(module: str, invoke: Invoke) -> None:
    spec = f"{module}:app"
    assert "no live workers" in invoke("-A", spec, "inspect").stdout
    app = app_of(module)
    now = time.time()

    async def beat() -> None:
        await app.start()
        await app.global_config.set(
            "worker:w1",
            {
                "id": "w1",
                "pid": 42,
                "queues": ["default", "slow"],
                "concurrency": 4,
                "running": ["u-1"],
                "processed": 17,
                "started_at": now - 3700,
                "seen_at": now - 2,
            },
        )
        await app.global_config.acquire_lease("timer:default", "w1", 30)

    anyio.run(beat)
    out = invoke("-A", spec, "inspect").stdout.splitlines()
    assert out[0].split() == ["WORKER", "PID", "QUEUES", "CONC", "RUNNING", "DONE", "UP", "SEEN"]
    assert out[1].split() == ["w1", "42", "default,slow", "4", "1", "17", "1h01m", "2s"]
    assert out[2].strip() == "w1 is running u-1"
    assert out[4].split() == ["LEASE", "HOLDER"] and out[5].split() == ["timer:default", "w1"]
    data = json.loads(invoke("-A", spec, "inspect", "--json").stdout)
    assert data["workers"][0]["processed"] == 17 and data["leases"] == {"timer:default": "w1"}


def test_unreachable_servers_are_one_line_with_the_password_hidden(
    write_app: WriteApp, invoke: Invoke
) -> None:
    module = write_app(
        """
        import anyio
        from qtasks.asyncio import QueueTasks
        from qtasks.memory import MemoryBroker, MemoryStorage

        class DownBroker(MemoryBroker):
            url = "redis://admin:s3cret@127.0.0.1:1/0"

            async def start(self):
                raise ConnectionError("connect to redis://admin:s3cret@127.0.0.1:1/0 refused")

        class SlowStorage(MemoryStorage):
            async def start(self):
                await anyio.sleep(30)

        down = QueueTasks("down", broker=DownBroker())
        slow = QueueTasks("slow", storage=SlowStorage())
        """
    )
    down = invoke("-A", f"{module}:down", "queues")
    assert down.exit_code == ExitCode.UNREACHABLE
    assert down.stderr.strip().splitlines()[-1] == (
        "Error: cannot reach the broker: connect to redis://admin:***@127.0.0.1:1/0 refused"
    )
    slow = invoke("--connect-timeout", "0.2", "-A", f"{module}:slow", "status", "x")
    assert slow.exit_code == ExitCode.UNREACHABLE
    assert "cannot reach the storage (SlowStorage): no answer within 0.2 s" in slow.stderr


def test_the_component_a_command_uses_is_checked_and_named_first(
    write_app: WriteApp, invoke: Invoke
) -> None:
    module = write_app(
        """
        from qtasks.asyncio import QueueTasks
        from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage

        def down(base, kind, port):
            url = "redis://admin:s3cret@127.0.0.1:%d/0" % port

            class Down(base):
                async def start(self):
                    raise ConnectionError(kind + " at " + url + " refused")

            Down.url = url
            return Down()

        app = QueueTasks(
            "all_down",
            broker=down(MemoryBroker, "broker", 1),
            storage=down(MemoryStorage, "storage", 2),
            global_config=down(MemoryGlobalConfig, "config", 3),
        )
        app.task(name="add")(lambda a, b: a + b)
        """
    )
    spec = f"{module}:app"
    expected = {
        ("add", "add", "1", "2"): "broker: broker at redis://admin:***@127.0.0.1:1/0 refused",
        ("queues",): "broker: broker at redis://admin:***@127.0.0.1:1/0",
        ("purge", "--yes"): "broker: broker at",
        ("requeue-dead",): "broker: broker at",
        ("status", "some-uuid"): "storage: storage at redis://admin:***@127.0.0.1:2/0 refused",
        ("inspect",): "global config: config at redis://admin:***@127.0.0.1:3/0 refused",
        ("run",): "broker: broker at",
    }
    for args, named in expected.items():
        result = invoke("-A", spec, *args)
        assert result.exit_code == ExitCode.UNREACHABLE, (args, result.output)
        line = result.stderr.strip().splitlines()[-1]  # after the in-memory warning
        assert line.startswith(f"Error: cannot reach the {named}"), (args, line)
        assert "s3cret" not in line


def test_a_plugin_command_may_say_what_it_needs(write_app: WriteApp, invoke: Invoke) -> None:
    from qtasks_cli import AppContext

    module = write_app(
        """
        from qtasks.asyncio import QueueTasks
        from qtasks.memory import MemoryStorage

        class DownStorage(MemoryStorage):
            async def get(self, uuid):
                raise ConnectionError("no storage today")

        app = QueueTasks("half_down", storage=DownStorage())
        """
    )

    async def nothing(app: AsyncQueueTasks) -> int:
        return 7

    context = AppContext(f"{module}:app")
    assert context.run(nothing, connect=False) == 7
    with pytest.raises(CliError, match=r"^cannot reach the storage \(DownStorage\): Connection"):
        context.run(nothing, needs=("broker",))  # then the others, as the app starts them all


def test_output_helpers(capsys: pytest.CaptureFixture[str]) -> None:
    assert render_table(("A", "LONGER"), [(None, True), ("xyz", 1.5)]).splitlines() == [
        "A    LONGER",
        "-    yes",
        "xyz  1.5",
    ]
    assert format_time(0) == "1970-01-01T00:00:00+00:00" and format_time(None) is None
    assert [format_age(t, 200000.0) for t in (199990.0, 199000.0, 190000.0, 0.0, None)] == [
        "10s",
        "16m40s",
        "2h46m",
        "2d7h",
        None,
    ]
    echo_json({"b": [1, 2]})
    assert json.loads(capsys.readouterr().out) == {"b": [1, 2]}


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("qtasks, version ")


def test_progress_bars_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from qtasks_cli import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress("moving", 4) as bar:
        bar.update(4)
    assert "moving" in screen.getvalue() and "100%" in screen.getvalue()
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    with progress("moving", 4) as bar:
        bar.update(4)
    assert plain.getvalue() == ""
