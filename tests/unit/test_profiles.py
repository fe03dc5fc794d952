"""Profiles, pure: parsing ``profile_list``, the user's ceiling, the choice from
``user_options``, the spawn page's form and the profile's quota layer. No services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from traitlets import TraitError

from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner
from jhub_kit.compat import SpawnException
from jhub_kit.quota.policy_file import parse_policy_text
from jhub_kit.quota.profiles import (
    Profile,
    ProfileError,
    ProfileRefused,
    choose,
    limits_text,
    merge_profiles,
    over_ceiling,
    parse_profiles,
    slugify,
    user_ceiling,
    visible,
)

G = 1024**3
PROFILES = [
    {"display_name": "Python", "slug": "python", "default": True, "mem_limit": "1G"},
    {"display_name": "R (2G)", "image": "r-image:1", "mem_limit": "2G", "cpu_limit": 1},
    {
        "display_name": "Project",
        "slug": "project",
        "mem_limit": "8G",
        "cpu_limit": 2,
        "allowed_groups": ["teachers"],
    },
]


def user(name: str = "ann", *groups: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])


def test_parse_keeps_kubespawner_keys_and_makes_slugs():
    ps = parse_profiles(PROFILES, where="profile_list")
    assert [p.slug for p in ps] == ["python", "r-2g", "project"]
    assert ps[0].default and not ps[1].default
    assert ps[1].image == "r-image:1"
    assert ps[1].quota == {"mem_limit": 2 * G, "cpu_limit": 1.0}
    assert ps[2].allowed_groups == ("teachers",)
    assert slugify("  Data Science (GPU)! ") == "data-science-gpu"


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"display_name": "x"}, "expected a list"),
        ("python", "expected a list"),
        (["python"], "expected a mapping"),
        ([{"slug": "a"}], "display_name is required"),
        ([{"display_name": "A", "slug": "Has Space"}], "must be lowercase"),
        ([{"display_name": "A"}, {"display_name": "a"}], "used twice"),
        (
            [{"display_name": "A", "default": True}, {"display_name": "B", "default": True}],
            "keep it on one",
        ),
        ([{"display_name": "A", "mem_limit": "lots"}], "is not a size"),
        ([{"display_name": "A", "memory": "1G"}], "unknown key 'memory'"),
        ([{"display_name": "A", "kubespawner_override": {}}], "use spawner_override"),
        ([{"display_name": "A", "profile_options": {}}], "one profile per choice"),
        ([{"display_name": "A", "allowed_groups": "teachers"}], "list of group names"),
        ([{"display_name": "A", "spawner_override": {"mem_limit": "9G"}}], "top level"),
        (
            [{"display_name": "A", "spawner_override": {"image": "x"}}],
            "image at the profile's top level",
        ),
        ([{"display_name": "A", "image": ""}], "image must be an image name"),
        ([{"display_name": "A", "default": "yes"}], "True or False"),
        ([{"display_name": "A", "pool_size": -1}], "pool_size must be a whole number"),
        ([{"display_name": "A", "pool_size": "5"}], "pool_size must be a whole number"),
    ],
)
def test_parse_errors_say_what_to_change(raw, words):
    assert parse_profiles([{"display_name": "R", "pool_size": 5}], where="p")[0].pool_size == 5
    with pytest.raises(ProfileError, match="profile_list") as e:
        parse_profiles(raw, where="profile_list")
    assert words in str(e.value)


def test_ceiling_most_generous_group_else_default():
    default = {"mem_limit": 2 * G}
    groups = {"students": {"mem_limit": 1 * G}, "teachers": {"mem_limit": 8 * G, "cpu_limit": 4.0}}
    assert user_ceiling(default, groups, []) == {"mem_limit": 2 * G}
    assert user_ceiling(default, groups, ["students"]) == {"mem_limit": 1 * G}
    assert user_ceiling(default, groups, ["students", "teachers"]) == {
        "mem_limit": 8 * G,
        "cpu_limit": 4.0,
    }


def test_choice_default_explicit_and_refusals():
    ps = parse_profiles(PROFILES, where="p")
    ceiling = {"mem_limit": 2 * G}
    assert choose([], {}, [], ceiling) is None
    assert choose(ps, {}, [], ceiling).slug == "python"
    assert choose(ps, {"profile": "r-2g"}, [], ceiling).slug == "r-2g"
    with pytest.raises(ProfileRefused, match=r"no profile 'gpu'.*python, r-2g"):
        choose(ps, {"profile": "gpu"}, [], ceiling)
    with pytest.raises(ProfileRefused, match=r"for the group.*teachers"):
        choose(ps, {"profile": "project"}, ["students"], {})
    # open to the group, but above the ceiling: a teacher with a student's ceiling
    with pytest.raises(ProfileRefused, match=r"memory 8G \(your most is 2G\)"):
        choose(ps, {"profile": "project"}, ["teachers"], ceiling)
    assert choose(ps, {"profile": "project"}, ["teachers"], {"mem_limit": 8 * G}).slug == "project"
    with pytest.raises(ProfileRefused, match="name of a profile"):
        choose(ps, {"profile": ["python"]}, [], ceiling)
    # nothing open: refused in words, never a silent fallback
    only = parse_profiles([PROFILES[2]], where="p")
    with pytest.raises(ProfileRefused, match="No server profile is open to you"):
        choose(only, {}, ["students"], {})


def test_default_falls_to_the_first_visible_when_the_default_is_hidden():
    ps = parse_profiles(
        [{"display_name": "Big", "default": True, "mem_limit": "8G"}, {"display_name": "Small"}],
        where="p",
    )
    assert choose(ps, None, [], {"mem_limit": 2 * G}).slug == "small"


def test_unlimited_is_above_any_ceiling():
    p = parse_profiles([{"display_name": "U", "mem_limit": "unlimited"}], where="p")[0]
    assert over_ceiling(p, {"mem_limit": 8 * G}) == ["memory unlimited (your most is 8G)"]
    assert over_ceiling(p, {"cpu_limit": 1.0}) == []
    assert visible([p], [], {"mem_limit": 8 * G}) == []


def test_limits_text():
    assert limits_text({"mem_limit": 2 * G, "cpu_limit": 1.0, "disk_limit": 5 * G}) == (
        "memory 2G, 1 CPU, disk 5G"
    )
    assert limits_text({"cpu_limit": 2.5}) == "2.5 CPUs"
    assert limits_text({}) == ""


def test_merge_file_over_config_by_slug():
    base = parse_profiles(PROFILES, where="p")
    overlay = parse_profiles(
        [
            {"display_name": "R", "slug": "r-2g", "mem_limit": "3G"},
            {"display_name": "New", "default": True},
        ],
        where="f",
    )
    merged = merge_profiles(base, overlay)
    assert [p.slug for p in merged] == ["python", "r-2g", "project", "new"]
    assert merged[1].quota == {"mem_limit": 3 * G}
    assert [p.slug for p in merged if p.default] == ["new"]  # the file's default wins


def test_policy_file_profiles_toml_and_yaml():
    toml = """
