"""The invalidation outbox in one process: a write records what its settle bumps in its own transaction, the writer
deletes it once settled, a failed write settles at once, and the relay applies what a writer left.

Across processes (a writer that exits or is killed, a relay in another server): test_outbox_processes.py.
"""

import inspect
import io
import os
import sys
import threading
import time
from contextlib import suppress
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DataError, IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Bank, User
from core.cache import CacheManager, invalidate_user_cache, outbox, relay, stats
from core.cache.invalidation import UPDATE_ROWS_KNOWN, TrackedModel
from core.cache.keys import MANUAL_CLOCK, stats_key
from core.cache.relay import Relay
from core.cache.shutdown import flush_owed
from core.cache.store import get_store, reset_store
from core.factories import BankFactory, ErrandFactory, UserFactory
from core.models import CacheOutbox
from errands.models import Errand
from tests.fixtures.cache import guarded_fill_stores, store_backend, until

pytestmark = pytest.mark.django_db(transaction=True)

ERRAND = "errands.errand"


def entry(key: str, value: str = "cached") -> str:
    """An unguarded entry under `key`, stored now and served."""
    store = get_store()
    assert store.store(store.lookup(key).ticket, value, 60)
    assert store.lookup(key).hit
    return key


def served(key: str) -> bool:
    return get_store().lookup(key).hit


# --- the writer's own path ----------------------------------------------------------------------------------------


def test_a_write_records_its_row_in_its_own_transaction_and_deletes_it_once_settled(cache_backend):
    # given
    errand = ErrandFactory(title="before")
    # when
    with transaction.atomic():
        errand.title = "after"
        errand.save()
        # then: the row is in the write's transaction, with what the settle bumps
        rows = list(CacheOutbox.objects.values_list("families", "clocks"))
        assert rows == [
            (
                [
                    f"@{ERRAND}:{errand.pk}",
                    f"queryset:{ERRAND}",
                    f"errand:{errand.pk}",
                    "errand_list",
                    f"user_errands:{errand.created_by_id}",
                ],
                [ERRAND],
            )
        ]
    # and after the commit the writer has settled it and deleted the row
    assert CacheOutbox.objects.count() == 0
    assert guarded_fill_stores()


def _save():
    errand = ErrandFactory()
    errand.title = "saved"
    errand.save()


def _save_in_a_transaction():
    errand = ErrandFactory()
    with transaction.atomic():
        errand.title = "saved"
        errand.save()


def _create_with_a_profile():
    UserFactory()  # its profile is created by a post_save receiver, inside the user's transaction


def _update():
    ErrandFactory()
    Errand.objects.update(title="updated")


def _bulk_create():
    creator = UserFactory()
    Errand.objects.bulk_create([ErrandFactory.build(created_by=creator) for _ in range(3)])


def _bulk_update():
    errands = [ErrandFactory() for _ in range(2)]
    for errand in errands:
        errand.title = "bulk"
    Errand.objects.bulk_update(errands, ["title"])


def _delete():
    BankFactory().delete()


def _queryset_delete():
    BankFactory()
    Bank.objects.all().delete()


def _manual_invalidation_in_a_transaction():
    with transaction.atomic():
        CacheManager.invalidate("errand_list:*")
        invalidate_user_cache(5)


@pytest.mark.parametrize(
    "write",
    [
        _save,
        _save_in_a_transaction,
        _create_with_a_profile,
        _update,
        _bulk_create,
        _bulk_update,
        _delete,
        _queryset_delete,
        _manual_invalidation_in_a_transaction,
    ],
)
def test_the_outbox_is_empty_after_normal_writes_and_no_mark_is_left(cache_backend, write):
    write()

    assert CacheOutbox.objects.count() == 0
    assert all(guarded_fill_stores(label) for label in (ERRAND, "accounts.bank", "accounts.user", MANUAL_CLOCK))


