"""dovecotconf.py - the configuration of a private Dovecot on 127.0.0.1,
shared by the plugin tests (tests/dovecot.py) and the benchmarks
(scripts/bench/benchimap.py).

Its own base_dir, state_dir, instance_name and log under tmp; plain-text
logins; a static passdb and userdb serving one unprivileged user whose
home is home (Maildir in ~/Maildir); imap only, on 127.0.0.1:port.

Written in the syntax of the installed Dovecot (version(): "dovecot
--version"): 2.3's (mail_location, plugin { }) or 2.4's
(dovecot_config_version, mail_driver/mail_path, mail_plugins { }, the
plugin's settings at the top level).
"""

import os
import shutil
import subprocess

_version = None


def version():
    """The installed Dovecot's (major, minor), e.g. (2, 4); (2, 3) when
    no Dovecot is installed (the callers then skip)."""
    global _version
    if _version is None:
        _version = (2, 3)
        exe = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" +
                           os.environ.get("PATH", ""))
        if exe:
            out = subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL,
                                 universal_newlines=True).stdout
            parts = out.split(" ")[0].split("-")[0].split(".")
            if len(parts) >= 2 and parts[0].isdigit() and \
                    parts[1].isdigit():
                _version = (int(parts[0]), int(parts[1]))
    return _version


def is_24():
    return version() >= (2, 4)


def home_var():
    """The variable a setting names the user's home with."""
    return "%{home}" if is_24() else "%h"

# One template for both syntaxes; the parts that differ are in SYNTAX.
CONFIG = """\
{preamble}# private Dovecot for maildir-condstore ({purpose})
instance_name = {instance}
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
{cleartext}
auth_mechanisms = plain
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
{mail}{extra}{databases}service imap-login {{
  inet_listener imap {{
    {listener_address} = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service imap {{
{imap_service}}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
{plugin_block}"""

# What 2.3 and 2.4 write differently: the version lines, cleartext logins,
# where mail is, the one user's passdb and userdb, the listener's address.
SYNTAX = {
    (2, 3): dict(
        preamble="",
        cleartext="disable_plaintext_auth = no",
        mail="mail_location = maildir:~/Maildir\n",
        databases="""\
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}
}}
""",
        listener_address="address"),
    (2, 4): dict(
        preamble="dovecot_config_version = 2.4.0\n"
                 "dovecot_storage_version = 2.4.0\n",
        cleartext="auth_allow_cleartext = yes",
        mail="mail_driver = maildir\nmail_path = ~/Maildir\n",
        databases="""\
passdb static {{
  password = {password}
}}
userdb static {{
  fields {{
    uid = {uid}
    gid = {gid}
    home = {home}
  }}
}}
""",
        listener_address="listen"),
}


def config(purpose, instance, tmp, home, port, user, group, uid, gid,
           password, plugin_dir=None, mail_plugins="", plugin_settings=None,
           debug=False, vsz_limit=None, imap_service=""):
    """The text of dovecot.conf.  plugin_dir None: no plugin directory;
    mail_plugins: the plugins to load; plugin_settings: {name: value}
    for the plugins (plugin { } on 2.3); imap_service: lines inside
    service imap {}."""
    extra = ""
    if vsz_limit:
        extra += "default_vsz_limit = %s\n" % vsz_limit
    if plugin_dir:
        extra += "mail_plugin_dir = %s\n" % plugin_dir
    if mail_plugins and is_24():
        extra += "mail_plugins {\n%s}\n" % "".join(
            "  %s = yes\n" % name for name in mail_plugins.split())
    elif mail_plugins:
        extra += "mail_plugins = $mail_plugins %s\n" % mail_plugins
    if debug:
        extra += "mail_debug = yes\n"
    extra += 'log_timestamp = "%Y-%m-%d %H:%M:%S "\n'
    settings = "".join("%s = %s\n" % kv
                       for kv in sorted((plugin_settings or {}).items()))
    plugin_block = ""
    if settings and is_24():
        plugin_block = settings
    elif settings:
        plugin_block = "plugin {\n%s}\n" % "".join(
            "  " + line + "\n" for line in settings.splitlines())
    syntax = dict(SYNTAX[(2, 4) if is_24() else (2, 3)])
    syntax["databases"] = syntax["databases"].format(
        password=password, uid=uid, gid=gid, home=home)
    return CONFIG.format(
        purpose=purpose, instance=instance, tmp=tmp, home=home, port=port,
        user=user, group=group, uid=uid, gid=gid, extra=extra,
        imap_service=imap_service, plugin_block=plugin_block, **syntax)