[defaults]
mem_limit = "1G"

[[profiles]]
display_name = "Python"
mem_limit = "1G"

[[profiles]]
display_name = "GPU"
slug = "gpu"
allowed_groups = ["gpu"]
node_labels = { gpu = "yes" }
"""
    policy = parse_policy_text(toml, path="q.toml", fmt="toml")
    assert [p.slug for p in policy.profiles] == ["python", "gpu"]
    assert policy.profiles[1].quota == {"node_labels": (("gpu", "yes"),)}
    yaml = "profiles:\n  - display_name: R\n    image: r:1\n"
    assert parse_policy_text(yaml, path="q.yaml", fmt="yaml").profiles[0].image == "r:1"
    assert parse_policy_text("[defaults]\n", path="q.toml", fmt="toml").profiles is None
    with pytest.raises(ProfileError, match=r"q.toml profiles\[0\].*display_name"):
        parse_policy_text("[[profiles]]\nslug = 'x'\n", path="q.toml", fmt="toml")


# -- on the spawner ------------------------------------------------------------------


def spawner(cls=QuotaDockerSpawner, who=None, **kw):
    kw.setdefault("profile_list", PROFILES)
    return cls(user=who or user(), **kw)


def test_trait_refuses_a_bad_list_and_unknown_override():
    with pytest.raises(TraitError, match="display_name is required"):
        QuotaDockerSpawner(profile_list=[{"slug": "x"}])
    with pytest.raises(TraitError, match="spawner_override names no_such_trait"):
        QuotaDockerSpawner(
            profile_list=[{"display_name": "A", "spawner_override": {"no_such_trait": 1}}]
        )
    with pytest.raises(TraitError, match=r"quota_ceiling_groups\['students'\]"):
        QuotaDockerSpawner(quota_ceiling_groups={"students": {"mem_limit": "much"}})


async def test_form_lists_only_the_users_profiles_with_limits_and_escapes():
    hostile = [
        *PROFILES,
        {"display_name": "<script>x</script>", "slug": "evil", "description": '"><img src=x>'},
    ]
    s = QuotaDockerSpawner(user=user("ann", "students"), profile_list=hostile)
    form = await s.options_form(s)
    assert 'value="python" checked' in form
    assert "memory 1G" in form and "memory 2G, 1 CPU" in form
    assert "project" not in form  # teachers only
    assert "<script>" not in form and "&lt;script&gt;" in form
    assert "<img" not in form
    teacher = QuotaDockerSpawner(user=user("tom", "teachers"), profile_list=PROFILES)
    assert 'data-profile="project"' in await teacher.options_form(teacher)
    assert s.options_from_form({"profile": ["r-2g"]}) == {"profile": "r-2g"}


def test_no_profiles_keeps_dockerspawners_form():
    s = QuotaDockerSpawner(user=user(), allowed_images={"a": "img:a", "b": "img:b"})
    assert 'name="image"' in s.options_form
    assert s.options_from_form({"image": ["b"]}) == {"image": "b"}
    assert QuotaDockerSpawner(user=user()).options_form == ""


async def test_apply_sets_image_overrides_and_undoes_them_next_time():
    s = spawner(
        profile_list=[
            *PROFILES,
            {"display_name": "Lab", "slug": "lab", "spawner_override": {"cmd": ["lab"]}},
        ]
    )
    s.image = "base:1"
    s.user_options = {"profile": "r-2g"}
    await s.apply_profile()
    assert s.image == "r-image:1" and s.profile.slug == "r-2g"
    assert s.profile_layer() == {"mem_limit": 2 * G, "cpu_limit": 1.0}
    quota = await s.resolve_quota()
    assert quota.mem_limit == 2 * G and quota.cpu_limit == 1.0
    s.user_options = {"profile": "lab"}
    await s.apply_profile()
    assert s.image == "base:1" and s.cmd == ["lab"]
    s.user_options = {}
    await s.apply_profile()
    assert s.cmd == QuotaDockerSpawner().cmd  # the Lab profile's cmd is undone
    assert s.profile.slug == "python"


async def test_apply_refuses_with_400_in_words():
    s = spawner(quota_ceiling={"mem_limit": "2G"})
    for options, words in (
        ({"profile": "nope"}, "There is no profile 'nope'"),
        ({"profile": "project"}, "for the group(s) teachers"),
        ({"image": "other"}, "profiles, not images"),
    ):
        s.user_options = options
        with pytest.raises(SpawnException) as e:
            await s.apply_profile()
        assert e.value.status_code == 400
        assert words in str(getattr(e.value, "message", e.value))
    teacher = spawner(who=user("tom", "teachers"), quota_ceiling={"mem_limit": "2G"})
    teacher.user_options = {"profile": "project"}
    with pytest.raises(SpawnException, match="more than your groups allow"):
        await teacher.apply_profile()
    teacher.quota_ceiling_groups = {"teachers": {"mem_limit": "8G"}}
    await teacher.apply_profile()
    assert (await teacher.resolve_quota()).mem_limit == 8 * G


async def test_profile_layer_is_above_users_and_below_lowering_options():
    s = spawner(quota_users={"ann": {"mem_limit": "4G"}})
    s.user_options = {"profile": "python"}
    await s.apply_profile()
    assert (await s.resolve_quota()).mem_limit == 1 * G
    s.user_options = {"profile": "r-2g", "mem_limit": "512M"}
    await s.apply_profile()
    assert (await s.resolve_quota()).mem_limit == 512 * 1024**2


async def test_swarm_spawner_has_profiles_too():
    s = spawner(QuotaSwarmSpawner)
    s.user_options = {"profile": "r-2g"}
    await s.apply_profile()
    assert s.image == "r-image:1"


def test_state_keeps_the_running_servers_profile():
    s = spawner()
    s.profile_label = {"slug": "r-2g", "name": "R (2G)"}
    s.object_id = "abc"
    s.server_started()
    from jhub_kit.quota.policy import Quota

    s.quota = Quota(mem_limit=2 * G)
    state = s.get_state()
    assert state["jhub_kit"]["profile"] == {"slug": "r-2g", "name": "R (2G)"}
    t = spawner()
    t.load_state(state)
    assert t.profile_label == {"slug": "r-2g", "name": "R (2G)"}


def test_profile_dataclass_is_plain_data():
    p = Profile(slug="a", display_name="A")
    assert p.open_to([]) and p.limits_text() == ""


async def test_a_dict_override_is_merged_over_the_configured_one():
    s = spawner(
        environment={"COURSE": "intro", "LANG": "C.UTF-8"},
        profile_list=[
            {"display_name": "Big", "spawner_override": {"environment": {"COURSE": "big"}}},
        ],
    )
    await s.apply_profile()
    assert s.environment == {"COURSE": "big", "LANG": "C.UTF-8"}
    s.profile_list = [{"display_name": "Plain"}]
    await s.apply_profile()
    assert s.environment == {"COURSE": "intro", "LANG": "C.UTF-8"}  # undone


async def test_policy_file_without_profiles_keeps_the_page_formless(tmp_path):
    policy = tmp_path / "quotas.toml"
    policy.write_text('[groups.gpu]\nmem_limit = "1G"\n')
    s = QuotaDockerSpawner(user=user(), quota_policy_file=str(policy))
    assert callable(s.options_form)  # the file may gain profiles while the hub runs
    assert await s.get_options_form() == ""  # JupyterHub then spawns without a page
    imgs = QuotaDockerSpawner(
        user=user(), quota_policy_file=str(policy), allowed_images={"a": "i:a", "b": "i:b"}
    )
    assert 'name="image"' in await imgs.get_options_form()  # DockerSpawner's form
    policy.write_text('[[profiles]]\ndisplay_name = "R"\n')
    assert 'data-profile="r"' in await s.get_options_form()


async def test_group_overrides_of_this_start_survive_the_last_profile():
    """JupyterHub clears the state, applies group overrides and apply_user_options,
    then runs the pre-spawn hook: the last profile is undone at clear_state, not
    after this start's own overrides."""
    s = spawner(
        environment={"A": "1"},
        profile_list=[{"display_name": "P", "spawner_override": {"environment": {"B": "p"}}}],
    )
    await s.apply_profile()
    assert s.environment == {"A": "1", "B": "p"}
    s.clear_state()  # user.spawn: a new start
    assert s.environment == {"A": "1"}
    s.environment = {**s.environment, "LEVEL": "2"}  # this start's apply_user_options
    await s.run_pre_spawn_hook()
    assert s.environment == {"A": "1", "LEVEL": "2", "B": "p"}