@pytest.mark.parametrize("rows", [1, UPDATE_ROWS_KNOWN + 1], ids=["rows known", "more rows than UPDATE_ROWS_KNOWN"])
def test_a_queryset_update_records_its_row_in_its_own_transaction(cache_backend, rows):
    ErrandFactory.create_batch(rows)

    with transaction.atomic():
        Errand.objects.update(title="updated")
        assert CacheOutbox.objects.count() == 1

    assert CacheOutbox.objects.count() == 0


def test_an_update_of_a_sliced_queryset_is_refused_as_django_refuses_it(cache_backend):
    ErrandFactory(title="before")

    with pytest.raises(TypeError, match="slice"):
        Errand.objects.all()[:1].update(title="after")

    assert Errand.objects.get().title == "before"


def test_one_save_costs_an_insert_and_a_delete_of_its_outbox_row(cache_backend):
    # given
    errand = ErrandFactory()
    errand.title = "measured"
    # when
    with CaptureQueriesContext(connection) as queries:
        errand.save()
    # then: the UPDATE, then its row, in one transaction (BEGIN/COMMIT as the database logs them), then the delete
    statements = [q["sql"].split(" (")[0].split(" SET ")[0].split(" WHERE ")[0] for q in queries.captured_queries]
    statements = [s for s in statements if s not in ("BEGIN", "COMMIT")]
    assert statements == [
        'UPDATE "errands_errand"',
        'INSERT INTO "core_cacheoutbox"',
        'DELETE FROM "core_cacheoutbox"',
    ]


def test_a_lone_save_commits_with_its_outbox_row_or_not_at_all(cache_backend, monkeypatch):
    # given: an outbox that refuses the row
    errand = ErrandFactory(title="before")

    def refuse(**kwargs):
        raise IntegrityError("no room in the outbox")

    monkeypatch.setattr(outbox, "record", refuse)
    # when: a save outside any transaction (Django would autocommit its UPDATE alone)
    errand.title = "after"
    with pytest.raises(IntegrityError):
        errand.save()
    # then: the write went with its row
    assert Errand.objects.get(pk=errand.pk).title == "before"
    assert guarded_fill_stores()


def test_tracked_model_wraps_save_base_with_djangos_own_signature():
    # save_base is wrapped, not rewritten: the wrapper must pass on every argument Django's has
    assert inspect.signature(TrackedModel.save_base) == inspect.signature(models.Model.save_base)


# --- failed writes release their marks at once --------------------------------------------------------------------


def _rolled_back_transaction():
    errand = ErrandFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        errand.title = "never"
        errand.save()
        raise RuntimeError("rolled back")


def _failed_save_in_autocommit():
    existing = BankFactory(country="NG", code="044")
    with pytest.raises(IntegrityError):
        Bank(name="Twin", country="NG", code=existing.code).save()


def _protected_delete_in_autocommit():
    creator = ErrandFactory().created_by
    with pytest.raises(ProtectedError):
        User.objects.filter(pk=creator.pk).delete()


def _failed_bulk_write_in_a_transaction():
    errand = ErrandFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Errand.objects.filter(pk=errand.pk).update(created_by_id=10**9)  # no such user
        connection.check_constraints()


def _rolled_back_manual_invalidation():
    with pytest.raises(RuntimeError), transaction.atomic():
        CacheManager.invalidate("errand_list:*")
        raise RuntimeError("rolled back")


@pytest.mark.parametrize(
    ("write", "label"),
    [
        (_rolled_back_transaction, ERRAND),
        (_failed_save_in_autocommit, "accounts.bank"),
        (_protected_delete_in_autocommit, "accounts.user"),
        (_failed_bulk_write_in_a_transaction, ERRAND),
        (_rolled_back_manual_invalidation, MANUAL_CLOCK),
    ],
)
def test_a_failed_write_leaves_no_row_and_lifts_its_mark_at_once(cache_backend, write, label):
    # when
    write()
    # then: guarded fills of that model are stored again at once, not after CACHE_WRITE_PENDING_TTL
    assert CacheOutbox.objects.count() == 0
    assert guarded_fill_stores(label)


