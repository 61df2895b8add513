from django.core.management import call_command


def test_deploy_check_warns_when_workers_would_not_share_the_cache(settings, capsys):
    # given
    settings.REDIS_URL = ""
    settings.CACHE_ENABLED = True
    # when
    call_command("check", "--deploy", "--fail-level", "CRITICAL")
    # then
    assert "runam.W001" in capsys.readouterr().err


def test_deploy_check_is_quiet_with_redis(settings, capsys):
    # given
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    # when
    call_command("check", "--deploy", "--fail-level", "CRITICAL")
    # then
    assert "runam.W001" not in capsys.readouterr().err
