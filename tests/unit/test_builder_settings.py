"""Settings for an app Serve builds from its config file (KubeRay's `app_builder`): the app sits
behind Serve's proxy, which on a cluster listens for other machines, so it counts as public
unless told otherwise, and auth off there needs `insecure_no_auth` in so many words."""

from __future__ import annotations

import pytest

from localvision.auth import auth_enabled
from localvision.errors import InvalidArgument
from localvision.scale import builder_settings
from localvision.server.service.startup import check_auth

pytestmark = pytest.mark.unit


def test_an_app_built_from_serves_config_is_public_and_auto_auth_is_on():
    settings, insecure = builder_settings({"model": "efficientnet_lite0"}, environ={})
    assert settings.host == "0.0.0.0" and not insecure
    assert auth_enabled(settings.auth, settings.host)


@pytest.mark.parametrize(
    "args, environ",
    [({"host": "127.0.0.1"}, {}), ({}, {"LOCALVISION_HOST": "127.0.0.1"})],
    ids=["in_args", "in_the_environment"],
)
def test_a_host_given_is_kept(args, environ, monkeypatch):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings, _ = builder_settings(args, environ=environ)
    assert settings.host == "127.0.0.1"


def test_auth_off_on_the_cluster_needs_insecure_no_auth_in_so_many_words():
    quiet, insecure = builder_settings({"auth": "off"}, environ={})
    assert not insecure
    with pytest.raises(InvalidArgument, match="without auth"):
        check_auth(quiet, insecure)
    said, insecure = builder_settings({"auth": "off", "insecure_no_auth": True}, environ={})
    assert insecure
    check_auth(said, insecure)  # allowed, and said loudly in the log