async def test_a_bad_override_value_is_undone_whole():
    s = spawner(
        profile_list=[
            {"display_name": "Bad", "spawner_override": {"cmd": ["lab"], "port": "not a port"}}
        ]
    )
    before = s.cmd
    with pytest.raises(SpawnException) as e:
        await s.apply_profile()
    assert e.value.status_code == 500 and s.cmd == before


async def test_the_profile_option_is_not_warned_of_as_unhandled(caplog):
    """JupyterHub warns of user_options no hook applies; the kit applies ``profile``
    (and DockerSpawner ``image``), so only other keys are warned of."""
    s = spawner(profile_list=PROFILES)
    with caplog.at_level("WARNING"):
        await s._run_apply_user_options({"profile": "python", "image": "x"})
    assert "unhandled" not in caplog.text
    await s._run_apply_user_options({"profile": "python", "gpu": "yes"})
    assert "Received unhandled user_options" in caplog.text and ": gpu" in caplog.text


@pytest.mark.parametrize("cls", [QuotaDockerSpawner, QuotaSwarmSpawner])
async def test_quota_keys_are_not_warned_of_as_unhandled(caplog, cls):
    """Issue 37: ``mem_limit`` in user_options was logged as unhandled, though the kit
    bounds and applies it; so is every quota key (and the budget keys it refuses)."""
    from jhub_kit.quota.user_options import KIT_KEYS

    s = spawner(cls)
    asked = dict.fromkeys(KIT_KEYS, "1")
    assert {"mem_limit", "cpu_limit", "mem_guarantee", "max_servers"} <= set(asked)
    with caplog.at_level("WARNING"):
        await s._run_apply_user_options({**asked, "profile": "python"})
    assert "unhandled" not in caplog.text
    await s._run_apply_user_options({"mem_limit": "1G", "node_labels": {}})
    assert "Received unhandled user_options" in caplog.text
    assert caplog.text.rstrip().endswith(": node_labels")


def test_a_profiles_own_pool_size_turns_the_pool_on(tmp_path):
    """Issue 37: a profile's ``pool_size`` alone (no top-level pool_size or schedule)
    started no pool. It does, from ``profile_list`` or the policy file's profiles."""
    plain = [{"display_name": "Python", "slug": "python"}]
    assert not QuotaDockerSpawner(profile_list=plain).pool_on
    pooled = [*plain, {"display_name": "R", "slug": "r", "pool_size": 1}]
    assert QuotaDockerSpawner(profile_list=pooled).pool_on
    policy = tmp_path / "quotas.toml"
    policy.write_text('[[profiles]]\ndisplay_name = "R"\nslug = "r"\npool_size = 2\n')
    s = QuotaDockerSpawner(profile_list=plain, quota_policy_file=str(policy))
    s.profiles(s.policy_file().load())  # the hub's start reads the file (wake_pool)
    assert s.pool_on