def test_a_write_rolled_back_to_its_savepoint_lifts_its_mark_before_the_transaction_ends(cache_backend):
    errand = ErrandFactory()
    with transaction.atomic():
        with suppress(RuntimeError), transaction.atomic():
            errand.title = "never"
            errand.save()
            assert not guarded_fill_stores()  # pending while it may still commit
            raise RuntimeError("rolled back to the savepoint")
        # then: the savepoint's rollback dropped the write: its mark is lifted while the transaction goes on
        assert guarded_fill_stores()
        assert CacheOutbox.objects.count() == 0


@pytest.mark.postgres_only
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason=f"PostgreSQL refuses NUL bytes in text; the database is {connection.vendor}, which stores them",
)
def test_a_nul_byte_refused_by_postgresql_lifts_the_mark_at_once(cache_backend):
    errand = ErrandFactory()
    errand.title = "nul\x00byte"
    with pytest.raises(DataError, match="NUL"):
        errand.save()
    assert guarded_fill_stores()
    assert CacheOutbox.objects.count() == 0


# --- the relay ------------------------------------------------------------------------------------------------------


def _left_by_a_dead_writer(errand: Errand) -> None:
    """What a writer killed right after its commit leaves: its mark, and its committed outbox row."""
    label = ERRAND
    families = [f"@{label}:{errand.pk}", f"errand:{errand.pk}"]
    with transaction.atomic():
        write_id = get_store().begin_write(families=families, clocks=[label])
        outbox.record(using="default", write_id=write_id, families=families, clocks=[label])


def _exit(store) -> None:
    """The process that owns `store` ends: its background retry stops, and the next store is another process's."""
    reset_store()
    outbox.forget_owed()
    if store._retry_thread is not None:
        store._retry_thread.join(10)


def test_the_relay_applies_a_row_a_settle_could_not(restartable_redis):
    # given: a write whose settle Redis did not take (stopped between the begin and the commit)
    errand = ErrandFactory(title="before")
    with transaction.atomic():
        errand.title = "after"
        errand.save()
        restartable_redis.stop()
    assert CacheOutbox.objects.count() == 1
    _exit(get_store())  # the writer's process ends before Redis is back: what it owed goes with it
    restartable_redis.start()  # with what it saved: the write's pending mark too
    assert not guarded_fill_stores()  # the mark holds off fills (until CACHE_WRITE_PENDING_TTL, untouched)
    # when
    applied, again = Relay().run_once(grace=0)
    # then
    assert (applied, again) == (1, False)
    assert CacheOutbox.objects.count() == 0
    assert guarded_fill_stores()


def test_the_relay_leaves_a_young_row_to_its_writer(cache_backend):
    errand = ErrandFactory()
    _left_by_a_dead_writer(errand)

    assert Relay(interval=3600).run_once() == (0, False)
    assert CacheOutbox.objects.count() == 1
    assert Relay(interval=3600).run_once(grace=0) == (1, False)


def test_the_relay_keeps_rows_while_the_backend_does_not_answer(restartable_redis):
    errand = ErrandFactory()
    _left_by_a_dead_writer(errand)
    restartable_redis.stop()

    assert Relay().run_once(grace=0) == (0, True)
    assert CacheOutbox.objects.count() == 1


def test_the_relay_thread_wakes_for_a_row_committed_after_it_went_idle(cache_backend, settings):
    # given: a relay that has looked once and found nothing (PostgreSQL: it now waits for a NOTIFY, and would not
    # look again for a minute without one; SQLite: it polls every interval)
    errand = ErrandFactory()
    worker = Relay(interval=0.05)
    worker.start()
    try:
        assert until(lambda: worker.passes >= 1, limit=10)
        # when: a writer dies right after its commit
        _left_by_a_dead_writer(errand)
        # then
        assert until(lambda: CacheOutbox.objects.count() == 0, limit=10)
        assert guarded_fill_stores()
    finally:
        worker.stop()


def _relay_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "cache-outbox-relay"]


def test_a_relay_stopped_ends_its_thread_and_started_again_applies_rows_again(cache_backend):
    errand = ErrandFactory()
    worker = Relay(interval=0.05)
    try:
        # given: a relay started twice runs one thread, a daemon (a process exits without waiting for it)
        worker.start()
        worker.start()
        assert until(lambda: worker.passes >= 1, limit=10)
        assert len(_relay_threads()) == 1
        assert _relay_threads()[0].daemon
        # when: it is stopped
        worker.stop()
        # then: its thread has ended when stop() returns
        assert not worker.running
        assert _relay_threads() == []
        # when: a writer leaves a row, and the relay is started again, it applies what is due
        _left_by_a_dead_writer(errand)
        worker.start()
        assert until(lambda: CacheOutbox.objects.count() == 0, limit=10)
    finally:
        worker.stop()
    assert _relay_threads() == []


def test_a_relay_applies_a_row_it_could_not_within_intervals_of_redis_answering_again(restartable_redis):
    # given: a row a dead writer left, and a relay running while Redis does not answer
    _left_by_a_dead_writer(ErrandFactory())
    restartable_redis.stop()
    worker = Relay(interval=0.05)
    try:
        worker.start()
        assert until(lambda: worker.passes >= 2, limit=10)

        # when
        restartable_redis.start()

        # then: it looks again an interval after a pass the backend failed (on PostgreSQL it must not wait for a
        # notification instead: no writer will send one for this row), well within the minute of its idle check
        assert until(lambda: CacheOutbox.objects.count() == 0, limit=10)
    finally:
        worker.stop()


def test_rows_older_than_the_pending_ttl_are_applied_in_one_bump(cache_backend, settings, redis_round_trips):
    # given: rows whose marks have expired, and one with nothing to apply
    settings.CACHE_WRITE_PENDING_TTL = 60
    old = timezone.now() - timedelta(seconds=120)
    for pk in range(5):
        CacheOutbox.objects.create(created_at=old, families=[f"errand:{pk}", "errand_list"], clocks=[ERRAND])
    CacheOutbox.objects.create(created_at=old)
    key = entry("errand:3:title")
    get_store().bump(families=["warm-up"])  # the write script is loaded: one round trip from now on
    redis_round_trips.reset()
    # when
    applied, _ = Relay().run_once()
    trips = redis_round_trips.count
    # then
    assert applied == 6
    assert CacheOutbox.objects.count() == 0
    assert not served(key)
    if cache_backend == "redis":
        assert trips == 1


def test_a_backlog_naming_more_families_than_an_entry_may_list_bumps_the_epoch(cache_backend, settings):
    settings.CACHE_MAX_ENTRY_DEPENDENCIES = 3
    old = timezone.now() - timedelta(seconds=settings.CACHE_WRITE_PENDING_TTL + 60)
    for pk in range(4):
        CacheOutbox.objects.create(created_at=old, families=[f"errand:{pk}"], clocks=[ERRAND])
    key = entry("banks_list:NG")  # named by no row

    Relay().run_once()

    assert CacheOutbox.objects.count() == 0
    assert not served(key)  # the epoch moved


def test_a_write_in_manual_transaction_mode_is_settled_by_the_relay(cache_backend):
    # given: manual transaction management has no commit hook, so the writer cannot settle after the commit
    errand = ErrandFactory()
    transaction.set_autocommit(False)
    try:
        errand.title = "manual"
        errand.save()
        transaction.commit()
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)
    assert CacheOutbox.objects.count() == 1
    # when
    Relay().run_once(grace=0)
    # then
    assert CacheOutbox.objects.count() == 0
    assert guarded_fill_stores()


def test_cache_relay_once_applies_the_outbox_by_hand(cache_backend):
    _left_by_a_dead_writer(ErrandFactory())
    out = io.StringIO()

    call_command("cache_relay", "--once", stdout=out)

    assert out.getvalue() == f"Applied 1 outbox row ({store_backend(cache_backend)}); 0 left.\n"
    assert guarded_fill_stores()


def test_cache_relay_once_fails_while_the_backend_does_not_answer(restartable_redis):
    _left_by_a_dead_writer(ErrandFactory())
    restartable_redis.stop()
    out = io.StringIO()

    with pytest.raises(CommandError, match="did not answer"):
        call_command("cache_relay", "--once", stdout=out)

    assert out.getvalue() == "Applied 0 outbox rows (redis); 1 left.\n"


# --- where the relay runs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "modules", "expected"),
    [
        (["manage.py", "runserver", "--noreload"], {}, [], True),
        (["manage.py", "runserver"], {"RUN_MAIN": "true"}, [], True),  # the autoreloader's child serves
        (["manage.py", "runserver"], {}, [], False),  # the autoreloader's parent only watches files
        (["gunicorn", "runam.wsgi:application"], {}, ["runam.wsgi"], True),
        (["manage.py", "migrate"], {}, [], False),
        (["manage.py", "shell"], {}, [], False),
        (["pytest"], {}, [], False),
    ],
)
def test_the_relay_runs_in_server_processes_only(monkeypatch, argv, environ, modules, expected):
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("RUN_MAIN", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name in ("runam.wsgi", "runam.asgi"):
        if name in modules:
            monkeypatch.setitem(sys.modules, name, sys.modules.get(name) or object())
        else:
            monkeypatch.delitem(sys.modules, name, raising=False)

    assert relay.serving() is expected


def test_an_asgi_server_runs_the_relay(monkeypatch, settings):
    settings.ASGI_APPLICATION = "runam.asgi.application"
    monkeypatch.setattr(sys, "argv", ["uvicorn", "runam.asgi:application"])
    monkeypatch.delitem(sys.modules, "runam.wsgi", raising=False)
    monkeypatch.setitem(sys.modules, "runam.asgi", sys.modules.get("runam.asgi") or object())

    assert relay.serving()


def test_a_server_starts_its_relay_once_and_relay_stop_ends_it(monkeypatch, settings):
    settings.CACHE_OUTBOX_RELAY = True
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver", "--noreload"])
    try:
        started = relay.start_in_server()
        assert started is not None and started.running
        assert relay.start_in_server() is started  # idempotent: one relay per process
        assert len(_relay_threads()) == 1
    finally:
        relay.stop()  # at exit: it does not wait for the thread, which ends on its own
    assert until(lambda: not started.running, limit=10)


def _child_runs_a_relay() -> bool:
    """Fork; whether the child process runs a relay thread (as a gunicorn worker forked after the app loaded). The
    child's relay, if any, is started by the fork hook before os.fork() returns there."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _relay_threads() else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_a_process_forked_from_one_running_its_relay_runs_its_own_and_one_that_stopped_it_does_not(
    monkeypatch, settings
):
    # given: a server process that loaded the app (and started its relay) before forking its workers
    settings.CACHE_OUTBOX_RELAY = True
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver", "--noreload"])
    started = relay.start_in_server()
    try:
        # then: a worker forked now runs a relay of its own
        assert _child_runs_a_relay()
    finally:
        relay.stop()
    assert until(lambda: not started.running, limit=10)

    # and one forked after the relay was stopped does not start it again
    assert not _child_runs_a_relay()


def test_cache_outbox_relay_false_keeps_it_off_even_in_a_server(monkeypatch, settings):
    settings.CACHE_OUTBOX_RELAY = False
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver", "--noreload"])

    assert relay.start_in_server() is None


# --- at exit ------------------------------------------------------------------------------------------------------


def _write_whose_settle_fails(restartable_redis) -> None:
    errand = ErrandFactory(title="before")
    with transaction.atomic():
        errand.title = "after"
        errand.save()
        restartable_redis.stop()


def test_at_exit_a_process_applies_what_it_owes_once_redis_answers(restartable_redis, settings):
    # given: a write whose settle failed, and counts this process has not flushed
    settings.CACHE_EXIT_FLUSH_TIMEOUT = 30  # a bound, not a wait: flush_owed returns once everything is taken
    _write_whose_settle_fails(restartable_redis)
    stats.record("errand", "hit")
    assert get_store().owes and CacheOutbox.objects.count() == 1
    # when: Redis is back as the process exits
    restartable_redis.start()
    flushed = flush_owed()
    # then
    assert flushed is True
    assert CacheOutbox.objects.count() == 0
    assert not get_store().owes
    assert guarded_fill_stores()
    counts = restartable_redis.client().hgetall(stats_key())
    assert counts[b"errand|hit"] == b"1"
    assert int(counts[b"_backend|write_error"]) >= 1


def test_at_exit_a_process_waits_no_longer_than_the_bound_and_leaves_its_rows_to_the_relay(restartable_redis):
    _write_whose_settle_fails(restartable_redis)

    assert flush_owed(timeout=0.2) is False

    assert CacheOutbox.objects.count() == 1
    assert outbox.owed_rows()


def test_at_exit_an_invalidation_lost_outside_any_write_is_applied_before_the_process_ends(restartable_redis, settings):
    # given: an entry, and a manual invalidation lost while Redis was unreachable (no outbox row: no model was written)
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600  # the background retry sleeps: only the exit flush can pay the debt
    CacheManager.set("user:42:profile", "before the outage")
    admin = restartable_redis.partition()
    CacheManager.invalidate("user:42")
    assert get_store().owes and not outbox.owed_rows()

    # when: Redis answers again as the process exits
    admin.config_set("requirepass", "")
    flushed = flush_owed(timeout=30)

    # then: nothing is owed, and another process, which never saw the outage, does not serve the entry
    assert flushed is True
    assert not get_store().owes
    reset_store()
    assert CacheManager.get("user:42:profile", default="miss") == "miss"


def test_at_exit_a_debt_redis_takes_only_at_a_later_attempt_is_paid(restartable_redis, settings, monkeypatch):
    # given: an invalidation lost in an outage, and Redis that answers again only once the first attempt has failed
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600
    CacheManager.set("user:42:profile", "before the outage")
    admin = restartable_redis.partition()
    CacheManager.invalidate("user:42")
    store, attempts = get_store(), []
    recover = store.recover

    def recover_then_heal() -> bool:
        attempts.append(recover())
        admin.config_set("requirepass", "")
        return attempts[-1]

    monkeypatch.setattr(store, "recover", recover_then_heal)

    # when
    flushed = flush_owed(timeout=30)

    # then: it tried again, and paid
    assert attempts[0] is False and attempts[-1] is True
    assert flushed is True and not store.owes


def test_at_exit_a_debt_redis_never_takes_is_reported_once_the_given_bound_has_passed(restartable_redis, settings):
    # given: an invalidation lost in an outage that lasts, and no counts left to flush
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600
    settings.CACHE_EXIT_FLUSH_TIMEOUT = 600  # the setting; the call below gives its own bound
    CacheManager.set("user:42:profile", "before the outage")
    restartable_redis.partition()
    CacheManager.invalidate("user:42")
    stats.reset(shared=False)
    started = time.monotonic()

    flushed = flush_owed(timeout=0.2)

    assert flushed is False
    assert get_store().owes
    assert time.monotonic() - started < 60  # the bound given, not the setting's ten minutes
